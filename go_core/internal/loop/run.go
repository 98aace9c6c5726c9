package loop

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/gcctl"
	"golat/go_core/internal/gcmanage"
	"golat/go_core/internal/hist"
	"golat/go_core/internal/sched"
	"golat/go_core/internal/tail"
	"golat/go_core/internal/threadstat"
	"golat/go_core/internal/workload"
)

// Run is one started run. Its methods are safe from any goroutine.
type Run struct {
	cfg     Config
	wl      workload.Workload
	echo    json.RawMessage // the workload as decoded, for the report
	workers []*worker
	// stop is set, and halted closed, once the run is to end: hot loops read the flag,
	// waits select on the channel, so a stop ends every wait at once.
	stop     atomic.Bool
	halted   chan struct{}
	haltOnce sync.Once
	done     chan struct{}
	started  int64 // clock.Now() when the coordinator began
	pool     *Pool
	ownPool  bool // a one-off pool, closed when the run ends (else released for the next run)

	measureFrom int64           // clock ns where the measured window starts; set before t0
	sched       *sched.Schedule // the arrivals (nil: closed loop); set before t0
	stepSpans   [][2]int64      // a ramp's measured steps, [from, to) clock ns; set before t0
	tlFreed     atomic.Int64    // the newest timeline interval drained (-1: none yet)

	mu      sync.Mutex
	t0      int64
	result  *Report
	stopped bool // ended by Stop rather than by its own limits
}

// GCReport is what the collector did inside the measured window.
type GCReport struct {
	Cycles       uint64     `json:"cycles"`
	Forced       uint64     `json:"forced"`
	PausesNs     []int64    `json:"pauses_ns"`
	MaxPauseNs   int64      `json:"max_pause_ns"`
	PauseHist    gcctl.Hist `json:"pause_hist_seconds"`
	SchedLatHist gcctl.Hist `json:"sched_latencies_seconds"`
	HeapLiveEnd  uint64     `json:"heap_live_bytes_end"`
	HeapGoalEnd  uint64     `json:"heap_goal_bytes_end"`
	GCPercent    int        `json:"gc_percent"`
	MemoryLimit  int64      `json:"memory_limit"`
	// Cycles split by who started them (managed GC); RuntimeCycles = Cycles - controller's.
	RuntimeCycles    uint64 `json:"runtime_cycles"`
	ControllerCycles uint64 `json:"controller_cycles"`
	PeakHeapBytes    uint64 `json:"peak_heap_bytes"`
	// Managed GC only: the threshold in force and every collection the controller ran
	// (warm-up included; times relative to the measured window's start).
	Managed          bool              `json:"managed"`
	ThresholdBytes   int64             `json:"threshold_bytes,omitempty"`
	ControllerEvents []ControllerEvent `json:"controller_events,omitempty"`
}

// ControllerEvent is a managed-GC collection, times in ns from the measured window's start.
type ControllerEvent struct {
	AtNs            int64  `json:"at_ns"`
	DurationNs      int64  `json:"duration_ns"`
	WaitedNs        int64  `json:"waited_ns"`
	InGap           bool   `json:"in_gap"`
	HeapBeforeBytes uint64 `json:"heap_before_bytes"`
	HeapAfterBytes  uint64 `json:"heap_after_bytes"`
}

