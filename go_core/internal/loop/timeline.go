package loop

import (
	"math"
	"sync/atomic"
	"time"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/gcctl"
	"golat/go_core/internal/hist"
	"golat/go_core/internal/workload"
)

// tlSlots is how many interval histograms each worker keeps: it records into slot
// i%tlSlots, and the timeline goroutine drains a slot once every worker has moved past its
// interval. A worker never waits: if the drain is tlSlots intervals behind (a starved
// process), the worker keeps recording into its current interval.
const tlSlots = 4

// Interval is one timeline interval of the measured window: latency (ns) of the requests
// that completed in it, the GC cycles that ended in it and the largest heap sampled in it.
type Interval struct {
	Count     int64   `json:"count"`
	P50       int64   `json:"p50"`
	P90       int64   `json:"p90"`
	P99       int64   `json:"p99"`
	P99_9     int64   `json:"p99_9"`
	P99_99    int64   `json:"p99_99"`
	Max       int64   `json:"max"`
	Mean      float64 `json:"mean"`
	GCCycles  uint64  `json:"gc_cycles"`
	HeapBytes uint64  `json:"heap_bytes"`
	// Workers holds each worker's histograms of the interval (sparse [index, count] pairs
	// in the layout of the counts blocks), in worker order: what an interval log carries.
	Workers []IntervalCounts `json:"workers"`
}

// IntervalCounts is one worker's latency and service-time histograms of one interval.
type IntervalCounts struct {
	Latency [][2]int64 `json:"latency"`
	Service [][2]int64 `json:"service"`
}

// TimelineReport is the per-interval record of a run, plus every GC event in the run
// (times relative to the start of the measured window, ns; negative during warm-up).
type TimelineReport struct {
	IntervalNs int64           `json:"interval_ns"`
	Intervals  []Interval      `json:"intervals"`
	GCEvents   []TimelineEvent `json:"gc_events"`
	PeakHeap   uint64          `json:"peak_heap_bytes"`
}

// TimelineEvent is a GC cycle: when its last pause ended and its total pause.
type TimelineEvent struct {
	Number     uint32 `json:"number"` // the cycle's number (count of cycles so far)
	AtNs       int64  `json:"at_ns"`
	PauseNs    int64  `json:"pause_ns"`
	Controller bool   `json:"controller"` // run by the managed-GC controller
}

// tlWorker is a worker's part of the timeline.
type tlWorker struct {
	slots    [tlSlots]*hist.Histogram // latency
	svc      [tlSlots]*hist.Histogram // service time (open loop only: closed, it is latency)
	at       atomic.Int64             // the interval being recorded; every earlier one is final
	cur      int64
	boundary int64 // clock ns where cur ends
}

func (t *tlWorker) init(precision int) error {
	for i := range t.slots {
		h, err := hist.New(precision)
		if err != nil {
			return err
		}
		t.slots[i] = h
		t.svc[i], _ = hist.New(precision)
	}
	return nil
}

// record counts latency v, completed at done, in its interval's slot.
func (t *tlWorker) record(r *Run, done, v int64) {
	if done >= t.boundary {
		t.advance(r, done)
	}
	t.slots[t.cur%tlSlots].RecordValue(v)
}

// recordOpen counts latency v and service time s of an open-loop request.
func (t *tlWorker) recordOpen(r *Run, done, v, s int64) {
	if done >= t.boundary {
		t.advance(r, done)
	}
	t.slots[t.cur%tlSlots].RecordValue(v)
	t.svc[t.cur%tlSlots].RecordValue(s)
}

func (t *tlWorker) advance(r *Run, done int64) {
	iv := r.cfg.TimelineNs
	j := (done - r.measureFrom) / iv
	if m := min(j, r.tlFreed.Load()+tlSlots); m > t.cur {
		t.cur = m
		t.at.Store(m)
	}
	t.boundary = r.measureFrom + (t.cur+1)*iv
}

// finish marks every interval of this worker final.
func (t *tlWorker) finish() { t.at.Store(math.MaxInt64) }

// timeline drains the workers' interval slots as they become final and samples the heap
// and GC counters, until stop is closed and the workers have finished; then it drains
// the rest.
func (r *Run) timeline(stop <-chan struct{}, wallOffset int64) *TimelineReport {
	iv := r.cfg.TimelineNs
	tick := min(iv/10, int64(50e6))
	tk := time.NewTicker(time.Duration(tick))
	defer tk.Stop()
	log := gcctl.NewEventLog()
	var hr gcctl.HeapReader
	heap, cycles := hr.InUseAndCycles()
	rep := &TimelineReport{IntervalNs: iv, PeakHeap: heap}
	merged, _ := hist.New(r.cfg.Precision)
	var heapMax, gcCount []uint64 // by interval index
	grow := func(k int64) {
		for int64(len(heapMax)) <= k {
			heapMax = append(heapMax, 0)
			gcCount = append(gcCount, 0)
		}
	}
	next := int64(0)
	open := r.cfg.Rate > 0
	if _, ok := r.wl.(workload.Pacer); ok {
		open = true
	}
	emit := func(k int64) {
		merged.Reset()
		per := make([]IntervalCounts, len(r.workers))
		for i, w := range r.workers {
			s, v := w.tl.slots[k%tlSlots], w.tl.svc[k%tlSlots]
			_ = merged.Merge(s)
			per[i].Latency = s.Sparse()
			per[i].Service = per[i].Latency // closed loop: service time is latency
			if open {
				per[i].Service = v.Sparse()
			}
			s.Reset()
			v.Reset()
		}
		grow(k)
		in := Interval{Count: merged.TotalCount(), GCCycles: gcCount[k], HeapBytes: heapMax[k], Workers: per}
		if in.Count > 0 {
			// A percentile is its bucket's highest equivalent value, which can pass the
			// exact max by up to the bucket width: never report more than the max.
			in.Max, in.Mean = merged.Max(), merged.Mean()
			q := func(p float64) int64 { return min(merged.ValueAtQuantile(p), in.Max) }
			in.P50, in.P90, in.P99, in.P99_9, in.P99_99 = q(50), q(90), q(99), q(99.9), q(99.99)
		}
		rep.Intervals = append(rep.Intervals, in)
		r.tlFreed.Store(k)
	}
	final := false
	for !final {
		select {
		case <-stop:
			final = true
		case <-tk.C:
		}
		now := clock.Now()
		h, c := hr.InUseAndCycles()
		rep.PeakHeap = max(rep.PeakHeap, h)
		if now >= r.measureFrom {
			k := (now - r.measureFrom) / iv
			grow(k)
			heapMax[k] = max(heapMax[k], h)
			gcCount[k] += c - cycles
		}
		if c != cycles {
			log.Update()
			cycles = c
		}
		for {
			lowest := int64(math.MaxInt64)
			for _, w := range r.workers {
				lowest = min(lowest, w.tl.at.Load())
			}
			if lowest <= next || (lowest == math.MaxInt64 && !final) {
				break
			}
			if lowest == math.MaxInt64 {
				// Every worker has finished: drain up to the last interval any reached.
				last := int64(-1)
				for _, w := range r.workers {
					last = max(last, w.tl.cur)
				}
				for ; next <= last; next++ {
					emit(next)
				}
				break
			}
			emit(next)
			next++
		}
	}
	log.Update()
	from := r.measureFrom + wallOffset
	for _, e := range log.Events {
		rep.GCEvents = append(rep.GCEvents, TimelineEvent{Number: e.Number, AtNs: e.EndUnixNs - from, PauseNs: e.PauseNs})
	}
	return rep
}
