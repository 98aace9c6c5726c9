package workload

import (
	"sync/atomic"

	"golat/go_core/internal/hist"
)

// Pacer is a workload that keeps its own schedule and waits for each arrival itself, as a
// timer test does. Each worker's requests are due every PeriodNs on a fixed grid of
// absolute deadlines; WaitUntil, on the worker's thread, returns the monotonic time it
// woke. The loop records lateness (wake - deadline) as start delay, and latency from the
// deadline as for any open-loop request, so a wake-up that overruns the next deadline
// shows in every request behind it (cyclictest counts those as overruns).
type Pacer interface {
	PeriodNs() int64
	WaitUntil(deadline int64) (woke int64)
}

// Sampler is a workload that measures itself for the whole run, as a jitter busy loop
// does: it gets the worker's window and histogram, records its own samples (ns) and
// returns when the window ends or Stop is set.
type Sampler interface {
	Sample(w *Window)
}

// Window is a Sampler's share of a run.
type Window struct {
	MeasureFrom int64 // monotonic ns; samples before it are warm-up
	End         int64 // monotonic ns (math.MaxInt64: until Stop or Quota)
	Quota       int64 // measured samples to take; 0: no limit
	Stop        *atomic.Bool
	Hist        *hist.Histogram
	// Filled in by Sample:
	Samples, Warmup int64
	Extra           map[string]any // reported with the worker
}

// Placed is a workload whose per-worker buffers golat can locate (NUMA placement check).
type Placed interface {
	Buffers(id int) [][]byte
}

// Reporter is a workload with per-worker facts to report (ns per load, placement ...).
type Reporter interface {
	Report(id int) map[string]any
}