// Report is the result document (JSON) that goes with the histogram counts.
type Report struct {
	Requests        int64   `json:"requests"`
	WarmupRequests  int64   `json:"warmup_requests"`
	LateStarts      int64   `json:"late_starts"`
	LateThresholdNs int64   `json:"late_threshold_ns"`
	Stalls          int64   `json:"stalls"`
	Queued          int64   `json:"queued"`
	MeasuredNs      int64   `json:"measured_ns"`
	AchievedRate    float64 `json:"achieved_rate"`
	Interrupted     bool    `json:"interrupted"`
	// BacklogCutNs: when (ns into the window) the run stopped serving the backlog of an
	// overloaded schedule, its window plus BacklogGraceNs; 0: every arrival was served.
	BacklogCutNs  int64           `json:"backlog_cut_ns"`
	Workers       []WorkerReport  `json:"workers"`
	GC            GCReport        `json:"gc"`
	Histograms    []string        `json:"histograms"` // order of the counts blocks
	CountsLen     int             `json:"counts_len"`
	Precision     int             `json:"precision"`
	GOMAXPROCS    int             `json:"gomaxprocs"`
	GoVersion     string          `json:"go_version"`
	Error         string          `json:"error,omitempty"`
	Timeline      *TimelineReport `json:"timeline,omitempty"`
	Threads       Threads         `json:"threads"`        // the workers' thread settings
	Pooled        bool            `json:"pooled"`         // ran on a pool's threads
	TLBShootdowns int64           `json:"tlb_shootdowns"` // process-wide, in the window; -1: unknown
	GODEBUG       string          `json:"godebug"`        // as the runtime read it at start-up
	// Classes splits latency by outcome (HTTP status ...) for workload.Classifier workloads.
	Classes []ClassReport `json:"classes,omitempty"`
	// Steps is a ramp's record, one entry per step (rate_steps only).
	Steps []StepReport `json:"steps,omitempty"`
	// Tail is the slowest requests with the facts that explain them (nil: not kept).
	Tail *TailReport `json:"tail,omitempty"`
	// Workload is the workload that ran as the core decoded it (wire form, defaults
	// filled in): Python reads it back into the same workload it sent.
	Workload json.RawMessage `json:"workload"`
	// WorkloadInfo is what a workload.RunReporter workload adds (server port, errors ...).
	WorkloadInfo any `json:"workload_info,omitempty"`
	// Wall-clock (Unix ns) start of the run (the first intended request, warm-up
	// included) and of the measured window: what aligns results from several hosts.
	StartUnixNs  int64 `json:"start_unix_ns"`
	WindowUnixNs int64 `json:"window_unix_ns"`
}

// ClassReport is the latency histogram (from intended start) of one outcome class, all
// workers merged, as sparse [index, count] pairs in the layout of the counts blocks.
type ClassReport struct {
	Class    int        `json:"class"`
	Label    string     `json:"label"`
	Requests int64      `json:"requests"`
	Counts   [][2]int64 `json:"counts"`
}

// Start validates doc, sets up a one-off pool of worker threads as the document says, and
// starts the run in the background. A refusal by the OS (real-time policy without the
// privilege) is a *osthread.PermissionError.
func Start(doc []byte) (*Run, error) { return start(doc, nil) }

// StartOn is Start on a pool, whose threads keep their set-up between runs. The
// document's own thread settings are ignored: the pool's apply.
func StartOn(doc []byte, pool *Pool) (*Run, error) { return start(doc, pool) }

func start(doc []byte, pool *Pool) (*Run, error) {
	cfg, wl, err := Parse(doc)
	if err != nil {
		return nil, err
	}
	echo, err := workload.Echo(cfg.Workload, wl)
	if err != nil {
		return nil, fmt.Errorf("workload: cannot echo it: %v", err)
	}
	r := &Run{cfg: cfg, wl: wl, echo: echo, done: make(chan struct{}), halted: make(chan struct{})}
	r.tlFreed.Store(-1)
	if pool == nil {
		if pool, err = NewPool(cfg.Threads, cfg.Workers); err != nil {
			return nil, err
		}
		r.ownPool = true
	} else {
		if pool.Size() != cfg.Workers {
			return nil, fmt.Errorf("this pool has %d workers, the run asks for %d", pool.Size(), cfg.Workers)
		}
		if pool.Settings().Policy != "" && cfg.DurationNs == 0 {
			return nil, fmt.Errorf("a run on a real-time (%s) pool needs a bounded duration_ns", pool.Settings().Policy)
		}
		if !pool.acquire() {
			return nil, ErrBusy
		}
		r.cfg.Threads = pool.Settings()
	}
	r.pool = pool
	for i := 0; i < cfg.Workers; i++ {
		w, err := newWorker(i, cfg.Precision)
		if err != nil {
			r.endPool()
			return nil, err
		}
		w.thread = pool.Info(i)
		w.run, w.tlOn = r, cfg.TimelineNs > 0
		if r.tailOn() {
			w.slow.keep = tail.NewKeeper(cfg.Outliers, cfg.OutlierThresholdNs)
		}
		if len(cfg.RateSteps) > 0 {
			if w.steps, err = newStepStats(len(cfg.RateSteps), cfg.Precision); err != nil {
				r.endPool()
				return nil, err
			}
		}
		if cfg.TimelineNs > 0 {
			if err := w.tl.init(cfg.Precision); err != nil {
				r.endPool()
				return nil, err
			}
		}
		if cfg.Requests > 0 {
			w.quota = cfg.Requests / int64(cfg.Workers)
			if int64(i) < cfg.Requests%int64(cfg.Workers) {
				w.quota++
			}
		}
		r.workers = append(r.workers, w)
	}
	r.started = clock.Now()
	go r.coordinate()
	return r, nil
}

