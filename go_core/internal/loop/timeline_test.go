package loop

import (
	"encoding/json"
	"testing"
)

// runDoc runs a document to its end (on team's threads when team is not nil) and fails
// the test on any error.
func runDoc(t *testing.T, doc string, team *Team) *Report {
	t.Helper()
	var r *Run
	var err error
	if team != nil {
		r, err = StartOn([]byte(doc), team)
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
		if len(tl.Intervals) < 4 || len(tl.Intervals) > 5 {
			t.Errorf("workers=%d: %d intervals of 50 ms in a 200 ms window", workers, len(tl.Intervals))
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
