package sched

import (
	"math"
	"math/rand/v2"
	"testing"
)

func take(st *Stream, n int) []int64 {
	var out []int64
	for i := 0; i < n; i++ {
		out = append(out, st.Next())
	}
	return out
}

func TestConstantStreamsInterleave(t *testing.T) {
	// 1000 req/s shared by 4 streams: each every 4 ms, phase-shifted by 1 ms, from t0.
	s := New(100, 0, 1000, nil, 0)
	for i := 0; i < 4; i++ {
		got := take(s.Stream(i, 4, nil), 3)
		for k, v := range got {
			if want := int64(100 + i*1_000_000 + k*4_000_000); v != want {
				t.Fatalf("stream %d arrival %d at %d, want %d", i, k, v, want)
			}
		}
	}
	if s.End() != math.MaxInt64 {
		t.Fatal("an open-ended schedule has an end")
	}
}

func TestStepsChangeTheRate(t *testing.T) {
	// 1 ms of warm-up at 1000/s, then 10 ms at 1000/s, then 10 ms at 2000/s.
	s := New(0, 1_000_000, 0, []Step{{1000, 10_000_000}, {2000, 10_000_000}}, 0)
	got := take(s.Stream(0, 1, nil), 40)
	want := []int64{}
	for k := 0; k < 11; k++ { // warm-up and the first step: every 1 ms
		want = append(want, int64(k)*1_000_000)
	}
	for k := 0; k < 20; k++ { // the second step: every 0.5 ms up to its end at 21 ms
		want = append(want, 11_000_000+int64(k)*500_000)
	}
	for len(want) < 40 {
		want = append(want, math.MaxInt64)
	}
	for k := range want {
		if got[k] != want[k] {
			t.Fatalf("arrival %d at %d, want %d (all: %v)", k, got[k], want[k], got)
		}
	}
	spans := s.Steps(1_000_000)
	if len(spans) != 2 || spans[0] != [2]int64{1_000_000, 11_000_000} || spans[1] != [2]int64{11_000_000, 21_000_000} {
		t.Fatalf("spans %v", spans)
	}
	for _, c := range []struct {
		t    int64
		want int
	}{{0, -1}, {1_000_000, 0}, {10_999_999, 0}, {11_000_000, 1}, {20_999_999, 1}, {21_000_000, -1}} {
		if got := Index(spans, c.t); got != c.want {
			t.Errorf("Index(%d) = %d, want %d", c.t, got, c.want)
		}
	}
}

func TestPoissonKeepsTheRate(t *testing.T) {
	// A ramp 1000 -> 3000/s: each stream's Poisson arrivals count about rate * time.
	s := New(0, 0, 0, []Step{{1000, 2e9}, {3000, 2e9}}, 0)
	counts := [2]int{}
	spans := s.Steps(0)
	for i := 0; i < 8; i++ {
		st := s.Stream(i, 8, rand.New(rand.NewPCG(1, uint64(i)+1)))
		for v := st.Next(); v != math.MaxInt64; v = st.Next() {
			counts[Index(spans, v)]++
		}
	}
	for k, want := range []float64{2000, 6000} {
		if math.Abs(float64(counts[k])-want) > 5*math.Sqrt(want) {
			t.Errorf("step %d: %d arrivals, want about %v", k, counts[k], want)
		}
	}
}

func TestCheckRefuses(t *testing.T) {
	for _, steps := range [][]Step{
		{{0, 1e9}}, {{math.NaN(), 1e9}}, {{1e10, 1e9}}, {{10, 0}}, {{10, 4000e9}},
		make([]Step, MaxSteps+1),
	} {
		if Check(steps) == nil {
			t.Errorf("accepted %v", steps[:1])
		}
	}
	if err := Check([]Step{{1000, 1e9}, {1 / 3600.0, 1e6}}); err != nil {
		t.Fatal(err)
	}
}
