package clock

import (
	"math"
	"sync/atomic"
	"testing"
	"time"
)

func TestSatAdd(t *testing.T) {
	cases := []struct{ a, b, want int64 }{
		{1, 2, 3},
		{math.MaxInt64 - 1, 1, math.MaxInt64},
		{math.MaxInt64 - 1, 2, math.MaxInt64},
		{math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{math.MinInt64 + 1, -2, math.MinInt64},
		{math.MinInt64, -1, math.MinInt64},
		{-5, 3, -2},
		{math.MaxInt64, -1, math.MaxInt64 - 1},
	}
	for _, c := range cases {
		if got := SatAdd(c.a, c.b); got != c.want {
			t.Errorf("SatAdd(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestWaiterReachesItsInstant(t *testing.T) {
	w := NewWaiter(make(chan struct{}))
	for _, d := range []int64{-1, 0, 100_000, 5_000_000} { // past, now, spun, slept then spun
		at := Now() + d
		got, ok := w.Until(at)
		if !ok || got < at {
			t.Fatalf("Until(now%+d) = %d, %v: woke before its instant %d", d, got, ok, at)
		}
	}
	// A Sleep cut short leaves no stale tick behind to end the next one early.
	stop := make(chan struct{})
	w = NewWaiter(stop)
	w.Sleep(Now() + 1_000_000)
	at := Now() + 3_000_000
	if !w.Sleep(at) || Now() < at {
		t.Fatal("a Sleep after another ended early")
	}
}

func TestStopEndsAWaitAtOnce(t *testing.T) {
	stop := make(chan struct{})
	w := NewWaiter(stop)
	go func() { time.Sleep(50 * time.Millisecond); close(stop) }()
	begin := time.Now()
	if _, ok := w.Until(Now() + int64(time.Hour)); ok {
		t.Fatal("Until reported its instant reached after a stop")
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Fatalf("a stop ended the wait only after %v", d)
	}
	if w.Sleep(Now()+int64(time.Hour)) || !w.Stopped() {
		t.Fatal("a stopped Waiter still waits")
	}
	var flag atomic.Bool
	go func() { time.Sleep(50 * time.Millisecond); flag.Store(true) }()
	if _, ok := SpinUntilOr(Now()+int64(time.Hour), &flag); ok {
		t.Fatal("SpinUntilOr reported its instant reached after a stop")
	}
}
