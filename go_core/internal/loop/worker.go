package loop

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/hist"
	"golat/go_core/internal/numa"
	"golat/go_core/internal/osthread"
	"golat/go_core/internal/sched"
	"golat/go_core/internal/threadstat"
	"golat/go_core/internal/workload"
)

const (
	// cpuSampleNs spaces the getcpu samples (a ~0.1 µs system call) taken between requests.
	cpuSampleNs = 1_000_000
	maxCPUs     = 1024
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
	queued   int64 // measured requests due while their worker (or connection) was busy
	served   int64 // requests completed, warm-up included (published to done every 64, or 50 ms)
	pubAt    int64 // completion time of the request that last published served
	run      *Run
	open     bool                // the run has a schedule (else closed loop)
	tlOn     bool                // the run keeps a timeline
	cl       workload.Classifier // nil unless the workload's requests have classes
	steps    *stepStats          // nil unless the rate is a ramp
	errMsg   string
	// dueAt is the intended start of the next request while the worker waits for it,
	// busy while it serves one, idleForever once it has stopped: the managed-GC
	// controller reads it to find a moment when no request is due.
	dueAt atomic.Int64
	tl    tlWorker
	wait  *clock.Waiter // every wait of the worker: ends at the run's stop

	thread     ThreadInfo
	cpuSeen    [maxCPUs / 64]uint64
	cpuSamples int64
	nextCPU    int64
	extra      map[string]any // from a Sampler or Reporter workload
	placement  *numa.Placement
	placeErr   string

	// Counters over the measured window: the coordinator reads the start when the window
	// opens, the worker the end when it stops; statsMu orders the two.
	stats        *threadstat.Thread
	statsMu      sync.Mutex
	statsStart   threadstat.Counters
	statsEnd     threadstat.Counters
	statsStarted bool
	statsEnded   bool
	// classes holds one latency histogram per outcome class when the workload is a
	// workload.Classifier (an HTTP status ...); a class's histogram is made on first sight.
	classes map[int]*hist.Histogram
	slow    slowState // the slowest requests and what explains them (outliers.go)
}

const (
	busy        = 0 // clock.Now() is never 0 (CLOCK_MONOTONIC counts from boot)
	idleForever = math.MaxInt64
)

