// Command main is golat's Go core, built with -buildmode=c-shared and loaded by
// golat/_native.py through cffi. This file is the table of exports only: each one decodes
// its arguments, calls an internal package, recovers any panic and returns a status.
//
// Conventions (the same in _native.py): every export returns an int status (see
// status.go) and writes a message into err (errcap bytes, NUL-terminated) when it is not
// OK. Output buffers belong to the caller; Go fills them and keeps no pointer to them.
package main

/*
#include <stdint.h>
*/
import "C"

import (
	"bytes"
	"runtime"
	"unsafe"

	"golat/go_core/internal/clock"
	"golat/go_core/internal/gcctl"
	_ "golat/go_core/internal/httpload" // registers the "http" workload
	_ "golat/go_core/internal/pycall"   // registers the "python" workload
	"golat/go_core/internal/workload"
)

func main() {}

//export golat_version
func golat_version(out *C.char, outcap C.int64_t, n *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	return putBytes([]byte(version+" "+runtime.Version()), out, outcap, n, err, errcap)
}

//export golat_workload_kinds
func golat_workload_kinds(out *C.char, outcap C.int64_t, n *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	return putJSON(workload.Kinds(), out, outcap, n, err, errcap)
}

// golat_workload_echo decodes a workload spec as a run would and writes it back in the
// wire form the run reports it in (defaults filled in): the codec check from Python.
//
//export golat_workload_echo
func golat_workload_echo(doc *C.char, doclen C.int64_t, out *C.char, outcap C.int64_t, n *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	raw := C.GoBytes(unsafe.Pointer(doc), C.int(doclen))
	wl, e := workload.Decode(raw)
	if e != nil {
		return fail(statusConfig, e.Error(), err, errcap)
	}
	echo, e := workload.Echo(raw, wl)
	if e != nil {
		return fail(statusInternal, e.Error(), err, errcap)
	}
	return putBytes(echo, out, outcap, n, err, errcap)
}

//export golat_gc_percent
func golat_gc_percent(set C.int, value C.int64_t, prev *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	if set == 0 {
		*prev = C.int64_t(gcctl.Percent())
		return statusOK
	}
	if value < -1 {
		return fail(statusConfig, "gc percent must be -1 (off) or >= 0", err, errcap)
	}
	*prev = C.int64_t(gcctl.SetPercent(int(value)))
	return statusOK
}

//export golat_memory_limit
func golat_memory_limit(value C.int64_t, prev *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	*prev = C.int64_t(gcctl.SetMemoryLimit(int64(value)))
	return statusOK
}

//export golat_gc
func golat_gc(err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	runtime.GC()
	return statusOK
}

//export golat_gomaxprocs
func golat_gomaxprocs(n C.int, prev *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	if n < 0 {
		return fail(statusConfig, "gomaxprocs must be >= 1 (or 0 to read it)", err, errcap)
	}
	*prev = C.int64_t(runtime.GOMAXPROCS(int(n)))
	return statusOK
}

//export golat_metrics
func golat_metrics(out *C.char, outcap C.int64_t, n *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	return putJSON(gcctl.Read(), out, outcap, n, err, errcap)
}

//export golat_run_start
func golat_run_start(doc *C.char, doclen C.int64_t, handle *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	h, e := startRun(C.GoBytes(unsafe.Pointer(doc), C.int(doclen)))
	if e != nil {
		return fail(statusOf(e), e.Error(), err, errcap)
	}
	*handle = C.int64_t(h)
	return statusOK
}

//export golat_run_poll
func golat_run_poll(handle C.int64_t, state *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	r := lookupRun(int64(handle))
	if r == nil {
		return fail(statusNotFound, "no such run (already freed?)", err, errcap)
	}
	ended, reqs, elapsed := r.Poll()
	s := unsafe.Slice(state, 3)
	s[0], s[1], s[2] = 0, C.int64_t(reqs), C.int64_t(elapsed)
	if ended {
		s[0] = 1
	}
	return statusOK
}

//export golat_run_stop
func golat_run_stop(handle C.int64_t, wait C.int, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	r := lookupRun(int64(handle))
	if r == nil {
		return fail(statusNotFound, "no such run (already freed?)", err, errcap)
	}
	r.Stop()
	if wait != 0 {
		r.Wait()
	}
	return statusOK
}