func (r *Run) endPool() {
	if r.ownPool {
		r.pool.Close()
	} else {
		r.pool.release()
	}
}

// Stop asks the workers to finish the request they are serving and return.
func (r *Run) Stop() {
	r.mu.Lock()
	r.stopped = true
	r.mu.Unlock()
	r.halt()
}

// halt ends the run from inside (a worker failed, a workload gave up) or from Stop.
func (r *Run) halt() {
	r.haltOnce.Do(func() {
		r.stop.Store(true)
		close(r.halted)
	})
}

// Wait blocks until the run has ended.
func (r *Run) Wait() { <-r.done }

// Poll reports progress: whether the run ended, requests served so far (warm-up
// included) and ns since the run started.
func (r *Run) Poll() (ended bool, requests, elapsedNs int64) {
	select {
	case <-r.done:
		ended = true
	default:
	}
	for _, w := range r.workers {
		requests += w.done.Load()
	}
	return ended, requests, clock.Now() - r.started
}

// Result returns the report and the histogram counts, laid out as Report.Histograms
// says, each block Report.CountsLen long. Only valid once the run has ended.
func (r *Run) Result() (*Report, [][]int64) {
	<-r.done
	var blocks [][]int64
	for _, w := range r.workers {
		blocks = append(blocks, w.latency.Counts(), w.service.Counts(), w.delay.Counts())
	}
	return r.result, blocks
}

