//go:build linux && (amd64 || arm64)

package workload

import (
	"syscall"
	"unsafe"

	"golat/go_core/internal/clock"
)

const (
	clockMonotonic = 1 // CLOCK_MONOTONIC, the clock runtime.nanotime reads
	timerAbstime   = 1 // TIMER_ABSTIME
)

// sliceNs bounds one clock_nanosleep, so that a stop is seen within it: a far deadline is
// slept in absolute steps, and the last call sleeps to the deadline itself, as before.
// (ppoll on an eventfd would wake at once on a stop, but its timer slack grows with the
// timeout, 0.1 % of it, where clock_nanosleep's stays at the thread's 50 µs.)
const sliceNs = 50_000_000

// sleepUntil sleeps the calling thread until the monotonic deadline with
// clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), as cyclictest does; false when stopped
// said so first. It is a blocking system call through syscall.Syscall6, so the runtime
// knows the thread is away; with a spare P (GOMAXPROCS above the worker count) sysmon
// leaves the P alone for sleeps under 10 ms and the thread gets it back on return
// without waiting.
func sleepUntil(deadline int64, stopped func() bool) bool {
	for {
		if stopped() {
			return false
		}
		to := deadline
		if now := clock.Now(); deadline-now > sliceNs {
			to = now + sliceNs
		}
		ts := syscall.NsecToTimespec(to)
		for {
			_, _, e := syscall.Syscall6(sysClockNanosleep, clockMonotonic, timerAbstime,
				uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
			if e != syscall.EINTR {
				break
			}
		}
		if to == deadline {
			return true
		}
	}
}

const haveClockNanosleep = true