// WorkerReport is the per-worker part of the result document.
type WorkerReport struct {
	ID             int   `json:"id"`
	Requests       int64 `json:"requests"`
	WarmupRequests int64 `json:"warmup_requests"`
	LateStarts     int64 `json:"late_starts"`
	Stalls         int64 `json:"stalls"`
	Queued         int64 `json:"queued"`
	OutOfRange     int64 `json:"out_of_range"`
	// Exact extremes (ns); the histograms hold them within their precision only.
	LatencyMinNs int64  `json:"latency_min_ns"`
	LatencyMaxNs int64  `json:"latency_max_ns"`
	ServiceMinNs int64  `json:"service_min_ns"`
	ServiceMaxNs int64  `json:"service_max_ns"`
	Error        string `json:"error,omitempty"`

	Thread     ThreadInfo           `json:"thread"`
	RanOnCPUs  []int                `json:"ran_on_cpus"` // from getcpu samples
	CPUSamples int64                `json:"cpu_samples"`
	Counters   *threadstat.Counters `json:"counters"` // nil: not locked, or window too short
	Placement  *numa.Placement      `json:"placement,omitempty"`
	PlaceError string               `json:"placement_error,omitempty"`
	Workload   map[string]any       `json:"workload,omitempty"`
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

// prepare builds the workload state on the worker's thread (the pool locked, pinned and
// set it up already), so buffers follow that thread's memory policy. The returned
// cleanup is never nil.
func (w *worker) prepare(r *Run) (req workload.Request, cleanup func(), err error) {
	if w.thread.TID != 0 {
		w.stats = threadstat.Open(w.thread.TID)
	}
	w.slow.startUsage()
	var closeWl func()
	if st, ok := r.wl.(workload.Stoppable); ok {
		req, closeWl, err = st.NewStoppableWorker(w.id, r.cfg.Workers, &r.stop)
	} else {
		req, closeWl, err = r.wl.NewWorker(w.id, r.cfg.Workers)
	}
	if closeWl == nil {
		closeWl = func() {}
	}
	return req, func() {
		closeWl()
		if w.stats != nil {
			w.stats.Close()
		}
	}, err
}

// sampleCPU notes the CPU the worker's thread is on now.
func (w *worker) sampleCPU() {
	if cpu, _ := osthread.GetCPU(); cpu >= 0 && cpu < maxCPUs {
		w.cpuSeen[cpu/64] |= 1 << (cpu % 64)
		w.cpuSamples++
	}
}

func (w *worker) ranOn() []int {
	out := []int{}
	for c := 0; c < maxCPUs; c++ {
		if w.cpuSeen[c/64]&(1<<(c%64)) != 0 {
			out = append(out, c)
		}
	}
	return out
}

// openWindow is the coordinator's start snapshot of the worker's counters.
func (w *worker) openWindow() {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	if w.stats == nil || w.statsEnded {
		return
	}
	if c, err := w.stats.Read(); err == nil {
		w.statsStart, w.statsStarted = c, true
	}
}

// closeWindow is the worker's own end snapshot, taken on its thread before it leaves.
func (w *worker) closeWindow() {
	w.statsMu.Lock()
	defer w.statsMu.Unlock()
	w.statsEnded = true
	if w.stats == nil || !w.statsStarted {
		return
	}
	if c, err := w.stats.Read(); err == nil {
		w.statsEnd = c
	} else {
		w.statsStarted = false
	}
}

// finish runs on the worker's thread after its loop: counters, placement, extras.
func (w *worker) finish(r *Run) {
	w.sampleCPU()
	w.closeWindow()
	if p, ok := r.wl.(workload.Placed); ok {
		var pl numa.Placement
		for _, b := range p.Buffers(w.id) {
			got, err := numa.Locate(b)
			if err != nil {
				w.placeErr = err.Error()
				break
			}
			pl.Add(got)
		}
		if w.placeErr == "" {
			w.placement = &pl
		}
	}
	if rp, ok := r.wl.(workload.Reporter); ok {
		if w.extra == nil {
			w.extra = map[string]any{}
		}
		for k, v := range rp.Report(w.id) {
			w.extra[k] = v
		}
	}
}

// sample hands the whole window to a self-measuring workload (a jitter loop).
func (w *worker) sample(r *Run, s workload.Sampler, t0 int64) {
	c := &r.cfg
	win := &workload.Window{MeasureFrom: t0 + c.WarmupNs, End: math.MaxInt64, Quota: w.quota,
		Stop: &r.stop, Hist: w.latency}
	if c.DurationNs > 0 {
		win.End = win.MeasureFrom + c.DurationNs
	}
	clock.SpinUntil(t0)
	w.sampleCPU()
	s.Sample(win)
	w.measured, w.warmup, w.extra = win.Samples, win.Warmup, win.Extra
	w.done.Store(win.Samples + win.Warmup)
}

// loop serves requests from t0 until the run's end, stop or quota.
func (w *worker) loop(r *Run, req workload.Request, t0 int64) {
	defer w.dueAt.Store(idleForever)
	w.wait = clock.NewWaiter(r.halted)
	if s, ok := r.wl.(workload.Sampler); ok {
		w.sample(r, s, t0)
		return
	}
	c := &r.cfg
	pacer, _ := r.wl.(workload.Pacer)
	w.open = r.sched != nil
	w.cl, _ = r.wl.(workload.Classifier)
	defer func() {
		w.done.Store(w.served)
		if !w.open {
			// Closed loop: every request starts when intended, so service time equals
			// latency and start delay is 0; filled in once here instead of per request.
			w.service.Merge(w.latency)
			w.delay.RecordValues(0, w.measured)
		}
	}()
	if d, ok := r.wl.(workload.Driver); ok {
		clock.SpinUntil(t0)
		w.sampleCPU()
		due := func(int64) {}
		if c.Managed != nil {
			due = func(t int64) { w.dueAt.Store(t) }
		}
		d.Drive(w.id, &workload.Plan{Sched: r.sched, Stop: &r.stop, Seed: c.Seed,
			Poisson: c.Arrivals == "poisson", End: w.end(r), Rec: w, Due: due,
			Wait:  w.waitUntil,
			Stall: w.staller(r)})
		return
	}
	// Each worker is one stream of the schedule, phase-shifted so arrivals interleave.
	var st *sched.Stream
	if w.open {
		var rng *rand.Rand
		if c.Arrivals == "poisson" {
			rng = rand.New(rand.NewPCG(c.Seed, uint64(w.id)+1))
		}
		st = r.sched.Stream(w.id, c.Workers, rng)
	}
	end := w.end(r)
	stall := w.staller(r)
	// Only the managed-GC controller reads dueAt; an atomic store costs a few ns a request.
	publish := c.Managed != nil
	clock.SpinUntil(t0) // every worker starts at t0: nothing before it counts as warm-up
	stopper, _ := r.wl.(workload.Stopper)
	var prevDone int64
	for !r.stop.Load() {
		var intended, start int64
		if w.open {
			intended = st.Next()
			if intended >= end {
				break
			}
			if publish {
				w.dueAt.Store(intended)
			}
			if pacer != nil {
				var ok bool
				if start, ok = pacer.WaitUntil(intended, w.wait); !ok {
					break
				}
			} else {
				var ok bool
				if start, ok = w.waitUntil(intended); !ok {
					break
				}
			}
		} else {
			start = clock.Now()
			if start >= end {
				break
			}
			intended = start
		}
		if publish {
			w.dueAt.Store(busy)
		}
		stall(start)
		req()
		done := clock.Now()
		if stopper != nil && stopper.Stopped() {
			r.halt() // this request is still counted below
		}
		class := -1
		if w.cl != nil {
			class = w.cl.LastClass(w.id)
		}
		// Queued: due while the worker was still busy with the one before.
		queued := intended < prevDone
		prevDone = done
		if !w.Record(intended, start, done, class, queued) {
			break
		}
	}
}

// waitUntil waits for an intended start t: it sleeps when t is far, then spins; false
// when the run stopped first.
func (w *worker) waitUntil(t int64) (int64, bool) { return w.wait.Until(t) }

// staller is the run's stall injection for this worker: called with each request's start,
// it pauses the worker (a spin, cut short by a stop) once every stall interval of the
// measured window.
func (w *worker) staller(r *Run) func(start int64) {
	s := r.cfg.Stall
	if s == nil {
		return func(int64) {}
	}
	next := clock.SatAdd(r.measureFrom, s.EveryNs)
	return func(start int64) {
		if start >= next {
			w.stalls++
			next = clock.SatAdd(next, s.EveryNs)
			end, _ := clock.SpinUntilOr(start+s.DurationNs, &r.stop)
			w.slow.noteStall(start, end)
		}
	}
}

// progressNs is the longest a worker keeps its count of served requests unpublished.
const progressNs = 50_000_000

// end is when the worker's arrivals end (math.MaxInt64: at stop or quota only).
func (w *worker) end(r *Run) int64 {
	if r.cfg.DurationNs > 0 {
		return r.measureFrom + r.cfg.DurationNs
	}
	return math.MaxInt64
}

// Record counts one completed request (workload.Recorder): the loop calls it after each
// request, a workload.Driver for each request it completes, always on the worker's own
// goroutine. It returns false once the worker's quota of measured requests is met.
func (w *worker) Record(intended, start, done int64, class int, queued bool) bool {
	r := w.run
	// Progress: every 64 requests, and at least every 50 ms for slow runs.
	if w.served++; w.served&63 == 0 || done-w.pubAt >= progressNs {
		w.done.Store(w.served)
		w.pubAt = done
	}
	if done >= w.nextCPU {
		w.sampleCPU()
		w.nextCPU = done + cpuSampleNs
	}
	if !queued {
		w.slow.backlogFrom = intended
	}
	prevEnd := w.slow.lastDone
	w.slow.lastDone = done
	if intended < r.measureFrom {
		w.warmup++
		w.slow.tick(done)
		return true
	}
	lat := done - intended
	w.latency.RecordValue(lat)
	if w.slow.keep.Slow(lat) {
		w.slow.note(intended, start, done, prevEnd, queued)
	} else {
		w.slow.tick(done)
	}
	if w.tlOn {
		if w.open {
			w.tl.recordOpen(r, done, lat, done-start)
		} else {
			w.tl.record(r, done, lat)
		}
	}
	if class >= 0 {
		w.recordClass(class, lat, r.cfg.Precision)
	}
	late := false
	if w.open {
		w.service.RecordValue(done - start)
		w.delay.RecordValue(start - intended)
		if late = start-intended > r.cfg.LateThresholdNs; late {
			w.late++
		}
	}
	if queued {
		w.queued++
	}
	if w.steps != nil {
		w.steps.record(r.stepSpans, intended, done, lat, late, queued)
	}
	w.measured++
	return w.quota == 0 || w.measured < w.quota
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
	wr := WorkerReport{
		ID: w.id, Requests: w.measured, WarmupRequests: w.warmup, LateStarts: w.late,
		Stalls: w.stalls, Queued: w.queued, Error: w.errMsg,
		OutOfRange:   w.latency.Overflow() + w.service.Overflow(),
		LatencyMinNs: w.latency.Min(), LatencyMaxNs: w.latency.Max(),
		ServiceMinNs: w.service.Min(), ServiceMaxNs: w.service.Max(),
		Thread: w.thread, RanOnCPUs: w.ranOn(), CPUSamples: w.cpuSamples,
		Placement: w.placement, PlaceError: w.placeErr, Workload: w.extra,
	}
	w.statsMu.Lock()
	if w.statsStarted && w.statsEnded {
		d := w.statsEnd.Sub(w.statsStart)
		wr.Counters = &d
	}
	w.statsMu.Unlock()
	return wr
}

func panicMessage(v any) string {
	buf := make([]byte, 4096)
	n := runtime.Stack(buf, false)
	return fmt.Sprintf("panic in worker: %v\n%s", v, buf[:n])
}
