//go:build linux && (amd64 || arm64)

package workload

import (
	"syscall"
	"unsafe"
)

const (
	clockMonotonic = 1 // CLOCK_MONOTONIC, the clock runtime.nanotime reads
	timerAbstime   = 1 // TIMER_ABSTIME
)

// sleepUntil sleeps the calling thread until the monotonic deadline with
// clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), as cyclictest does. It is a blocking
// system call through syscall.Syscall6, so the runtime knows the thread is away; with a
// spare P (GOMAXPROCS above the worker count) sysmon leaves the P alone for sleeps
// under 10 ms and the thread gets it back on return without waiting.
func sleepUntil(deadline int64) {
	ts := syscall.NsecToTimespec(deadline)
	for {
		_, _, e := syscall.Syscall6(sysClockNanosleep, clockMonotonic, timerAbstime,
			uintptr(unsafe.Pointer(&ts)), 0, 0, 0)
		if e != syscall.EINTR {
			return
		}
	}
}

const haveClockNanosleep = true
