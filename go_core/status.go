package main

/*
#include <stdint.h>
*/
import "C"

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"unsafe"

	"golat/go_core/internal/handles"
	"golat/go_core/internal/httpserve"
	"golat/go_core/internal/loop"
	"golat/go_core/internal/numa"
	"golat/go_core/internal/osthread"
)

// Statuses; golat/_native.py maps each to an exception class.
const (
	statusOK             = 0
	statusConfig         = 1 // bad input -> ConfigError
	statusPermission     = 2 // the OS refused -> PermissionDenied
	statusUnsupported    = 3 // not on this machine -> Unsupported
	statusInternal       = 4 // a panic or a bug -> CoreError
	statusNotFound       = 5 // unknown handle -> CoreError
	statusBufferTooSmall = 6 // retry with the sizes written back
)

// fail writes msg into err (truncated, NUL-terminated) and returns code.
func fail(code C.int, msg string, err *C.char, errcap C.int) C.int {
	if err != nil && errcap > 0 {
		dst := unsafe.Slice((*byte)(unsafe.Pointer(err)), int(errcap))
		n := copy(dst[:len(dst)-1], msg)
		dst[n] = 0
	}
	return code
}

// guard turns a panic in an export into statusInternal with the panic and its stack.
func guard(st *C.int, err *C.char, errcap C.int) {
	if v := recover(); v != nil {
		*st = fail(statusInternal, fmt.Sprintf("Go panic: %v\n%s", v, debug.Stack()), err, errcap)
	}
}

// putBytes copies b into the caller's buffer, or reports the size it needs.
func putBytes(b []byte, out *C.char, outcap C.int64_t, n *C.int64_t, err *C.char, errcap C.int) C.int {
	*n = C.int64_t(len(b))
	if int64(outcap) < int64(len(b)) {
		return fail(statusBufferTooSmall, "output buffer too small", err, errcap)
	}
	if len(b) > 0 {
		copy(unsafe.Slice((*byte)(unsafe.Pointer(out)), len(b)), b)
	}
	return statusOK
}

func putJSON(v any, out *C.char, outcap C.int64_t, n *C.int64_t, err *C.char, errcap C.int) C.int {
	b, e := json.Marshal(v)
	if e != nil {
		return fail(statusInternal, e.Error(), err, errcap)
	}
	return putBytes(b, out, outcap, n, err, errcap)
}

// The core's live objects; Python holds only their handles.
var (
	runs    handles.Table[*loop.Run]
	pools   handles.Table[*loop.Pool]
	servers handles.Table[*httpserve.Server]
)

// statusOf is the status for an error from starting a run or a pool.
func statusOf(err error) C.int {
	var perm *osthread.PermissionError
	switch {
	case errors.As(err, &perm):
		return statusPermission
	case errors.Is(err, osthread.ErrUnsupported), errors.Is(err, numa.ErrUnsupported):
		return statusUnsupported
	}
	return statusConfig
}

// poolRef is the only field of a run document main reads: which pool to run on.
type poolRef struct {
	Pool int64 `json:"pool"`
}

func startRun(doc []byte) (int64, error) {
	var ref poolRef
	if err := json.Unmarshal(doc, &ref); err != nil {
		return 0, fmt.Errorf("run config is not valid JSON: %v", err)
	}
	var r *loop.Run
	var err error
	if ref.Pool != 0 {
		p, ok := pools.Get(ref.Pool)
		if !ok {
			return 0, fmt.Errorf("no such pool %d (closed?)", ref.Pool)
		}
		r, err = loop.StartOn(doc, p)
	} else {
		r, err = loop.Start(doc)
	}
	if err != nil {
		return 0, err
	}
	return runs.Add(r), nil
}

func lookupRun(h int64) *loop.Run {
	r, _ := runs.Get(h)
	return r
}

// freeRun stops the run if it is still going, waits for it and forgets it.
func freeRun(h int64) bool {
	r, ok := runs.Take(h)
	if !ok {
		return false
	}
	r.Stop()
	r.Wait()
	return true
}

// activeRuns counts runs not yet ended (a leak check for tests).
func activeRuns() int {
	n := 0
	runs.Each(func(r *loop.Run) {
		if ended, _, _ := r.Poll(); !ended {
			n++
		}
	})
	return n
}

// PoolInfo is what a pool reports about its threads.
type PoolInfo struct {
	Workers    int               `json:"workers"`
	GOMAXPROCS int               `json:"gomaxprocs"`
	Threads    loop.Threads      `json:"threads"`
	Thread     []loop.ThreadInfo `json:"thread"`
}

func newPool(doc []byte) (int64, error) {
	d, err := loop.ParsePool(doc)
	if err != nil {
		return 0, err
	}
	p, err := loop.NewPool(d.Threads, d.Workers)
	if err != nil {
		return 0, err
	}
	return pools.Add(p), nil
}

func poolInfo(h int64) (PoolInfo, bool) {
	t, ok := pools.Get(h)
	if !ok {
		return PoolInfo{}, false
	}
	info := PoolInfo{Workers: t.Size(), GOMAXPROCS: runtime.GOMAXPROCS(0), Threads: t.Settings()}
	for i := 0; i < t.Size(); i++ {
		info.Thread = append(info.Thread, t.Info(i))
	}
	return info, true
}

// closePool ends the pool's threads (waiting for a run on them to end) and forgets it.
func closePool(h int64) bool {
	p, ok := pools.Take(h)
	if !ok {
		return false
	}
	p.Close()
	return true
}

func startServer(doc []byte) (int64, error) {
	s, err := httpserve.Start(doc)
	if err != nil {
		return 0, err
	}
	return servers.Add(s), nil
}

func lookupServer(h int64) *httpserve.Server {
	s, _ := servers.Get(h)
	return s
}

// stopServer closes the server and forgets it.
func stopServer(h int64) bool {
	s, ok := servers.Take(h)
	if !ok {
		return false
	}
	_ = s.Close()
	return true
}
