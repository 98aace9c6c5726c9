// Package pycall is the "python" workload: each request calls a C function pointer that
// golat/_measure.py made from a Python callable with cffi. cgo cannot call a C function
// pointer directly, so a two-line C trampoline does it.
//
// The callback takes the GIL itself (cffi does that for a thread Python did not create),
// so nothing here knows about Python. It returns 0 when the callable returned, 1 when it
// raised (an error, counted on the Python side) and 2 when the run must end now (too many
// errors, or SystemExit / KeyboardInterrupt raised inside the callable).
package pycall

/*
#include <stdint.h>

typedef int (*golat_request_fn)(void);

static int golat_call_request(uintptr_t fn) { return ((golat_request_fn)fn)(); }
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"runtime"
	"sync/atomic"

	"golat/go_core/internal/workload"
)

// Return codes of the callback, as golat/_measure.py writes them.
const (
	returned = 0
	raised   = 1
	stopNow  = 2
)

func init() { workload.Register("python", decode) }

type python struct {
	// Fn is the address of an `int (*)(void)` that stays valid for the whole run: the
	// Python side keeps the cffi callback object alive until the run is freed.
	Fn   uint64 `json:"fn"`
	stop *atomic.Bool
}

func decode(raw json.RawMessage) (workload.Workload, error) {
	var p python
	if err := workload.DecodeSpec("python", raw, &p); err != nil {
		return nil, err
	}
	if p.Fn == 0 {
		return nil, fmt.Errorf("python: fn must be the address of a callback, got 0")
	}
	p.stop = new(atomic.Bool)
	return p, nil
}

// NewWorker locks the worker goroutine to its thread for the run, so every call comes from
// one OS thread and cffi reuses one Python thread state instead of making one per thread.
func (p python) NewWorker(int, int) (workload.Request, func(), error) {
	runtime.LockOSThread()
	fn, stop := C.uintptr_t(p.Fn), p.stop
	req := func() {
		if C.golat_call_request(fn) == stopNow {
			stop.Store(true)
		}
	}
	return req, runtime.UnlockOSThread, nil
}

// Stopped reports whether the callable asked the run to end.
func (p python) Stopped() bool { return p.stop.Load() }
