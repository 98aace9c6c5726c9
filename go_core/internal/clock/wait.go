package clock

import (
	"sync/atomic"
	"time"
)

// Waits longer than sleepAbove are slept, less sleepMargin, then spun: the Go timer can
// wake a goroutine hundreds of µs late, so the last stretch is always a spin.
const (
	sleepAbove  = 2_000_000
	sleepMargin = 1_000_000
)

// Waiter waits for monotonic instants on behalf of one goroutine, and gives up as soon as
// its stop channel is closed: a run's stop ends every wait at once, however long. It keeps
// one timer, so a wait does not allocate. Not safe for concurrent use.
type Waiter struct {
	stop  <-chan struct{}
	timer *time.Timer
}

// NewWaiter returns a Waiter that gives up when stop is closed.
func NewWaiter(stop <-chan struct{}) *Waiter { return &Waiter{stop: stop} }

// Stopped says whether the stop channel is closed.
func (w *Waiter) Stopped() bool {
	select {
	case <-w.stop:
		return true
	default:
		return false
	}
}

// Sleep parks the goroutine on the Go timer until t (monotonic ns) or the stop, whichever
// comes first; false when the stop came first. It wakes as late as the Go timer does.
func (w *Waiter) Sleep(t int64) bool {
	d := time.Duration(t - Now())
	if d <= 0 {
		return !w.Stopped()
	}
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.drain()
		w.timer.Reset(d)
	}
	select {
	case <-w.timer.C:
		return true
	case <-w.stop:
		w.drain()
		return false
	}
}

// drain stops the timer and empties its channel without blocking, so that no stale tick
// ends the next Sleep early (with either of Go's timer-channel semantics).
func (w *Waiter) drain() {
	if !w.timer.Stop() {
		select {
		case <-w.timer.C:
		default:
		}
	}
}

// Until waits until Now() >= t and returns the time it saw: it sleeps while t is far,
// then spins the last sleepMargin for an exact wake. False when the run stopped first.
func (w *Waiter) Until(t int64) (int64, bool) {
	if t-Now() > sleepAbove && !w.Sleep(t-sleepMargin) {
		return Now(), false
	}
	return SpinUntil(t), true
}

// SpinUntilOr busy-waits until Now() >= t or stop is set, and returns the time it saw and
// whether t was reached. The atomic load costs ~1 ns an iteration.
func SpinUntilOr(t int64, stop *atomic.Bool) (int64, bool) {
	for {
		n := nanotime()
		if n >= t {
			return n, true
		}
		if stop.Load() {
			return n, false
		}
	}
}
