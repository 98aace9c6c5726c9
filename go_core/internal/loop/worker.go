package loop

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"time"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/hist"
	"golat/go_core/internal/workload"
)

// Waits longer than sleepAbove are slept, less sleepMargin, then spun: the Go timer can
// wake a goroutine hundreds of µs late, so the last stretch is always a spin.
const (
	sleepAbove  = 2_000_000
	sleepMargin = 1_000_000
)

// worker is one request loop's state and its results.
type worker struct {
	id       int
	latency  *hist.Histogram // completion - intended start
	service  *hist.Histogram // completion - actual start
	delay    *hist.Histogram // actual start - intended start
	done     atomic.Int64    // requests served, warm-up included
	measured int64
	warmup   int64
	late     int64
	stalls   int64
	quota    int64 // measured requests this worker serves; 0: no limit
	errMsg   string
	// classes holds one latency histogram per outcome class when the workload is a
	// workload.Classifier (an HTTP status ...); a class's histogram is made on first sight.
	classes map[int]*hist.Histogram
}

// WorkerReport is the per-worker part of the result document.
type WorkerReport struct {
	ID             int   `json:"id"`
	Requests       int64 `json:"requests"`
	WarmupRequests int64 `json:"warmup_requests"`
	LateStarts     int64 `json:"late_starts"`
	Stalls         int64 `json:"stalls"`
	OutOfRange     int64 `json:"out_of_range"`
	// Exact extremes (ns); the histograms hold them within their precision only.
	LatencyMinNs int64  `json:"latency_min_ns"`
	LatencyMaxNs int64  `json:"latency_max_ns"`
	ServiceMinNs int64  `json:"service_min_ns"`
	ServiceMaxNs int64  `json:"service_max_ns"`
	Error        string `json:"error,omitempty"`
}

func newWorker(id, precision int) (*worker, error) {
	w := &worker{id: id}
	var err error
	if w.latency, err = hist.New(precision); err != nil {
		return nil, err
	}
	if w.service, err = hist.New(precision); err != nil {
		return nil, err
	}
	if w.delay, err = hist.New(precision); err != nil {
		return nil, err
	}
	return w, nil
}

// prepare builds the workload state on the calling goroutine (locked first when asked).
// The returned cleanup is never nil.
func (w *worker) prepare(r *Run) (req workload.Request, cleanup func(), err error) {
	if r.cfg.LockOSThread {
		// Locked for the rest of this goroutine's life: the goroutine exits locked, so a
		// thread whose state golat changed dies with it instead of returning to the pool.
		runtime.LockOSThread()
	}
	req, closeWl, err := r.wl.NewWorker(w.id, r.cfg.Workers)
	if closeWl == nil {
		closeWl = func() {}
	}
	return req, closeWl, err
}

// loop serves requests from t0 until the run's end, stop or quota.
func (w *worker) loop(r *Run, req workload.Request, t0 int64) {
	c := &r.cfg
	open := c.Rate > 0
	var period float64
	if open {
		period = float64(c.Workers) * 1e9 / c.Rate
	}
	var rng *rand.Rand
	if c.Arrivals == "poisson" {
		rng = rand.New(rand.NewPCG(c.Seed, uint64(w.id)+1))
	}
	measureFrom := t0 + c.WarmupNs
	end := int64(math.MaxInt64)
	if c.DurationNs > 0 {
		end = measureFrom + c.DurationNs
	}
	// Each worker keeps its own schedule, phase-shifted so arrivals interleave.
	next := float64(t0) + period*float64(w.id)/float64(c.Workers)
	cl, _ := r.wl.(workload.Classifier)
	var nextStall int64 = math.MaxInt64
	if c.Stall != nil {
		nextStall = measureFrom + c.Stall.EveryNs
	}
	clock.SpinUntil(t0) // every worker starts at t0: nothing before it counts as warm-up
	stopper, _ := r.wl.(workload.Stopper)
	for !r.stop.Load() {
		var intended, start int64
		if open {
			if rng != nil && w.done.Load() > 0 {
				next += rng.ExpFloat64() * period
			}
			intended = int64(next)
			if intended >= end {
				break
			}
			now := clock.Now()
			if gap := intended - now; gap > sleepAbove {
				time.Sleep(time.Duration(gap - sleepMargin))
				if r.stop.Load() {
					break
				}
			}
			start = clock.SpinUntil(intended)
			if rng == nil {
				next += period
			}
		} else {
			start = clock.Now()
			if start >= end {
				break
			}
			intended = start
		}
		if start >= nextStall {
			w.stalls++
			nextStall += c.Stall.EveryNs
			clock.SpinUntil(start + c.Stall.DurationNs)
		}
		req()
		done := clock.Now()
		w.done.Add(1)
		if stopper != nil && stopper.Stopped() {
			r.stop.Store(true) // this request is still counted below
		}
		if intended < measureFrom {
			w.warmup++
			continue
		}
		w.latency.RecordValue(done - intended)
		if cl != nil {
			w.recordClass(cl.LastClass(w.id), done-intended, c.Precision)
		}
		w.service.RecordValue(done - start)
		w.delay.RecordValue(start - intended)
		if start-intended > c.LateThresholdNs {
			w.late++
		}
		w.measured++
		if w.quota > 0 && w.measured >= w.quota {
			break
		}
	}
}

func (w *worker) recordClass(class int, latencyNs int64, precision int) {
	h := w.classes[class]
	if h == nil {
		h, _ = hist.New(precision) // precision was validated by Parse
		if w.classes == nil {
			w.classes = map[int]*hist.Histogram{}
		}
		w.classes[class] = h
	}
	h.RecordValue(latencyNs)
}

func (w *worker) report() WorkerReport {
	return WorkerReport{
		ID: w.id, Requests: w.measured, WarmupRequests: w.warmup, LateStarts: w.late,
		Stalls: w.stalls, Error: w.errMsg,
		OutOfRange:   w.latency.Overflow() + w.service.Overflow(),
		LatencyMinNs: w.latency.Min(), LatencyMaxNs: w.latency.Max(),
		ServiceMinNs: w.service.Min(), ServiceMaxNs: w.service.Max(),
	}
}

func panicMessage(v any) string {
	buf := make([]byte, 4096)
	n := runtime.Stack(buf, false)
	return fmt.Sprintf("panic in worker: %v\n%s", v, buf[:n])
}
