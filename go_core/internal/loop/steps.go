package loop

import (
	"golat/go_core/internal/hist"
	"golat/go_core/internal/sched"
)

// stepStats is a worker's record of a ramp, one entry per step: the latency of the
// requests whose intended start fell in the step (so a step's figures belong to the load
// it offered, even when they complete later) and how many requests completed within the
// step's time (what the system achieved at that load).
type stepStats struct {
	latency   []*hist.Histogram
	completed []int64
	late      []int64
	queued    []int64
}

func newStepStats(n, precision int) (*stepStats, error) {
	s := &stepStats{completed: make([]int64, n), late: make([]int64, n), queued: make([]int64, n)}
	for i := 0; i < n; i++ {
		h, err := hist.New(precision)
		if err != nil {
			return nil, err
		}
		s.latency = append(s.latency, h)
	}
	return s, nil
}

func (s *stepStats) record(spans [][2]int64, intended, done, lat int64, late, queued bool) {
	if k := sched.Index(spans, intended); k >= 0 {
		s.latency[k].RecordValue(lat)
		if late {
			s.late[k]++
		}
		if queued {
			s.queued[k]++
		}
	}
	if k := sched.Index(spans, done); k >= 0 {
		s.completed[k]++
	}
}

// StepReport is one step of a ramp, all workers merged. Requests, Late and Queued count
// the measured requests whose intended start fell in the step; Completed those that
// completed within it; Counts is their latency histogram as sparse [index, count] pairs
// in the layout of the counts blocks.
type StepReport struct {
	Rate       float64    `json:"rate"`
	StartNs    int64      `json:"start_ns"` // from the start of the measured window
	DurationNs int64      `json:"duration_ns"`
	Requests   int64      `json:"requests"`
	Completed  int64      `json:"completed"`
	Late       int64      `json:"late_starts"`
	Queued     int64      `json:"queued"`
	Counts     [][2]int64 `json:"counts"`
}

// stepReports merges the workers' step records.
func (r *Run) stepReports() []StepReport {
	if len(r.stepSpans) == 0 {
		return nil
	}
	out := make([]StepReport, len(r.stepSpans))
	for k, sp := range r.stepSpans {
		m, _ := hist.New(r.cfg.Precision) // precision was validated by Parse
		for _, w := range r.workers {
			if w.steps == nil {
				continue
			}
			_ = m.Merge(w.steps.latency[k])
			out[k].Completed += w.steps.completed[k]
			out[k].Late += w.steps.late[k]
			out[k].Queued += w.steps.queued[k]
		}
		out[k].Rate = r.cfg.RateSteps[k].Rate
		out[k].StartNs, out[k].DurationNs = sp[0]-r.measureFrom, sp[1]-sp[0]
		out[k].Requests, out[k].Counts = m.TotalCount(), m.Sparse()
	}
	return out
}
