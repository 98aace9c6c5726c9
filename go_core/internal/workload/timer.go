package workload

import (
	"encoding/json"
	"fmt"

	"golat/go_core/internal/clock"
)

func init() { Register("timer", decodeTimer) }

// timer measures wake-up latency against absolute deadlines every IntervalNs, as
// cyclictest does. Method "clock_nanosleep" sleeps the worker's (locked) thread with
// TIMER_ABSTIME; "go" parks the goroutine on the Go timer, which wakes through the runtime's
// scheduler. The request itself does nothing: the measurement is the wake-up.
type timer struct {
	IntervalNs int64  `json:"interval_ns"`
	Method     string `json:"method"`
}

func decodeTimer(raw json.RawMessage) (Workload, error) {
	t := timer{Method: "clock_nanosleep"}
	if err := DecodeSpec("timer", raw, &t); err != nil {
		return nil, err
	}
	switch {
	case t.IntervalNs < 1000 || t.IntervalNs > 10e9:
		return nil, fmt.Errorf("timer: interval_ns must be in 1000..10e9 (1 µs..10 s), got %d", t.IntervalNs)
	case t.Method != "clock_nanosleep" && t.Method != "go":
		return nil, fmt.Errorf("timer: method must be \"clock_nanosleep\" or \"go\", got %q", t.Method)
	case t.Method == "clock_nanosleep" && !haveClockNanosleep:
		return nil, fmt.Errorf("timer: clock_nanosleep needs Linux on amd64 or arm64; use method \"go\"")
	}
	return t, nil
}

func (t timer) NewWorker(int, int) (Request, func(), error) { return nop, nop, nil }

func (t timer) PeriodNs() int64 { return t.IntervalNs }

func (t timer) WaitUntil(deadline int64, wait *clock.Waiter) (int64, bool) {
	if t.Method == "go" {
		ok := wait.Sleep(deadline)
		return clock.Now(), ok
	}
	ok := sleepUntil(deadline, wait.Stopped)
	return clock.Now(), ok
}
