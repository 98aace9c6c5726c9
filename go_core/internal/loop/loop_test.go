package loop

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"golat/go_core/internal/workload"
)

func doc(t *testing.T, over map[string]any) []byte {
	t.Helper()
	d := map[string]any{
		"version":  1,
		"workload": map[string]any{"kind": "noop"},
		"requests": 1000,
	}
	for k, v := range over {
		if v == nil {
			delete(d, k)
		} else {
			d[k] = v
		}
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRejects(t *testing.T) {
	cases := []struct {
		name string
		over map[string]any
		want string
	}{
		{"version", map[string]any{"version": 2}, "version 2"},
		{"negative rate", map[string]any{"rate": -1}, "rate must be"},
		{"rate whose gap leaves int64", map[string]any{"rate": 1e-12}, "in [1/3600, 1e9]"},
		{"arrivals", map[string]any{"arrivals": "bursty"}, "arrivals must be"},
		{"no limit", map[string]any{"requests": nil}, "duration or a request count"},
		{"workers", map[string]any{"workers": 0}, "workers must be"},
		{"precision", map[string]any{"precision": 5}, "precision must be"},
		{"stall", map[string]any{"stall": map[string]any{"every_ns": 0, "duration_ns": 1}}, "stall needs"},
		{"workload", map[string]any{"workload": map[string]any{"kind": "nope"}}, "unknown workload"},
		{"spin ns", map[string]any{"workload": map[string]any{"kind": "spin", "ns": 0}}, "spin: ns"},
		{"no workload", map[string]any{"workload": nil}, "no workload"},
		{"outliers", map[string]any{"outliers": -1}, "outliers must be"},
		{"outlier threshold", map[string]any{"outlier_threshold_ns": -5}, "outlier_threshold_ns must be"},
		{"unknown key", map[string]any{"wokers": 2}, `run config: unknown key "wokers"`},
		{"unknown nested key", map[string]any{"gc": map[string]any{"gc_precent": 5}}, `unknown key "gc.gc_precent" (allowed in gc: gc_percent, memory_limit)`},
		{"unknown stall key", map[string]any{"stall": map[string]any{"every": 1}}, `unknown key "stall.every"`},
		{"unknown workload key", map[string]any{"workload": map[string]any{"kind": "spin", "ns": 5, "n": 1}}, `workload spin: unknown key "n"`},
		{"python-only setting", map[string]any{"trials": 5}, `unknown key "trials"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := Parse(doc(t, c.over))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Parse error = %v, want it to mention %q", err, c.want)
			}
		})
	}
	if _, _, err := Parse([]byte("{")); err == nil {
		t.Fatal("broken JSON accepted")
	}
}

func TestClosedLoopCountsEveryRequest(t *testing.T) {
	r, err := Start(doc(t, map[string]any{"workers": 2, "requests": 1001}))
	if err != nil {
		t.Fatal(err)
	}
	rep, blocks := r.Result()
	if rep.Requests != 1001 {
		t.Fatalf("requests = %d, want 1001", rep.Requests)
	}
	if len(blocks) != 6 || len(rep.Workers) != 2 {
		t.Fatalf("blocks %d workers %d, want 6 and 2", len(blocks), len(rep.Workers))
	}
	var total int64
	for i := 0; i < len(blocks); i += 3 {
		for _, c := range blocks[i] {
			total += c
		}
	}
	if total != 1001 {
		t.Fatalf("latency histograms hold %d values, want 1001", total)
	}
}

func TestOpenLoopServesItsSchedule(t *testing.T) {
	// 20k req/s for 50 ms after a 10 ms warm-up: the schedule has exactly 1000 measured
	// intended starts (and 200 warm-up ones), however slow the machine is.
	r, err := Start(doc(t, map[string]any{
		"requests": nil, "rate": 20000, "duration_ns": 50e6, "warmup_ns": 10e6,
	}))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := r.Result()
	if rep.Requests < 999 || rep.Requests > 1001 {
		t.Fatalf("requests = %d, want 1000 +- 1", rep.Requests)
	}
	if rep.WarmupRequests < 199 || rep.WarmupRequests > 201 {
		t.Fatalf("warm-up requests = %d, want 200 +- 1", rep.WarmupRequests)
	}
}

type panicky struct{}

func (panicky) NewWorker(int, int) (workload.Request, func(), error) {
	n := 0
	return func() {
		n++
		if n == 10 {
			panic("request 10 failed")
		}
	}, func() {}, nil
}

func TestWorkerPanicBecomesError(t *testing.T) {
	workload.Register("test_panicky", func(json.RawMessage) (workload.Workload, error) { return panicky{}, nil })
	r, err := Start(doc(t, map[string]any{"workload": map[string]any{"kind": "test_panicky"}}))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := r.Result()
	if !strings.Contains(rep.Error, "request 10 failed") {
		t.Fatalf("error = %q, want the panic message", rep.Error)
	}
}

func TestStopEndsALongRun(t *testing.T) {
	r, err := Start(doc(t, map[string]any{"requests": nil, "duration_ns": 3600e9}))
	if err != nil {
		t.Fatal(err)
	}
	r.Stop()
	rep, _ := r.Result()
	if !rep.Interrupted {
		t.Fatal("a stopped run must say it was interrupted")
	}
}

// stopWithin starts doc, stops it once it is inside its first long wait (settle) and
// fails unless the run ends within bound: generous, for a loaded machine; every wait
// below is 10 s or more without the stop.
func stopWithin(t *testing.T, over map[string]any) *Report {
	t.Helper()
	const settle, bound = 300 * time.Millisecond, 2 * time.Second
	r, err := Start(doc(t, over))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(settle)
	if ended, _, _ := r.Poll(); ended {
		t.Fatal("the run ended before the stop")
	}
	at := time.Now()
	r.Stop()
	select {
	case <-r.done:
	case <-time.After(bound):
		t.Fatalf("the run did not end within %v of its stop", bound)
	}
	t.Logf("ended %v after the stop", time.Since(at))
	rep, _ := r.Result()
	if !rep.Interrupted {
		t.Fatal("a stopped run must say it was interrupted")
	}
	return rep
}

func TestStopEndsEveryWait(t *testing.T) {
	t.Run("arrival gap", func(t *testing.T) {
		rep := stopWithin(t, map[string]any{"rate": 0.05, "requests": 3})
		if rep.Requests != 1 {
			t.Fatalf("requests = %d, want the first one only", rep.Requests)
		}
	})
	for _, method := range []string{"clock_nanosleep", "go"} {
		t.Run("timer "+method, func(t *testing.T) {
			stopWithin(t, map[string]any{"requests": nil, "duration_ns": 60e9,
				"workload": map[string]any{"kind": "timer", "interval_ns": 10e9, "method": method}})
		})
	}
	t.Run("stall", func(t *testing.T) {
		rep := stopWithin(t, map[string]any{"rate": 100, "requests": nil, "duration_ns": 60e9,
			"stall": map[string]any{"every_ns": 1e6, "duration_ns": 60e9}})
		if rep.Stalls != 1 {
			t.Fatalf("stalls = %d, want 1", rep.Stalls)
		}
	})
	t.Run("a long spin", func(t *testing.T) {
		stopWithin(t, map[string]any{"requests": 2, "workload": map[string]any{"kind": "spin", "ns": 60e9}})
	})
	t.Run("managed GC controller", func(t *testing.T) {
		stopWithin(t, map[string]any{"rate": 0.05, "requests": 3, "gc": map[string]any{"gc_percent": -1, "memory_limit": 1 << 30},
			"managed_gc": map[string]any{"sample_ns": 3600e9, "max_wait_ns": 3600e9}})
	})
}

func TestAFarStallIntervalDoesNotWrap(t *testing.T) {
	// every_ns near int64's top: measureFrom + every_ns would wrap negative and stall
	// every request.
	r, err := Start(doc(t, map[string]any{"rate": 1000, "requests": 20,
		"stall": map[string]any{"every_ns": int64(math.MaxInt64 - 1), "duration_ns": 1e6}}))
	if err != nil {
		t.Fatal(err)
	}
	if rep, _ := r.Result(); rep.Stalls != 0 {
		t.Fatalf("stalls = %d, want 0", rep.Stalls)
	}
}

func BenchmarkNoopClosedLoop(b *testing.B) {
	b.ReportAllocs()
	r, err := Start([]byte(`{"version":1,"workload":{"kind":"noop"},"requests":` +
		strings.TrimSpace(jsonInt(b.N)) + `}`))
	if err != nil {
		b.Fatal(err)
	}
	r.Wait()
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

// An overloaded timed run serves its backlog for BacklogGraceNs after the window, then
// stops and says when: 100,000 requests of 100 us are due in 100 ms (10 s of work).
func TestOverloadedRunStopsServingItsBacklog(t *testing.T) {
	const window = 100e6
	r, err := Start(doc(t, map[string]any{
		"requests": nil, "rate": 1e6, "duration_ns": window,
		"workload": map[string]any{"kind": "spin", "ns": 100000},
	}))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := r.Result()
	if want := int64(window) + BacklogGraceNs(window); rep.BacklogCutNs < want {
		t.Fatalf("backlog cut at %d ns into the window, want >= %d", rep.BacklogCutNs, want)
	}
	if rep.Requests >= 100000 || rep.Requests < 1 || rep.Interrupted {
		t.Fatalf("%d requests served of 100,000 due, interrupted %v", rep.Requests, rep.Interrupted)
	}
	// A run that keeps up is not cut.
	r, err = Start(doc(t, map[string]any{"requests": nil, "rate": 1000, "duration_ns": 20e6}))
	if err != nil {
		t.Fatal(err)
	}
	if rep, _ = r.Result(); rep.BacklogCutNs != 0 || rep.Requests != 20 {
		t.Fatalf("a run within its rate: cut at %d, %d requests (want 0, 20)", rep.BacklogCutNs, rep.Requests)
	}
}

// A slow run's progress shows before it ends (the count is published every 64 requests
// or 50 ms): 20 req/s for 1 s is 20 requests in all.
func TestProgressOfASlowRun(t *testing.T) {
	r, err := Start(doc(t, map[string]any{"requests": nil, "rate": 20, "duration_ns": 1e9}))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Stop()
	for {
		ended, n, _ := r.Poll()
		if n > 0 && !ended {
			return
		}
		if ended {
			t.Fatalf("no progress seen before the run ended (%d requests)", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
