// Package clock is the monotonic nanosecond clock every measurement in golat uses.
package clock

import (
	"math"
	_ "unsafe" // for go:linkname
)

// nanotime is the runtime's monotonic clock (vDSO clock_gettime(CLOCK_MONOTONIC)).
// It is read twice per request, so it avoids the wall-clock half of time.Now.
//
//go:linkname nanotime runtime.nanotime
func nanotime() int64

// Now returns monotonic nanoseconds since an arbitrary origin.
func Now() int64 { return nanotime() }

// SpinUntil busy-waits until Now() >= t and returns the time it saw.
func SpinUntil(t int64) int64 {
	for {
		n := nanotime()
		if n >= t {
			return n
		}
	}
}

// pairSink keeps PairLoop's reads from being optimised away.
var pairSink int64

// PairLoop runs n iterations that each read the clock twice, and returns the ns the whole
// loop took: the reference a request loop's per-request cost is compared with.
func PairLoop(n int64) int64 {
	begin := nanotime()
	var acc int64
	for i := int64(0); i < n; i++ {
		a := nanotime()
		b := nanotime()
		acc += b - a
	}
	pairSink = acc
	return nanotime() - begin
}

// SatAdd is a + b for times and durations in ns, held at the int64 limits instead of
// wrapping: a far deadline stays far, never in the past.
func SatAdd(a, b int64) int64 {
	switch {
	case b > 0 && a > math.MaxInt64-b:
		return math.MaxInt64
	case b < 0 && a < math.MinInt64-b:
		return math.MinInt64
	}
	return a + b
}
