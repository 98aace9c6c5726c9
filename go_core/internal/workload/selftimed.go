package workload

import (
	"sync/atomic"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/hist"
	"golat/go_core/internal/sched"
)

// Pacer is a workload that keeps its own schedule and waits for each arrival itself, as a
// timer test does. Each worker's requests are due every PeriodNs on a fixed grid of
// absolute deadlines; WaitUntil, on the worker's thread, returns the monotonic time it
// woke, or false when the run stopped first (it gives up within 200 ms of wait.Stopped()
// becoming true, wait's own Sleep and Until give up at once). The loop records lateness (wake - deadline) as start delay, and latency from the
// deadline as for any open-loop request, so a wake-up that overruns the next deadline
// shows in every request behind it (cyclictest counts those as overruns).
type Pacer interface {
	PeriodNs() int64
	WaitUntil(deadline int64, wait *clock.Waiter) (woke int64, ok bool)
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

// Driver is a workload that keeps many requests in flight from one worker, each stream
// (an HTTP connection) on its own schedule: an HTTP client multiplexing connections, as
// wrk2 does. The loop calls Drive once per worker, on the worker's goroutine (its locked
// thread, when locked), instead of calling a Request per arrival. Drive sends each
// request at its intended start (or, when the stream is still busy then, as soon as it is
// free) and reports every completed request to p.Rec, until the schedule ends, the run
// stops or Rec returns false; then it returns.
type Driver interface {
	Drive(id int, p *Plan)
}

// Plan is a worker's share of a run, for a Driver.
type Plan struct {
	// Sched is the run's arrivals; nil for a closed loop (each stream sends its next
	// request as soon as the one before completes). A Driver makes its streams with
	// Sched.Stream(i, n, rng), i counted over the whole run's streams.
	Sched   *sched.Schedule
	Poisson bool   // arrivals are Poisson: each stream draws its gaps from rng
	Seed    uint64 // the run's seed, for the streams' generators
	End     int64  // monotonic ns when arrivals end (math.MaxInt64: at stop or quota)
	Stop    *atomic.Bool
	Rec     Recorder
	// Wait waits until the monotonic time t as the loop waits for an arrival (a sleep,
	// then a spin for the last stretch) and returns the time it saw; false when the run
	// stopped first.
	Wait func(t int64) (now int64, ok bool)
	// Stall injects the run's stall (the stall setting) when its time has come: call it
	// with the actual start of each request, on the worker's goroutine.
	Stall func(start int64)
	// Due tells the managed-GC controller when the worker's next request is due while it
	// has none in flight (0: busy from now), so a collection can go in the gap.
	Due func(t int64)
}

// Recorder counts completed requests; a Driver calls it on the worker's goroutine only.
type Recorder interface {
	// Record counts one request: its intended start, actual start (the send) and
	// completion, monotonic ns; its outcome class (-1: none); whether it queued (its
	// intended start came while its stream was busy with the request before). False:
	// the worker's quota is met, stop driving.
	Record(intended, start, done int64, class int, queued bool) bool
}
