//go:build linux && (amd64 || arm64)

package osthread

import (
	"errors"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// onLockedThread runs f on a fresh locked thread that dies afterwards, so no test leaves
// a changed thread in the runtime's pool.
func onLockedThread(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread exits with the goroutine
		f()
	}()
	<-done
}

func TestAffinityPinAndUndo(t *testing.T) {
	onLockedThread(t, func() {
		before, err := Affinity(0)
		if err != nil || len(before) == 0 {
			t.Fatalf("Affinity: %v %v", before, err)
		}
		target := before[len(before)-1]
		undo, err := SetAffinity(0, []int{target})
		if err != nil {
			t.Fatal(err)
		}
		now, _ := Affinity(Gettid())
		if !slices.Equal(now, []int{target}) {
			t.Errorf("after pin: %v, want [%d]", now, target)
		}
		for i := 0; i < 50; i++ {
			if cpu, _ := GetCPU(); cpu != target {
				t.Fatalf("GetCPU = %d on a thread pinned to %d", cpu, target)
			}
		}
		undo()
		if back, _ := Affinity(0); !slices.Equal(back, before) {
			t.Errorf("undo: %v, want %v", back, before)
		}
	})
}

func TestAffinityErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		cpus []int
		want string
	}{
		{"empty", nil, "no CPUs"},
		{"negative", []int{-1}, "out of range"},
		{"too big", []int{1 << 20}, "out of range"},
		{"not present", []int{1023}, "no CPU of the set is allowed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			onLockedThread(t, func() {
				undo, err := SetAffinity(0, tc.cpus)
				if undo == nil {
					t.Fatal("undo is nil")
				}
				if err == nil || !strings.Contains(err.Error(), tc.want) {
					t.Errorf("err = %v, want it to say %q", err, tc.want)
				}
			})
		})
	}
}

func TestPolicyRoundTrip(t *testing.T) {
	onLockedThread(t, func() {
		before, err := GetPolicy(0)
		if err != nil {
			t.Fatal(err)
		}
		undo, err := SetPolicy(0, Policy{Name: "fifo", Priority: 1})
		var perm *PermissionError
		if errors.As(err, &perm) {
			t.Skipf("no real-time permission here: %v", err)
		}
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := GetPolicy(0); got != (Policy{Name: "fifo", Priority: 1}) {
			t.Errorf("policy = %v", got)
		}
		undo()
		if got, _ := GetPolicy(0); got != before {
			t.Errorf("after undo %v, want %v", got, before)
		}
	})
}

func TestPolicyBadInput(t *testing.T) {
	for _, p := range []Policy{{"fifo", 0}, {"rr", 100}, {"other", 5}, {"deadline", 1}} {
		undo, err := SetPolicy(0, p)
		if err == nil || undo == nil {
			t.Errorf("%v: err=%v undo nil=%v", p, err, undo == nil)
		}
	}
}

// The EPERM path, faked through the seam (tests run as root, where nothing is refused).
func TestPolicyPermissionDenied(t *testing.T) {
	orig := setScheduler
	t.Cleanup(func() { setScheduler = orig })
	setScheduler = func(int, int, int) syscall.Errno { return syscall.EPERM }
	undo, err := SetPolicy(0, Policy{Name: "fifo", Priority: 80})
	if undo == nil {
		t.Fatal("undo is nil")
	}
	var perm *PermissionError
	if !errors.As(err, &perm) || !errors.Is(err, syscall.EPERM) {
		t.Fatalf("err = %#v, want a *PermissionError wrapping EPERM", err)
	}
	for _, want := range []string{"CAP_SYS_NICE", "RLIMIT_RTPRIO >= 80", "ulimit -r 80"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}

func TestLockedBytes(t *testing.T) {
	if LockedBytes() < 0 {
		t.Error("VmLck not readable")
	}
}
