// Package osthread changes and reads the kernel state of one OS thread: its id, CPU
// affinity, scheduling policy, the CPU it runs on, and the process's memory lock.
//
// Every setter acts on a thread id (0: the calling thread) and returns an undo func that
// is never nil. golat calls the setters only on threads it owns (a goroutine that called
// runtime.LockOSThread and exits still locked), so the undo is for tests and for the rare
// caller that keeps the thread.
package osthread

import (
	"errors"
	"fmt"
)

// ErrUnsupported is returned on systems without these calls (anything but Linux).
var ErrUnsupported = errors.New("osthread: thread affinity and scheduling need Linux")

// Policy is a scheduling policy: "other" (SCHED_OTHER, the default), "fifo" or "rr"
// (real-time, Priority 1..99), "batch" or "idle".
type Policy struct {
	Name     string `json:"name"`
	Priority int    `json:"priority"`
}

func (p Policy) String() string {
	if p.Name == "fifo" || p.Name == "rr" {
		return fmt.Sprintf("%s:%d", p.Name, p.Priority)
	}
	return p.Name
}

// PermissionError is the OS refusing a change for lack of privilege; Hint says what is
// missing (a capability, an rlimit).
type PermissionError struct {
	Op   string
	Err  error
	Hint string
}

func (e *PermissionError) Error() string {
	return fmt.Sprintf("%s: %v; %s", e.Op, e.Err, e.Hint)
}

func (e *PermissionError) Unwrap() error { return e.Err }

func nop() {}
