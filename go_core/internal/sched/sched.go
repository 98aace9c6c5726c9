// Package sched is the arrival schedule of an open-loop run: the intended start of every
// request, at a constant rate or along steps of rates (a ramp), shared among streams
// (a worker's share, or one connection's), each with constant or Poisson gaps.
//
// The schedule is a piecewise-constant total rate over time. Its cumulative count of
// arrivals, L(t), grows by rate * duration in each segment. Stream i of n takes the
// arrivals at positions x = i, i+n, i+2n ... (constant gaps), or x = i, then x plus n
// times an exponential draw of mean 1 each time (Poisson); an arrival's intended start is
// the t where L(t) = x. So n streams of one constant schedule interleave evenly, as n
// workers each at rate/n phase-shifted by 1/rate, and a stream's rate follows the
// schedule's steps.
package sched

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"golat/go_core/internal/clock"
)

// MaxSteps bounds the steps of a ramp (each has its own histograms in a run).
const MaxSteps = 1000

// MinRate and MaxRate bound a rate (requests/s): one arrival an hour (the longest wait
// the histograms hold) to one a ns.
const (
	MinRate = 1.0 / 3600
	MaxRate = 1e9
)

// Step is one step of a ramp: a total rate (requests/s) held for DurationNs.
type Step struct {
	Rate       float64 `json:"rate"`
	DurationNs int64   `json:"duration_ns"`
}

// Check validates steps as a run document carries them.
func Check(steps []Step) error {
	if len(steps) > MaxSteps {
		return fmt.Errorf("rate_steps: at most %d steps, got %d", MaxSteps, len(steps))
	}
	for i, s := range steps {
		if math.IsNaN(s.Rate) || s.Rate < MinRate || s.Rate > MaxRate {
			return fmt.Errorf("rate_steps[%d]: rate must be in [1/3600, 1e9] requests/s, got %v", i, s.Rate)
		}
		if s.DurationNs < 1_000_000 || s.DurationNs > 3600e9 {
			return fmt.Errorf("rate_steps[%d]: duration_ns must be in 1e6..3600e9 (1 ms to 1 h), got %d", i, s.DurationNs)
		}
	}
	return nil
}

// Schedule is the total rate over time, from its first segment's start.
type Schedule struct {
	begin []int64   // start of each segment (monotonic ns)
	perNs []float64 // total arrivals per ns in each segment
	cum   []float64 // arrivals before each segment
	end   int64     // end of the last segment (math.MaxInt64: open-ended)
}

// New is the schedule of a run starting at t0: warmupNs at the first rate, then either
// rate for durationNs (0: open-ended) or, when steps are given, each step in turn.
func New(t0, warmupNs int64, rate float64, steps []Step, durationNs int64) *Schedule {
	s := &Schedule{}
	first := rate
	if len(steps) > 0 {
		first = steps[0].Rate
	}
	at := t0
	add := func(r float64, d int64) {
		c := 0.0
		if n := len(s.begin); n > 0 {
			c = s.cum[n-1] + s.perNs[n-1]*float64(at-s.begin[n-1])
		}
		s.begin, s.perNs, s.cum = append(s.begin, at), append(s.perNs, r/1e9), append(s.cum, c)
		at = clock.SatAdd(at, d)
	}
	if warmupNs > 0 {
		add(first, warmupNs)
	}
	switch {
	case len(steps) > 0:
		for _, st := range steps {
			add(st.Rate, st.DurationNs)
		}
		s.end = at
	case durationNs > 0:
		add(rate, durationNs)
		s.end = at
	default:
		add(rate, 0)
		s.end = math.MaxInt64
	}
	return s
}

// End is when the schedule ends (math.MaxInt64: never).
func (s *Schedule) End() int64 { return s.end }

// Steps are the [from, to) spans of the measured steps of New's steps (the warm-up
// segment excluded).
func (s *Schedule) Steps(warmupNs int64) [][2]int64 {
	first := 0
	if warmupNs > 0 {
		first = 1
	}
	var out [][2]int64
	for i := first; i < len(s.begin); i++ {
		to := s.end
		if i+1 < len(s.begin) {
			to = s.begin[i+1]
		}
		out = append(out, [2]int64{s.begin[i], to})
	}
	return out
}

// at is the time where the cumulative count reaches x, searching from segment *seg on
// (streams only move forward); math.MaxInt64 past the end.
func (s *Schedule) at(x float64, seg *int) int64 {
	for *seg+1 < len(s.begin) && x >= s.cum[*seg+1] {
		*seg++
	}
	t := float64(s.begin[*seg]) + (x-s.cum[*seg])/s.perNs[*seg]
	if t >= float64(s.end) || t >= math.MaxInt64 || t != t {
		return math.MaxInt64
	}
	return int64(t)
}

// Stream is one share of the schedule (a worker's or a connection's). Not safe for
// concurrent use.
type Stream struct {
	s    *Schedule
	n    float64
	x    float64
	seg  int
	rng  *rand.Rand // nil: constant gaps
	next int64
}

// Stream i of n; rng, when not nil, draws Poisson gaps (the first arrival is at the
// stream's phase either way, as the loop's workers always did).
func (s *Schedule) Stream(i, n int, rng *rand.Rand) *Stream {
	st := &Stream{s: s, n: float64(n), x: float64(i), rng: rng}
	st.next = s.at(st.x, &st.seg)
	return st
}

// Peek is the intended start of the stream's next arrival (math.MaxInt64: none left).
func (st *Stream) Peek() int64 { return st.next }

// Next returns the intended start of the next arrival and moves past it
// (math.MaxInt64 once the schedule has ended).
func (st *Stream) Next() int64 {
	t := st.next
	if t == math.MaxInt64 {
		return t
	}
	if st.rng != nil {
		st.x += st.rng.ExpFloat64() * st.n
	} else {
		st.x += st.n
	}
	st.next = st.s.at(st.x, &st.seg)
	return t
}

// Index returns which of spans holds t (spans sorted, as Steps gives them), or -1.
func Index(spans [][2]int64, t int64) int {
	i := sort.Search(len(spans), func(i int) bool { return spans[i][1] > t })
	if i < len(spans) && spans[i][0] <= t {
		return i
	}
	return -1
}
