//go:build linux && (amd64 || arm64)

package threadstat

import (
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"
)

func TestTLBFromFixture(t *testing.T) {
	if got := tlbFrom("testdata/interrupts"); got != 18748+17350 {
		t.Errorf("tlbFrom = %d", got)
	}
	if got := tlbFrom("testdata/missing"); got != -1 {
		t.Errorf("missing file: %d", got)
	}
}

func TestFaultsParsing(t *testing.T) {
	for _, tc := range []struct {
		stat       string
		min, major int64
	}{
		{"12 (go) S 1 12 12 0 -1 4194368 150 0 3 0 0 0", 150, 3},
		{"12 (a b) c)) R 1 12 12 0 -1 4194368 7 0 9 0", 7, 9},
		{"12 (go) S 1", -1, -1},
		{"garbage", -1, -1},
	} {
		if mi, ma := faults(tc.stat); mi != tc.min || ma != tc.major {
			t.Errorf("faults(%q) = %d, %d; want %d, %d", tc.stat, mi, ma, tc.min, tc.major)
		}
	}
}

// Both sources see a thread fault pages in and sleep (voluntary switches).
func TestCountersBothSources(t *testing.T) {
	for _, usePerf := range []bool{true, false} {
		done := make(chan struct{})
		go func() {
			defer close(done)
			runtime.LockOSThread()
			disablePerf = !usePerf
			th := Open(syscall.Gettid())
			disablePerf = false
			defer th.Close()
			before, err := th.Read()
			if err != nil {
				t.Error(err)
				return
			}
			b, _ := syscall.Mmap(-1, 0, 64<<12, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
			for i := 0; i < len(b); i += os.Getpagesize() {
				b[i] = 1
			}
			syscall.Munmap(b)
			for i := 0; i < 3; i++ {
				time.Sleep(time.Millisecond)
			}
			after, _ := th.Read()
			d := after.Sub(before)
			t.Logf("perf=%v: %+v", usePerf, d)
			if usePerf && d.Source != SourcePerf {
				t.Logf("perf events unavailable here, fell back to %s", d.Source)
			}
			if !usePerf && d.Source != SourceProc {
				t.Errorf("source %q with perf disabled", d.Source)
			}
			if d.MinorFaults < 64 {
				t.Errorf("%s: %d minor faults, want >= 64", d.Source, d.MinorFaults)
			}
			if d.VoluntarySwitches < 1 {
				t.Errorf("%s: %d voluntary switches after sleeping", d.Source, d.VoluntarySwitches)
			}
		}()
		<-done
	}
}

func TestSubKeepsUnknown(t *testing.T) {
	d := Counters{Migrations: 5, CacheMisses: -1}.Sub(Counters{Migrations: 2, CacheMisses: 10})
	if d.Migrations != 3 || d.CacheMisses != -1 {
		t.Errorf("%+v", d)
	}
}

// Self sees the calling thread fault pages in.
func TestSelfCountsFaults(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	before, ok := Self()
	if !ok {
		t.Fatal("getrusage(RUSAGE_THREAD) failed")
	}
	b, _ := syscall.Mmap(-1, 0, 64<<12, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_PRIVATE|syscall.MAP_ANON)
	for i := 0; i < len(b); i += os.Getpagesize() {
		b[i] = 1
	}
	syscall.Munmap(b)
	after, _ := Self()
	if d := after.MinorFaults - before.MinorFaults; d < 64 {
		t.Errorf("%d minor faults, want >= 64", d)
	}
}

func BenchmarkSelf(b *testing.B) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	for i := 0; i < b.N; i++ {
		Self()
	}
}
