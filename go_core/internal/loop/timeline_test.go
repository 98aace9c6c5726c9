package loop

import (
	"encoding/json"
	"testing"
	"time"
)

// runDoc runs a document to its end (on pool's threads when pool is not nil) and fails
// the test on any error.
func runDoc(t *testing.T, doc string, pool *Pool) *Report {
	t.Helper()
	var r *Run
	var err error
	if pool != nil {
		r, err = StartOn([]byte(doc), pool)
	} else {
		r, err = Start([]byte(doc))
	}
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := r.Result()
	if rep.Error != "" {
		t.Fatal(rep.Error)
	}
	return rep
}

func runTimelineDoc(t *testing.T, doc map[string]any) *Report {
	t.Helper()
	b, _ := json.Marshal(doc)
	return runDoc(t, string(b), nil)
}

// Every measured request lands in exactly one timeline interval.
func TestTimelineCountsEveryRequest(t *testing.T) {
	for _, workers := range []int{1, 2} {
		rep := runTimelineDoc(t, map[string]any{
			"version": 1, "workload": map[string]any{"kind": "noop"}, "rate": 4000.0,
			"duration_ns": 200e6, "warmup_ns": 20e6, "workers": workers, "timeline_ns": 50e6,
		})
		tl := rep.Timeline
		if tl == nil {
			t.Fatal("no timeline")
		}
		var n int64
		for _, in := range tl.Intervals {
			n += in.Count
			if in.Count > 0 && (in.P50 > in.P99 || in.P99 > in.Max) {
				t.Errorf("interval percentiles out of order: %+v", in)
			}
		}
		if n != rep.Requests {
			t.Errorf("workers=%d: intervals count %d requests, the run %d", workers, n, rep.Requests)
		}
		// At least one interval per 50 ms of the 200 ms window; requests a loaded machine
		// delays can end in later ones, so no upper bound (the count above is the check).
		if len(tl.Intervals) < 4 {
			t.Errorf("workers=%d: %d intervals of 50 ms in a 200 ms window, want 4 or more", workers, len(tl.Intervals))
		}
	}
}

func TestNoTimelineWhenOff(t *testing.T) {
	rep := runTimelineDoc(t, map[string]any{
		"version": 1, "workload": map[string]any{"kind": "noop"}, "requests": 100,
	})
	if rep.Timeline != nil {
		t.Fatal("timeline kept with timeline_ns 0")
	}
}

func TestTimelineIntervalValidated(t *testing.T) {
	_, _, err := Parse([]byte(`{"version":1,"workload":{"kind":"noop"},"requests":1,"timeline_ns":5}`))
	if err == nil {
		t.Fatal("timeline_ns 5 accepted")
	}
}

// Each interval carries every worker's latency and service histograms, and they add up
// to the interval's count; closed loop, service time is latency.
func TestTimelineWorkerHistograms(t *testing.T) {
	for _, rate := range []float64{4000, 0} {
		doc := map[string]any{
			"version": 1, "workload": map[string]any{"kind": "noop"}, "duration_ns": 100e6,
			"workers": 2, "timeline_ns": 25e6, "rate": rate,
		}
		rep := runTimelineDoc(t, doc)
		var total int64
		for k, in := range rep.Timeline.Intervals {
			if len(in.Workers) != 2 {
				t.Fatalf("rate %v interval %d: %d worker histograms, want 2", rate, k, len(in.Workers))
			}
			var lat, svc int64
			for _, w := range in.Workers {
				for _, p := range w.Latency {
					lat += p[1]
				}
				for _, p := range w.Service {
					svc += p[1]
				}
			}
			if lat != in.Count || svc != in.Count {
				t.Errorf("rate %v interval %d: workers' latency %d, service %d, interval count %d",
					rate, k, lat, svc, in.Count)
			}
			total += lat
		}
		if total != rep.Requests {
			t.Errorf("rate %v: interval histograms hold %d requests, the run %d", rate, total, rep.Requests)
		}
	}
}

// A run given a wall-clock start instant starts there, never before, and reports it.
func TestStartAtWallClock(t *testing.T) {
	at := time.Now().UnixNano() + 300e6
	rep := runTimelineDoc(t, map[string]any{
		"version": 1, "workload": map[string]any{"kind": "noop"}, "rate": 1000.0,
		"duration_ns": 20e6, "warmup_ns": 10e6, "start_at_unix_ns": at,
	})
	if rep.StartUnixNs < at {
		t.Errorf("started %d ns before the agreed instant", at-rep.StartUnixNs)
	}
	if late := rep.StartUnixNs - at; late > 2e9 {
		t.Errorf("started %d ns after the agreed instant", late)
	}
	if rep.WindowUnixNs != rep.StartUnixNs+10e6 {
		t.Errorf("window starts at %d, want start %d + warm-up", rep.WindowUnixNs, rep.StartUnixNs)
	}
}

// Stop ends a run that is still waiting for its start instant.
func TestStopWhileWaitingForStart(t *testing.T) {
	b, _ := json.Marshal(map[string]any{
		"version": 1, "workload": map[string]any{"kind": "noop"}, "duration_ns": 1e9,
		"start_at_unix_ns": time.Now().UnixNano() + 1800e9,
	})
	r, err := Start(b)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	t0 := time.Now()
	r.Stop()
	r.Wait()
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("stop took %v while waiting for the start instant", d)
	}
	_, _, err = Parse([]byte(`{"version":1,"workload":{"kind":"noop"},"requests":1,"start_at_unix_ns":-1}`))
	if err == nil {
		t.Error("start_at_unix_ns -1 accepted")
	}
}