// golat_run_result copies the run's report (JSON) into out and its histogram counts into
// counts (int64s). With a too-small buffer it fills n and ncounts with the sizes needed
// and returns statusBufferTooSmall. Blocks until the run has ended.
//
//export golat_run_result
func golat_run_result(handle C.int64_t, out *C.char, outcap C.int64_t, n *C.int64_t,
	counts *C.int64_t, countscap C.int64_t, ncounts *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	r := lookupRun(int64(handle))
	if r == nil {
		return fail(statusNotFound, "no such run (already freed?)", err, errcap)
	}
	doc, blocks, e := r.ResultJSON()
	if e != nil {
		return fail(statusInternal, e.Error(), err, errcap)
	}
	total := 0
	for _, b := range blocks {
		total += len(b)
	}
	*n, *ncounts = C.int64_t(len(doc)), C.int64_t(total)
	if int64(outcap) < int64(len(doc)) || int64(countscap) < int64(total) {
		return fail(statusBufferTooSmall, "result buffers too small", err, errcap)
	}
	copy(unsafe.Slice((*byte)(unsafe.Pointer(out)), len(doc)), doc)
	if total > 0 {
		dst := unsafe.Slice((*int64)(unsafe.Pointer(counts)), total)
		off := 0
		for _, b := range blocks {
			off += copy(dst[off:], b)
		}
	}
	return statusOK
}

//export golat_run_free
func golat_run_free(handle C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	if !freeRun(int64(handle)) {
		return fail(statusNotFound, "no such run (already freed?)", err, errcap)
	}
	return statusOK
}

//export golat_active_runs
func golat_active_runs(n *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	*n = C.int64_t(activeRuns())
	return statusOK
}

// golat_server_start starts a loopback HTTP server (`golat serve`) from a server document
// (see internal/httpserve.Config) and returns its handle.
//
//export golat_server_start
func golat_server_start(doc *C.char, doclen C.int64_t, handle *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	h, e := startServer(C.GoBytes(unsafe.Pointer(doc), C.int(doclen)))
	if e != nil {
		return fail(statusConfig, e.Error(), err, errcap)
	}
	*handle = C.int64_t(h)
	return statusOK
}

// golat_server_stats writes a snapshot of the server (address, requests and
// request-duration histogram per status, connections) as JSON.
//
//export golat_server_stats
func golat_server_stats(handle C.int64_t, out *C.char, outcap C.int64_t, n *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	s := lookupServer(int64(handle))
	if s == nil {
		return fail(statusNotFound, "no such server (already stopped?)", err, errcap)
	}
	return putJSON(s.Stats(), out, outcap, n, err, errcap)
}

// golat_server_metrics writes the server's Prometheus text page, as /metrics serves it.
//
//export golat_server_metrics
func golat_server_metrics(handle C.int64_t, out *C.char, outcap C.int64_t, n *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	s := lookupServer(int64(handle))
	if s == nil {
		return fail(statusNotFound, "no such server (already stopped?)", err, errcap)
	}
	var b bytes.Buffer
	if e := s.WritePrometheus(&b); e != nil {
		return fail(statusInternal, e.Error(), err, errcap)
	}
	return putBytes(b.Bytes(), out, outcap, n, err, errcap)
}

// golat_server_stop stops the server (in-flight requests get up to 2 s) and frees it.
//
//export golat_server_stop
func golat_server_stop(handle C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	if !stopServer(int64(handle)) {
		return fail(statusNotFound, "no such server (already stopped?)", err, errcap)
	}
	return statusOK
}

// golat_clock_pair_loop runs n iterations of a plain Go loop that reads the clock twice
// and writes the total ns into ns: the harness floor's reference for benchmarks/.
//
//export golat_clock_pair_loop
func golat_clock_pair_loop(n C.int64_t, ns *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	if n < 1 {
		return fail(statusConfig, "n must be >= 1", err, errcap)
	}
	*ns = C.int64_t(clock.PairLoop(int64(n)))
	return statusOK
}

// golat_pool_new starts a pool of worker threads set up as doc says (pinned, policy,
// memory policy); they persist, idle, between runs until golat_pool_close.
//
//export golat_pool_new
func golat_pool_new(doc *C.char, doclen C.int64_t, handle *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	h, e := newPool(C.GoBytes(unsafe.Pointer(doc), C.int(doclen)))
	if e != nil {
		return fail(statusOf(e), e.Error(), err, errcap)
	}
	*handle = C.int64_t(h)
	return statusOK
}

//export golat_pool_info
func golat_pool_info(handle C.int64_t, out *C.char, outcap C.int64_t, n *C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	info, ok := poolInfo(int64(handle))
	if !ok {
		return fail(statusNotFound, "no such pool (already closed?)", err, errcap)
	}
	return putJSON(info, out, outcap, n, err, errcap)
}

//export golat_pool_close
func golat_pool_close(handle C.int64_t, err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	if !closePool(int64(handle)) {
		return fail(statusNotFound, "no such pool (already closed?)", err, errcap)
	}
	return statusOK
}

// golat_panic_for_test panics on purpose, so tests can prove a Go panic becomes a
// Python exception and the interpreter survives.
//
//export golat_panic_for_test
func golat_panic_for_test(err *C.char, errcap C.int) (st C.int) {
	defer guard(&st, err, errcap)
	var m map[string]int
	m["boom"] = 1 // nil map write: a real runtime panic, not a panic() call
	return statusOK
}
