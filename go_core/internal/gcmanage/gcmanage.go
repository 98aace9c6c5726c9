// Package gcmanage is the managed GC: with the collector off (GOGC=off) and a memory limit
// as the safety net, a controller samples the heap and runs runtime.GC itself once the heap
// passes a threshold, at a moment when no request is due if one comes soon enough.
package gcmanage

import (
	"math"
	"runtime"
	"sync"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/gcctl"
)

// Config is the controller's part of the run document. Durations are ns, sizes bytes.
type Config struct {
	// ThresholdBytes: collect once the heap in use reaches it; 0 derives it (see Threshold).
	ThresholdBytes int64 `json:"threshold_bytes"`
	// SampleNs is the shortest time between heap readings. The controller reads less often
	// (up to maxSampleNs apart) while the heap, growing at its recent rate, cannot reach
	// the threshold before the reading after next: a workload that does not allocate is
	// read 20 times a second instead of 1000, and so woken less.
	SampleNs int64 `json:"sample_ns"`
	// MinGapNs is the idle time before the next intended start the controller looks for.
	MinGapNs int64 `json:"min_gap_ns"`
	// MaxWaitNs bounds the search for a gap; past it the controller collects anyway
	// (memory first). 0: collect as soon as the threshold is passed.
	MaxWaitNs int64 `json:"max_wait_ns"`
}

// Defaults fills unset fields.
func (c Config) Defaults() Config {
	if c.SampleNs <= 0 {
		c.SampleNs = 1_000_000
	}
	if c.MinGapNs < 0 {
		c.MinGapNs = 0
	}
	if c.MaxWaitNs < 0 {
		c.MaxWaitNs = 0
	}
	return c
}

// Threshold is the rule for a threshold the user did not give: twice the heap in use when
// the controller starts (the workers' state is built by then), at least that heap plus
// 64 MiB, and never above 3/4 of the memory limit, so the controller acts before the
// runtime's limit-driven collections do.
func Threshold(heapAtStart uint64, memoryLimit int64) int64 {
	t := max(int64(heapAtStart)*2, int64(heapAtStart)+64<<20)
	if memoryLimit > 0 && memoryLimit < math.MaxInt64 {
		t = min(t, memoryLimit/4*3)
	}
	return t
}

// Event is one collection the controller ran. Times are clock.Now() ns.
type Event struct {
	StartNs         int64  `json:"start_ns"`
	EndNs           int64  `json:"end_ns"`
	WaitedNs        int64  `json:"waited_ns"` // from threshold passed to collection start
	InGap           bool   `json:"in_gap"`    // started with no request due within MinGapNs
	HeapBeforeBytes uint64 `json:"heap_before_bytes"`
	HeapAfterBytes  uint64 `json:"heap_after_bytes"`
	// Cycle is the GC cycle count (/gc/cycles/total) once the collection returned: the
	// number of the cycle it ran, to tell its cycles from the runtime's.
	Cycle uint64 `json:"cycle"`
}

// Idle reports how long (ns) until some worker is due, seen at now; <= 0 when one is
// serving a request or late.
type Idle func(now int64) int64

// Controller is a running controller. Stop it to read its events.
type Controller struct {
	cfg       Config
	threshold int64
	idle      Idle
	stop      chan struct{}
	wait      *clock.Waiter // sample waits, ended by stop
	done      chan struct{}

	mu       sync.Mutex
	events   []Event
	peakHeap uint64
}

// Start starts the controller on its own goroutine.
func Start(cfg Config, memoryLimit int64, idle Idle) *Controller {
	cfg = cfg.Defaults()
	var hr gcctl.HeapReader
	c := &Controller{cfg: cfg, idle: idle, stop: make(chan struct{}), done: make(chan struct{})}
	c.wait = clock.NewWaiter(c.stop) // the loop's goroutine only
	h := hr.InUse()
	c.peakHeap = h
	c.threshold = cfg.ThresholdBytes
	if c.threshold <= 0 {
		c.threshold = Threshold(h, memoryLimit)
	}
	go c.loop(&hr)
	return c
}

// ThresholdBytes is the threshold in force.
func (c *Controller) ThresholdBytes() int64 { return c.threshold }

// maxSampleNs bounds the time between heap readings.
const maxSampleNs = 50_000_000

// nextSample is how long to wait before reading the heap again: half the time the heap
// needs, at the growth rate seen over the last wait, to reach the threshold; within
// [minNs, maxSampleNs].
func nextSample(heap, prevHeap uint64, waitedNs int64, target int64, minNs int64) int64 {
	left := target - int64(heap)
	grew := int64(heap) - int64(prevHeap)
	if left <= 0 {
		return minNs
	}
	if grew <= 0 {
		return max(minNs, maxSampleNs)
	}
	// ns until the threshold at the recent rate, halved; float to avoid overflow
	eta := float64(left) / float64(grew) * float64(waitedNs) / 2
	return int64(min(max(eta, float64(minNs)), float64(max(minNs, maxSampleNs))))
}

func (c *Controller) loop(hr *gcctl.HeapReader) {
	defer close(c.done)
	// After a collection the heap must grow by a quarter of the threshold before the next
	// one, so a threshold below the live heap cannot make the controller collect back to back.
	var floor uint64
	prev, wait := hr.InUse(), c.cfg.SampleNs
	next := clock.SatAdd(clock.Now(), wait)
	for {
		if !c.wait.Sleep(next) {
			return
		}
		h := hr.InUse()
		c.notePeak(h)
		target := max(c.threshold, int64(floor))
		wait = nextSample(h, prev, wait, target, c.cfg.SampleNs)
		prev = h
		next = clock.SatAdd(clock.Now(), wait)
		if int64(h) < c.threshold || h < floor {
			continue
		}
		passed := clock.Now()
		inGap := c.waitForGap(passed)
		if c.wait.Stopped() {
			return
		}
		start := clock.Now()
		runtime.GC()
		end := clock.Now()
		after, cycle := hr.InUseAndCycles()
		floor = after + uint64(c.threshold/4)
		prev, wait = after, c.cfg.SampleNs
		next = clock.SatAdd(end, wait)
		c.mu.Lock()
		c.events = append(c.events, Event{
			StartNs: start, EndNs: end, WaitedNs: start - passed, InGap: inGap,
			HeapBeforeBytes: h, HeapAfterBytes: after, Cycle: cycle,
		})
		c.mu.Unlock()
	}
}

// waitForGap polls until no request is due within MinGapNs, or MaxWaitNs has passed.
// It yields between polls; on a loaded machine it still costs a core while it searches.
func (c *Controller) waitForGap(from int64) bool {
	if c.cfg.MaxWaitNs == 0 {
		return c.idle(clock.Now()) >= c.cfg.MinGapNs
	}
	deadline := from + c.cfg.MaxWaitNs
	for {
		now := clock.Now()
		if c.idle(now) >= c.cfg.MinGapNs {
			return true
		}
		if now >= deadline || c.wait.Stopped() {
			return false
		}
		runtime.Gosched()
	}
}

func (c *Controller) notePeak(h uint64) {
	c.mu.Lock()
	c.peakHeap = max(c.peakHeap, h)
	c.mu.Unlock()
}

// Stop ends the controller (waiting for a collection in progress) and returns its events
// and the peak heap it saw.
func (c *Controller) Stop() ([]Event, uint64) {
	close(c.stop)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]Event(nil), c.events...), c.peakHeap
}

// Collections is how many collections the controller has run so far.
func (c *Controller) Collections() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.events)
}
