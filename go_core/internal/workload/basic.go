package workload

import (
	"encoding/json"
	"fmt"

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

// spin busy-waits for ns nanoseconds of wall time.
type spin struct {
	NS int64 `json:"ns"`
}

func decodeSpin(raw json.RawMessage) (Workload, error) {
	var s spin
	if err := DecodeSpec("spin", raw, &s); err != nil {
		return nil, err
	}
	if s.NS <= 0 || s.NS > 60e9 {
		return nil, fmt.Errorf("spin: ns must be in 1..60e9, got %d", s.NS)
	}
	return s, nil
}

func (s spin) NewWorker(int, int) (Request, func(), error) {
	ns := s.NS
	return func() { clock.SpinUntil(clock.Now() + ns) }, nop, nil
}
