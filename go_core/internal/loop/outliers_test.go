package loop

import (
	"testing"
)

// An injected stall is found inside the request it stopped, and requests due during it
// queued behind it. (On a loaded machine others may queue behind a late wake-up: the stall
// is 30 ms so that its own requests outlast the ~10 ms a busy VM keeps a thread waiting.)
func TestOutliersStallAndQueued(t *testing.T) {
	r, err := Start(doc(t, map[string]any{
		"requests": nil, "rate": 2000, "duration_ns": 400_000_000, "outliers": 20,
		"stall": map[string]any{"every_ns": 100_000_000, "duration_ns": 30_000_000},
	}))
	if err != nil {
		t.Fatal(err)
	}
	rep, _ := r.Result()
	if rep.Tail == nil || len(rep.Tail.Outliers) != 20 {
		t.Fatalf("tail: %+v", rep.Tail)
	}
	var stalled, queued, behindStall int
	for _, o := range rep.Tail.Outliers {
		switch {
		case o.StallNs > 0:
			stalled++
			if o.StallNs < 30_000_000 { // it may itself have queued on a busy machine
				t.Errorf("stalled request: %+v", o)
			}
		case o.QueuedNs > 0:
			queued++
			if o.BehindNs < 0 || o.BehindNs > o.IntendedNs {
				t.Errorf("queued request, backlog not before it: %+v", o)
			}
			if o.BehindStallNs > 0 {
				behindStall++
			}
		}
	}
	if stalled < 1 || behindStall < 1 || int64(stalled) > rep.Stalls {
		t.Errorf("%d stalled and %d queued among the outliers (%d stalls injected): %+v",
			stalled, queued, rep.Stalls, rep.Tail.Outliers)
	}
	// slowest first
	for i := 1; i < len(rep.Tail.Outliers); i++ {
		a, b := rep.Tail.Outliers[i-1], rep.Tail.Outliers[i]
		if a.EndNs-a.IntendedNs < b.EndNs-b.IntendedNs {
			t.Fatalf("outliers not slowest first at %d", i)
		}
	}
}

func TestOutliersOff(t *testing.T) {
	r, err := Start(doc(t, map[string]any{"outliers": 0}))
	if err != nil {
		t.Fatal(err)
	}
	if rep, _ := r.Result(); rep.Tail != nil {
		t.Errorf("outliers 0 kept %+v", rep.Tail)
	}
}
