//go:build linux && (amd64 || arm64)

package loop

import (
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"

	"golat/go_core/internal/osthread"
)

func allowed(t *testing.T) []int {
	cpus, err := osthread.Affinity(0)
	if err != nil {
		t.Fatal(err)
	}
	return cpus
}

func TestPinnedWorkersRanOnlyOnTheirCPU(t *testing.T) {
	cpus := allowed(t)
	if len(cpus) < 2 {
		t.Skip("needs 2 CPUs")
	}
	before := runtime.GOMAXPROCS(0)
	pin := cpus[:2]
	doc := `{"version":1,"workload":{"kind":"spin","ns":2000},"rate":4000,"duration_ns":100000000,
		"workers":2,"lock_os_thread":true,"cpus":[` + itoa(pin[0]) + `,` + itoa(pin[1]) + `],"gomaxprocs":3}`
	rep := runDoc(t, doc, nil)
	if rep.GOMAXPROCS != 3 {
		t.Errorf("GOMAXPROCS during the run %d, want 3", rep.GOMAXPROCS)
	}
	if runtime.GOMAXPROCS(0) != before {
		t.Errorf("GOMAXPROCS not restored: %d, was %d", runtime.GOMAXPROCS(0), before)
	}
	for i, w := range rep.Workers {
		if !slices.Equal(w.RanOnCPUs, []int{pin[i]}) || w.CPUSamples < 3 { // samples: fewer on a loaded machine
			t.Errorf("worker %d ran on %v (%d samples), pinned to %d", i, w.RanOnCPUs, w.CPUSamples, pin[i])
		}
		if w.Thread.TID == 0 || w.Thread.CPU != pin[i] {
			t.Errorf("worker %d thread %+v", i, w.Thread)
		}
		if w.Counters == nil || w.Counters.Migrations > 0 {
			t.Errorf("worker %d counters %+v", i, w.Counters)
		}
	}
}

func TestFailedSetUpClosesThePool(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	_, err := NewPool(Threads{LockOSThread: true, Policy: "fifo", Priority: 1, GOMAXPROCS: orig + 1,
		CPUs: []int{999}}, 1)
	if err == nil || !strings.Contains(err.Error(), "CPU 999") {
		t.Fatalf("err = %v", err)
	}
	if runtime.GOMAXPROCS(0) != orig {
		t.Errorf("GOMAXPROCS left at %d after a failed pool (was %d)", runtime.GOMAXPROCS(0), orig)
	}
}

func TestThreadSettingsValidation(t *testing.T) {
	for _, tc := range []struct {
		th   Threads
		n    int
		want string
	}{
		{Threads{LockOSThread: true, CPUs: []int{0}}, 2, "one CPU per worker"},
		{Threads{LockOSThread: true, CPUs: []int{0, 0}}, 2, "given twice"},
		{Threads{CPUs: []int{0}}, 1, "need lock_os_thread"},
		{Threads{LockOSThread: true, Policy: "fifo", Priority: 100}, 1, "1..99"},
		{Threads{LockOSThread: true, Policy: "deadline", Priority: 1}, 1, "policy must be"},
		{Threads{LockOSThread: true, NUMA: "bind"}, 1, "needs numa_nodes"},
	} {
		if _, err := NewPool(tc.th, tc.n); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%+v: err %v, want %q", tc.th, err, tc.want)
		}
	}
	_, err := Start([]byte(`{"version":1,"workload":{"kind":"noop"},"requests":10,"lock_os_thread":true,"policy":"fifo","priority":10}`))
	if err == nil || !strings.Contains(err.Error(), "bounded duration") {
		t.Errorf("real-time run without duration: %v", err)
	}
}

func TestPoolKeepsItsThreads(t *testing.T) {
	pool, err := NewPool(Threads{LockOSThread: true, CPUs: allowed(t)[:1]}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	doc := `{"version":1,"workload":{"kind":"noop"},"requests":1000,"workers":1}`
	a := runDoc(t, doc, pool)
	b := runDoc(t, doc, pool)
	if a.Workers[0].Thread.TID != b.Workers[0].Thread.TID || !a.Pooled {
		t.Errorf("pool thread changed between runs: %d then %d", a.Workers[0].Thread.TID, b.Workers[0].Thread.TID)
	}
	if _, err := StartOn([]byte(`{"version":1,"workload":{"kind":"noop"},"requests":10,"workers":2}`), pool); err == nil {
		t.Error("a 2-worker run on a 1-worker pool started")
	}
}

func TestTimerAndJitterAndMemChase(t *testing.T) {
	rep := runDoc(t, `{"version":1,"workload":{"kind":"timer","interval_ns":200000},"duration_ns":50000000,
		"lock_os_thread":true}`, nil)
	if n := rep.Requests; n < 50 || n > 260 {
		t.Errorf("timer: %d wake-ups in 50 ms at 200 µs", n)
	}
	rep = runDoc(t, `{"version":1,"workload":{"kind":"timer","interval_ns":200000,"method":"go"},"duration_ns":20000000}`, nil)
	if rep.Requests < 10 {
		t.Errorf("go timer: %d wake-ups", rep.Requests)
	}
	rep = runDoc(t, `{"version":1,"workload":{"kind":"jitter","threshold_ns":5000},"duration_ns":20000000,
		"lock_os_thread":true}`, nil)
	if rep.Requests < 10000 || rep.Workers[0].Workload["over_threshold"] == nil {
		t.Errorf("jitter: %d samples, %v", rep.Requests, rep.Workers[0].Workload)
	}
	rep = runDoc(t, `{"version":1,"workload":{"kind":"memchase","bytes":1048576,"node":0,"hops":100},
		"requests":1000,"lock_os_thread":true,"numa":"local"}`, nil)
	pl := rep.Workers[0].Placement
	if pl == nil || pl.ByNode[0] != 256 || pl.Missing != 0 {
		b, _ := json.Marshal(rep.Workers[0])
		t.Errorf("memchase placement: %s", b)
	}
	if _, err := Start([]byte(`{"version":1,"workload":{"kind":"timer","interval_ns":200000},"rate":100,"duration_ns":1000}`)); err == nil {
		t.Error("a timer with a rate started")
	}
}

func itoa(i int) string {
	b, _ := json.Marshal(i)
	return string(b)
}

// No pool thread is the runtime's main thread, which would outlive the pool (tests run
// their goroutines on m0 often enough for this to show within a few pools).
func TestPoolAvoidsTheMainThread(t *testing.T) {
	for n := 0; n < 20; n++ {
		pool, err := NewPool(Threads{LockOSThread: true}, 2)
		if err != nil {
			t.Fatal(err)
		}
		onMain := make(chan bool, 2)
		for i := 0; i < 2; i++ {
			pool.Go(i, func() { onMain <- osthread.IsMainThread() })
		}
		for i := 0; i < 2; i++ {
			if <-onMain {
				t.Fatal("a pool worker runs on the runtime's main thread")
			}
		}
		pool.Close()
	}
}
