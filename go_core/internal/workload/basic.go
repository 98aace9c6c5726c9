package workload

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"sync/atomic"

	"golat/go_core/internal/clock"
)

func init() {
	Register("noop", func(raw json.RawMessage) (Workload, error) {
		return noop{}, DecodeSpec("noop", raw, &noop{})
	})
	Register("spin", decodeSpin)
}

// noop is the harness floor: what a request costs when it does nothing.
type noop struct{}

func (noop) NewWorker(int, int) (Request, func(), error) { return func() {}, nop, nil }

// spin busy-waits for a service time of wall time per request: ns each time (dist
// "const"), or drawn from an exponential or lognormal distribution of mean ns, each worker
// from its own generator seeded with (seed, worker), so a run's service times can be
// repeated. Queueing references (M/G/1, M/M/1) then apply beyond constant service.
type spin struct {
	NS    int64   `json:"ns"`
	Dist  string  `json:"dist"`
	Sigma float64 `json:"sigma"` // lognormal: the standard deviation of the log
	Seed  uint64  `json:"seed"`
}

const maxSpinNs = 60e9

func decodeSpin(raw json.RawMessage) (Workload, error) {
	s := spin{Dist: "const", Sigma: 1}
	if err := DecodeSpec("spin", raw, &s); err != nil {
		return nil, err
	}
	switch {
	case s.NS <= 0 || s.NS > maxSpinNs:
		return nil, fmt.Errorf("spin: ns must be in 1..60e9, got %d", s.NS)
	case s.Dist != "const" && s.Dist != "exp" && s.Dist != "lognormal":
		return nil, fmt.Errorf("spin: dist must be \"const\", \"exp\" or \"lognormal\", got %q", s.Dist)
	case math.IsNaN(s.Sigma) || s.Sigma < 0.01 || s.Sigma > 4:
		return nil, fmt.Errorf("spin: sigma must be in 0.01..4, got %v", s.Sigma)
	}
	return s, nil
}

func (s spin) NewWorker(id, workers int) (Request, func(), error) {
	return s.NewStoppableWorker(id, workers, new(atomic.Bool))
}

// NewStoppableWorker: a spin ends early once stop is set (workload.Stoppable).
func (s spin) NewStoppableWorker(id, _ int, stop *atomic.Bool) (Request, func(), error) {
	if s.Dist == "const" {
		ns := s.NS
		return func() { clock.SpinUntilOr(clock.Now()+ns, stop) }, nop, nil
	}
	draw := s.draws(id)
	return func() { clock.SpinUntilOr(clock.Now()+draw(), stop) }, nop, nil
}

// draws is worker id's generator of service times (ns, within 1..60e9).
func (s spin) draws(id int) func() int64 {
	rng := rand.New(rand.NewPCG(s.Seed, uint64(id)+1))
	mean := float64(s.NS)
	if s.Dist == "const" {
		return func() int64 { return s.NS }
	}
	draw := func() float64 { return rng.ExpFloat64() * mean }
	if s.Dist == "lognormal" {
		mu := math.Log(mean) - s.Sigma*s.Sigma/2 // so that the mean is ns
		draw = func() float64 { return math.Exp(mu + s.Sigma*rng.NormFloat64()) }
	}
	return func() int64 { return int64(min(max(draw(), 1), maxSpinNs)) }
}