// Merged returns the latency and service histograms of all workers merged.
func (r *Run) Merged() (latency, service *hist.Histogram, err error) {
	<-r.done
	if latency, err = hist.New(r.cfg.Precision); err != nil {
		return nil, nil, err
	}
	service, _ = hist.New(r.cfg.Precision)
	for _, w := range r.workers {
		if err = latency.Merge(w.latency); err == nil {
			err = service.Merge(w.service)
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return latency, service, nil
}

// ResultJSON is Result's report encoded.
func (r *Run) ResultJSON() ([]byte, [][]int64, error) {
	rep, blocks := r.Result()
	b, err := json.Marshal(rep)
	return b, blocks, err
}

func (r *Run) coordinate() {
	defer close(r.done)
	defer r.endPool() // before done closes: a finished run has no threads left
	undoGC := gcctl.Apply(r.cfg.GC)
	defer undoGC()

	n := len(r.workers)
	var ready, finished sync.WaitGroup
	ready.Add(n)
	finished.Add(n)
	begin := make(chan int64)
	for _, w := range r.workers {
		r.pool.Go(w.id, func() {
			defer finished.Done()
			defer w.tl.finish()
			readied := false
			defer func() {
				if v := recover(); v != nil {
					w.errMsg = panicMessage(v)
					r.halt()
				}
				if !readied {
					ready.Done()
				}
			}()
			req, cleanup, err := w.prepare(r)
			defer cleanup()
			if err != nil {
				w.errMsg = err.Error()
				r.halt()
			}
			readied = true
			ready.Done()
			t0, ok := <-begin
			if !ok || err != nil {
				return
			}
			w.loop(r, req, t0)
			w.finish(r)
		})
	}
	ready.Wait()
	// Every worker is set up; start them together a little in the future, or at the
	// agreed wall-clock instant (a fleet's hosts start together).
	wallOffset := time.Now().UnixNano() - clock.Now()
	t0 := clock.Now() + 1_000_000
	if r.cfg.StartAtUnixNs > 0 {
		t0 = r.waitForStart(r.cfg.StartAtUnixNs - wallOffset)
	}
	r.measureFrom = t0 + r.cfg.WarmupNs
	r.sched = r.schedule(t0)
	if len(r.cfg.RateSteps) > 0 {
		r.stepSpans = r.sched.Steps(r.cfg.WarmupNs)
	}
	for _, w := range r.workers {
		w.tl.boundary = r.measureFrom + r.cfg.TimelineNs
	}
	var watch *tail.Watcher
	if r.tailOn() {
		watch = tail.StartWatcher(gcPollNs)
	}
	var ctl *gcmanage.Controller
	if r.cfg.Managed != nil {
		ctl = gcmanage.Start(*r.cfg.Managed, gcctl.SetMemoryLimit(-1), r.idleFor)
	}
	tlStop, tlDone := make(chan struct{}), make(chan *TimelineReport, 1)
	if r.cfg.TimelineNs > 0 {
		go func() { tlDone <- r.timeline(tlStop, wallOffset) }()
	} else {
		tlDone <- nil
	}
	for range r.workers {
		begin <- t0
	}
	close(begin)

	measureFrom := r.measureFrom
	if wait := measureFrom - clock.Now(); wait > 0 {
		select {
		case <-time.After(time.Duration(wait)):
		case <-r.allFinished(&finished):
		}
	}
	before := gcctl.Read()
	fromWall := time.Now().UnixNano()
	tlbBefore := threadstat.TLBShootdowns()
	for _, w := range r.workers {
		w.openWindow()
	}
	var cutAt int64
	if r.sched != nil && r.cfg.DurationNs > 0 {
		// An overloaded run stops serving its backlog a while after its window: the
		// requests due in the window that were not started by then never are.
		cut := clock.SatAdd(measureFrom, clock.SatAdd(r.cfg.DurationNs, BacklogGraceNs(r.cfg.DurationNs)))
		t := time.NewTimer(time.Duration(max(0, cut-clock.Now())))
		done := r.allFinished(&finished)
		select {
		case <-done:
		case <-t.C:
			select {
			case <-done: // the last requests ended as the grace did
			default:
				cutAt = clock.Now()
				r.halt()
			}
		}
		t.Stop()
	}
	finished.Wait()
	endMono := clock.Now()
	tlbAfter := threadstat.TLBShootdowns()
	after := gcctl.Read()
	toWall := time.Now().UnixNano()
	var events []gcmanage.Event
	peak := max(before.HeapObjects, after.HeapObjects)
	if ctl != nil {
		var p uint64
		events, p = ctl.Stop()
		peak = max(peak, p)
	}
	close(tlStop)
	tl := <-tlDone
	if tl != nil {
		peak = max(peak, tl.PeakHeap)
		markControllerEvents(tl, events)
	}

	rep := &Report{
		Workload:        r.echo,
		LateThresholdNs: r.cfg.LateThresholdNs,
		Precision:       r.cfg.Precision,
		CountsLen:       len(r.workers[0].latency.Counts()),
		GOMAXPROCS:      runtime.GOMAXPROCS(0),
		GoVersion:       runtime.Version(),
		Threads:         r.cfg.Threads,
		Pooled:          !r.ownPool,
		TLBShootdowns:   -1,
		GODEBUG:         os.Getenv("GODEBUG"),
	}
	if tlbBefore >= 0 && tlbAfter >= 0 {
		rep.TLBShootdowns = tlbAfter - tlbBefore
	}
	for _, w := range r.workers {
		wr := w.report()
		rep.Workers = append(rep.Workers, wr)
		rep.Requests += wr.Requests
		rep.WarmupRequests += wr.WarmupRequests
		rep.LateStarts += wr.LateStarts
		rep.Stalls += wr.Stalls
		rep.Queued += wr.Queued
		rep.Histograms = append(rep.Histograms, "latency", "service", "start_delay")
		if wr.Error != "" && rep.Error == "" {
			rep.Error = wr.Error
		}
	}
	rep.Classes = r.classReports()
	rep.Steps = r.stepReports()
	if rp, ok := r.wl.(workload.RunReporter); ok {
		rep.WorkloadInfo = rp.RunReport()
	}
	rep.MeasuredNs = endMono - measureFrom
	if rep.MeasuredNs > 0 {
		rep.AchievedRate = float64(rep.Requests) * 1e9 / float64(rep.MeasuredNs)
	}
	pauses := gcctl.PausesBetween(fromWall, toWall)
	var maxPause int64
	for _, p := range pauses {
		maxPause = max(maxPause, p)
	}
	rep.GC = GCReport{
		Cycles: after.GCCycles - before.GCCycles, Forced: after.GCForced - before.GCForced,
		PausesNs: pauses, MaxPauseNs: maxPause,
		PauseHist:    after.GCPauses.Sub(before.GCPauses),
		SchedLatHist: after.SchedLatencies.Sub(before.SchedLatencies),
		HeapLiveEnd:  after.HeapLive, HeapGoalEnd: after.HeapGoal,
		GCPercent: after.GCPercent, MemoryLimit: after.MemoryLimit,
		PeakHeapBytes: peak, Managed: ctl != nil,
	}
	if ctl != nil {
		rep.GC.ThresholdBytes = ctl.ThresholdBytes()
	}
	for _, e := range events {
		// runtime.GC returns after sweeping, later than its cycle is counted: tell the
		// window's cycles apart by number, not by time.
		if e.Cycle > before.GCCycles && e.Cycle <= after.GCCycles {
			rep.GC.ControllerCycles++
		}
		rep.GC.ControllerEvents = append(rep.GC.ControllerEvents, ControllerEvent{
			AtNs: e.StartNs - measureFrom, DurationNs: e.EndNs - e.StartNs, WaitedNs: e.WaitedNs,
			InGap: e.InGap, HeapBeforeBytes: e.HeapBeforeBytes, HeapAfterBytes: e.HeapAfterBytes,
		})
	}
	rep.GC.RuntimeCycles = rep.GC.Cycles - min(rep.GC.Cycles, rep.GC.ControllerCycles)
	managed := make([]tail.Span, 0, len(events))
	for _, e := range events {
		managed = append(managed, tail.Span{Cycle: e.Cycle, From: e.StartNs, To: e.EndNs})
	}
	rep.Tail = r.tailReport(watch, managed)
	rep.Timeline = tl
	rep.StartUnixNs, rep.WindowUnixNs = t0+wallOffset, measureFrom+wallOffset
	r.mu.Lock()
	rep.Interrupted = r.stopped
	if cutAt > 0 && !r.stopped {
		rep.BacklogCutNs = cutAt - measureFrom
	}
	r.t0 = t0
	r.result = rep
	r.mu.Unlock()
}

// schedule is the run's arrivals from t0: its rate or ramp, or a Pacer's own interval
// (each worker wakes once per interval); nil for a closed loop.
func (r *Run) schedule(t0 int64) *sched.Schedule {
	c := &r.cfg
	rate := c.Rate
	if p, ok := r.wl.(workload.Pacer); ok {
		rate = float64(c.Workers) * 1e9 / float64(p.PeriodNs())
	} else if !c.open() {
		return nil
	}
	return sched.New(t0, c.WarmupNs, rate, c.RateSteps, c.DurationNs)
}

// startLeadNs is how early before the agreed instant waitForStart stops sleeping: enough
// for the workers to receive t0 and reach their spin.
const startLeadNs = 5_000_000

// waitForStart sleeps until shortly before at (the agreed instant on the monotonic
// clock) and returns it, or 1 ms from now when it has passed (the report's start time then
// shows how late) or the run was stopped during the wait.
func (r *Run) waitForStart(at int64) int64 {
	woke := clock.NewWaiter(r.halted).Sleep(at - startLeadNs)
	soon := clock.Now() + 1_000_000
	if !woke {
		return soon // the workers see the stop at once and end
	}
	return max(at, soon)
}

// idleFor is how long until the first worker is due (<= 0: one is serving or late).
func (r *Run) idleFor(now int64) int64 {
	due := int64(idleForever)
	for _, w := range r.workers {
		due = min(due, w.dueAt.Load())
	}
	if due == idleForever {
		return due
	}
	return due - now
}

// markControllerEvents flags the timeline's GC events whose cycle the controller ran.
func markControllerEvents(tl *TimelineReport, events []gcmanage.Event) {
	mine := map[uint64]bool{}
	for _, e := range events {
		mine[e.Cycle] = true
	}
	for i := range tl.GCEvents {
		tl.GCEvents[i].Controller = mine[uint64(tl.GCEvents[i].Number)]
	}
}

// classReports merges the workers' per-class histograms, in class order.
func (r *Run) classReports() []ClassReport {
	cl, ok := r.wl.(workload.Classifier)
	if !ok {
		return nil
	}
	merged := map[int]*hist.Histogram{}
	for _, w := range r.workers {
		for c, h := range w.classes {
			if merged[c] == nil {
				merged[c], _ = hist.New(r.cfg.Precision)
			}
			_ = merged[c].Merge(h) // same precision by construction
		}
	}
	keys := make([]int, 0, len(merged))
	for c := range merged {
		keys = append(keys, c)
	}
	sort.Ints(keys)
	out := make([]ClassReport, 0, len(keys))
	for _, c := range keys {
		h := merged[c]
		out = append(out, ClassReport{Class: c, Label: cl.ClassLabel(c), Requests: h.TotalCount(), Counts: h.Sparse()})
	}
	return out
}

func (r *Run) allFinished(wg *sync.WaitGroup) <-chan struct{} {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	return ch
}

// BacklogGraceNs is how long after its window a timed open-loop run goes on serving the
// requests due in the window: a tenth of the window, at least 1 s. A run that is still
// behind then is overloaded; the requests it has not started by then are not run (an
// overloaded 2 s run at 25 times the rate it could serve took 51 s to serve them all).
func BacklogGraceNs(durationNs int64) int64 { return max(1_000_000_000, durationNs/10) }
