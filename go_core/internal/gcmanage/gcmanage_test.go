package gcmanage

import (
	"math"
	"runtime/debug"
	"testing"
	"time"
)

func TestThreshold(t *testing.T) {
	const mib = 1 << 20
	for _, c := range []struct {
		name  string
		heap  uint64
		limit int64
		want  int64
	}{
		{"small heap: heap + 64 MiB", 10 * mib, math.MaxInt64, 74 * mib},
		{"large heap: twice the heap", 256 * mib, math.MaxInt64, 512 * mib},
		{"capped at 3/4 of the limit", 256 * mib, 400 * mib, 300 * mib},
		{"no limit set (0)", 100 * mib, 0, 200 * mib},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Threshold(c.heap, c.limit); got != c.want {
				t.Fatalf("Threshold(%d, %d) = %d, want %d", c.heap, c.limit, got, c.want)
			}
		})
	}
}

func TestNextSample(t *testing.T) {
	const ms = 1_000_000
	for _, c := range []struct {
		name           string
		heap, prev     uint64
		waited, target int64
		want           int64
	}{
		{"not growing: slowest", 100, 100, ms, 1000, maxSampleNs},
		{"shrinking: slowest", 90, 100, ms, 1000, maxSampleNs},
		{"past the threshold: fastest", 1000, 900, ms, 1000, ms},
		{"half the time to the threshold", 100, 90, ms, 200, 5 * ms},
		{"never below the minimum", 100, 0, ms, 110, ms},
		{"never above the maximum", 100, 99, ms, 1 << 40, maxSampleNs},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := nextSample(c.heap, c.prev, c.waited, c.target, ms); got != c.want {
				t.Fatalf("nextSample = %d, want %d", got, c.want)
			}
		})
	}
}

var keep [][]byte

// The controller collects once the heap passes its threshold, and only then.
func TestControllerCollectsPastThreshold(t *testing.T) {
	prev := debug.SetGCPercent(-1)
	defer debug.SetGCPercent(prev)
	idle := func(int64) int64 { return math.MaxInt64 } // never a request due
	c := Start(Config{ThresholdBytes: 32 << 20, SampleNs: 1e6, MinGapNs: 1000, MaxWaitNs: 1e7}, 0, idle)
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		for i := 0; i < 1024; i++ {
			keep = append(keep, make([]byte, 1024))
		}
		if len(keep) > 4096 {
			keep = keep[:0] // garbage for the controller to collect
		}
		c.mu.Lock()
		n := len(c.events)
		c.mu.Unlock()
		if n >= 2 {
			break
		}
	}
	events, peak := c.Stop()
	if len(events) < 2 {
		t.Fatalf("controller ran %d collections in 5 s of allocation, want >= 2", len(events))
	}
	for _, e := range events {
		if int64(e.HeapBeforeBytes) < 32<<20 || !e.InGap || e.EndNs < e.StartNs {
			t.Errorf("unexpected event %+v", e)
		}
	}
	if peak < 32<<20 {
		t.Errorf("peak heap %d below the threshold it passed", peak)
	}
}
