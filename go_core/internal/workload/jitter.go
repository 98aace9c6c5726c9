package workload

import (
	"encoding/json"
	"fmt"

	"golat/go_core/internal/clock"
)

func init() { Register("jitter", decodeJitter) }

// maxEvents bounds the gaps above threshold kept with their time (no allocation while
// measuring: the slice is made before).
const maxEvents = 64

// jitter is a busy loop that reads the clock back to back and records every gap between
// two reads, as oslat does: a gap much longer than the loop's own cost is time the
// thread lost (an interrupt, a preemption, an SMI). Gaps above ThresholdNs are counted
// and the first maxEvents kept with their offset into the window.
type jitter struct {
	ThresholdNs int64 `json:"threshold_ns"`
}

func decodeJitter(raw json.RawMessage) (Workload, error) {
	j := jitter{ThresholdNs: 10_000}
	if err := DecodeSpec("jitter", raw, &j); err != nil {
		return nil, err
	}
	if j.ThresholdNs < 1 || j.ThresholdNs > 60e9 {
		return nil, fmt.Errorf("jitter: threshold_ns must be in 1..60e9, got %d", j.ThresholdNs)
	}
	return j, nil
}

func (j jitter) NewWorker(int, int) (Request, func(), error) { return nop, nop, nil }

func (j jitter) Sample(w *Window) {
	thr, h, stop := j.ThresholdNs, w.Hist, w.Stop
	events := make([][2]int64, 0, maxEvents)
	prev := clock.Now()
	for prev < w.MeasureFrom { // warm-up: run the loop, keep nothing
		if stop.Load() {
			return
		}
		prev = clock.Now()
		w.Warmup++
	}
	from := prev
	var n, over int64
	for {
		now := clock.Now()
		gap := now - prev
		prev = now
		h.RecordValue(gap)
		n++
		if gap > thr {
			over++
			if len(events) < maxEvents {
				events = append(events, [2]int64{now - gap - from, gap})
			}
		}
		if now >= w.End || (w.Quota > 0 && n >= w.Quota) || stop.Load() {
			break
		}
	}
	w.Samples = n
	w.Extra = map[string]any{
		"threshold_ns": thr, "over_threshold": over, "events": events,
		"loop_ns": float64(prev-from) / float64(max(n, 1)),
	}
}
