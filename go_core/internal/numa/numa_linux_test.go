//go:build linux && (amd64 || arm64)

package numa

import (
	"os"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

func TestSyscallNumbers(t *testing.T) {
	for _, c := range []struct {
		name      string
		ours, std int
	}{
		{"mbind", sysMbind, syscall.SYS_MBIND},
		{"set_mempolicy", sysSetMempolicy, syscall.SYS_SET_MEMPOLICY},
		{"get_mempolicy", sysGetMempolicy, syscall.SYS_GET_MEMPOLICY},
		{"move_pages", sysMovePages, syscall.SYS_MOVE_PAGES},
	} {
		if c.ours != c.std {
			t.Errorf("%s: %d here, syscall package says %d", c.name, c.ours, c.std)
		}
	}
}

// onLockedThread runs f on a locked thread that dies with its goroutine.
func onLockedThread(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread()
		f()
	}()
	<-done
}

func TestThreadPolicyRoundTrip(t *testing.T) {
	onLockedThread(func() {
		before, err := ThreadPolicy()
		if err != nil {
			t.Skipf("no NUMA policies here: %v", err)
		}
		undo, err := SetThreadPolicy(Policy{Mode: "bind", Nodes: []int{0}})
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := ThreadPolicy(); got.Mode != "bind" || len(got.Nodes) != 1 || got.Nodes[0] != 0 {
			t.Errorf("policy = %v", got)
		}
		undo()
		if got, _ := ThreadPolicy(); got.Mode != before.Mode {
			t.Errorf("after undo %v, want %v", got, before)
		}
	})
}

func TestBindAndLocate(t *testing.T) {
	const size = 64 << 12
	buf, free, err := Alloc(size)
	if err != nil {
		t.Fatal(err)
	}
	defer free()
	if err := Bind(buf, Policy{Mode: "bind", Nodes: []int{0}}); err != nil {
		t.Fatal(err)
	}
	pl, err := Locate(buf)
	if err != nil {
		t.Fatal(err)
	}
	if pl.Missing != pl.Pages {
		t.Errorf("untouched buffer: %d of %d pages located", pl.Pages-pl.Missing, pl.Pages)
	}
	for i := 0; i < len(buf); i += os.Getpagesize() {
		buf[i] = 1
	}
	pl, _ = Locate(buf)
	if pl.Pages != size/int64(os.Getpagesize()) || pl.Missing != 0 || pl.ByNode[0] != pl.Pages {
		t.Errorf("placement %+v, want all %d pages on node 0", pl, size/os.Getpagesize())
	}
	if s := pl.Shares(); s[0] != 1 {
		t.Errorf("shares %v", s)
	}
}

func TestPolicyErrors(t *testing.T) {
	for _, tc := range []struct {
		p    Policy
		want string
	}{
		{Policy{Mode: "bind"}, "needs at least one node"},
		{Policy{Mode: "local", Nodes: []int{0}}, "takes no nodes"},
		{Policy{Mode: "nearby"}, "unknown"},
		{Policy{Mode: "bind", Nodes: []int{5000}}, "out of range"},
	} {
		undo, err := SetThreadPolicy(tc.p)
		if undo == nil || err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: err %v, want %q", tc.p, err, tc.want)
		}
	}
	buf, free, _ := Alloc(4096)
	defer free()
	// Node 1000 has no memory on any machine we run on.
	if err := Bind(buf, Policy{Mode: "bind", Nodes: []int{1000}}); err == nil {
		t.Error("mbind to node 1000 succeeded")
	}
}

func TestPlacementAdd(t *testing.T) {
	var p Placement
	p.Add(Placement{Pages: 3, ByNode: map[int]int64{0: 2, 1: 1}, Stride: 1})
	p.Add(Placement{Pages: 2, Missing: 1, ByNode: map[int]int64{1: 1}, Stride: 4, Sampled: true})
	if p.Pages != 5 || p.Missing != 1 || p.ByNode[1] != 2 || !p.Sampled || p.Stride != 4 {
		t.Errorf("%+v", p)
	}
	if s := p.Shares(); s[0] != 0.5 || s[1] != 0.5 {
		t.Errorf("shares %v", s)
	}
}

func TestAllocAlignsLargeBuffersToHugePages(t *testing.T) {
	page := uintptr(syscall.Getpagesize())
	for _, c := range []struct {
		size  int
		align uintptr
	}{{100, page}, {hugePage - 1, page}, {hugePage, hugePage}, {8 << 20, hugePage}, {3<<20 + 4096, hugePage}} {
		buf, free, err := Alloc(c.size)
		if err != nil {
			t.Fatalf("Alloc(%d): %v", c.size, err)
		}
		addr := uintptr(unsafe.Pointer(&buf[0]))
		if len(buf) != c.size || addr%c.align != 0 {
			t.Errorf("Alloc(%d): %d bytes at %#x, want %d bytes aligned to %#x", c.size, len(buf), addr, c.size, c.align)
		}
		buf[0], buf[len(buf)-1] = 1, 2 // both ends are mapped and writable
		free()
	}
}
