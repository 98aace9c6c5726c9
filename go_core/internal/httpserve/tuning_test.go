package httpserve

import (
	"os"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golat/go_core/internal/osthread"
)

func TestTuningRefused(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{`{"version":1,"gomaxprocs":-1}`, "gomaxprocs"},
		{`{"version":1,"stall":{"every_ns":0,"duration_ns":5}}`, "stall"},
		{`{"version":1,"cpus":[0,0]}`, "given twice"},
		{`{"version":1,"cpus":[5000]}`, "out of range"},
		{`{"version":1,"managed_gc":{"sample_ns":1000000}}`, "collector off"},
	} {
		t.Run(tc.doc, func(t *testing.T) {
			_, err := Start([]byte(tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestStall: every request that comes while a stall is on waits for its end, so requests
// sent back to back over a few stall periods include some that took the stall's length.
func TestStall(t *testing.T) {
	s := start(t, `{"version":1,"workers":2,"stall":{"every_ns":100000000,"duration_ns":30000000}}`)
	// Serve until two stalls came (one every 100 ms: 200 ms on a quiet machine), or 5 s.
	began := time.Now()
	for s.Stats().Stalls < 2 && time.Since(began) < 5*time.Second {
		get(t, s, "/")
	}
	took := time.Since(began)
	st := s.Stats()
	if st.Stalls < 2 {
		t.Fatalf("%d stalls in %v at one every 100 ms", st.Stalls, took)
	}
	if most := 1 + int64(took/(100*time.Millisecond)); st.Stalls > most {
		t.Fatalf("%d stalls in %v: more than one every 100 ms", st.Stalls, took)
	}
	if m := s.Merged().Max(); m < 20e6 {
		t.Fatalf("longest request %d ns; a request that met a 30 ms stall takes longer", m)
	}
}

func TestLockedHandlerThreadsAndGOMAXPROCS(t *testing.T) {
	before := runtime.GOMAXPROCS(0)
	s := start(t, `{"version":1,"workers":2,"lock_os_thread":true,"gomaxprocs":3,"handler":{"kind":"spin","ns":1000}}`)
	for i := 0; i < 20; i++ {
		if code, _ := get(t, s, "/"); code != 200 {
			t.Fatal(code)
		}
	}
	st := s.Stats()
	if !st.LockOSThread || st.GOMAXPROCS != 3 || st.Requests != 20 {
		t.Fatalf("stats: locked %v, gomaxprocs %d, %d requests", st.LockOSThread, st.GOMAXPROCS, st.Requests)
	}
	s.Close()
	if got := runtime.GOMAXPROCS(0); got != before {
		t.Fatalf("GOMAXPROCS %d after Close, was %d", got, before)
	}
}

func TestCPUsPinEveryThreadAndComeBack(t *testing.T) {
	allowed, err := osthread.Affinity(0)
	if err != nil {
		t.Skip(err)
	}
	cpu := allowed[len(allowed)-1]
	s := start(t, `{"version":1,"workers":1,"lock_os_thread":true,"cpus":[`+itoa(cpu)+`]}`)
	get(t, s, "/")
	for _, tid := range taskIDs(t) {
		if got, err := osthread.Affinity(tid); err == nil && (len(got) != 1 || got[0] != cpu) {
			t.Fatalf("thread %d may run on %v while the server is pinned to %d", tid, got, cpu)
		}
	}
	s.Close()
	if got, _ := osthread.Affinity(0); len(got) != len(allowed) {
		t.Fatalf("this thread may run on %v after Close, was %v", got, allowed)
	}
}

func TestManagedGC(t *testing.T) {
	s := start(t, `{"version":1,"workers":1,"handler":{"kind":"alloc","size":4096,"count":64},
		"gc":{"gc_percent":-1,"memory_limit":1073741824},
		"managed_gc":{"threshold_bytes":1,"sample_ns":1000000,"min_gap_ns":1,"max_wait_ns":100000000}}`)
	for i := 0; i < 50; i++ {
		get(t, s, "/")
	}
	deadline := time.Now().Add(2 * time.Second)
	for s.Stats().ManagedGCs == 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if st := s.Stats(); !st.ManagedGC || st.ManagedGCs == 0 {
		t.Fatalf("managed %v, %d collections", st.ManagedGC, st.ManagedGCs)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

func taskIDs(t *testing.T) []int {
	t.Helper()
	names, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Skip(err)
	}
	var out []int
	for _, n := range names {
		if id, err := strconv.Atoi(n.Name()); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// TestFailedStartUndoesTheTuning: a start that fails after pinning (here: the port is
// taken) gives every thread its CPUs back and GOMAXPROCS its value.
func TestFailedStartUndoesTheTuning(t *testing.T) {
	allowed, err := osthread.Affinity(0)
	if err != nil {
		t.Skip(err)
	}
	first := start(t, `{"version":1,"workers":1}`)
	_, port, _ := strings.Cut(first.Addr(), ":")
	procs := runtime.GOMAXPROCS(0)
	cpu := allowed[len(allowed)-1]
	_, err = Start([]byte(`{"version":1,"workers":1,"lock_os_thread":true,"gomaxprocs":1,"port":` + port + `,"cpus":[` + itoa(cpu) + `]}`))
	if err == nil {
		t.Fatal("a second server on a taken port started")
	}
	if got, _ := osthread.Affinity(0); len(got) != len(allowed) {
		t.Fatalf("this thread may run on %v after the failed start, was %v", got, allowed)
	}
	if got := runtime.GOMAXPROCS(0); got != procs {
		t.Fatalf("GOMAXPROCS %d after the failed start, was %d", got, procs)
	}
}
