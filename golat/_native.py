"""The only module that touches cffi: the C declarations, loading the Go core on first
use, and turning the core's status codes into golat exceptions.

The Go runtime starts when the library is loaded, so nothing here runs at import time:
``import golat`` must stay cheap and must not start Go threads. The runtime does not
survive ``fork()`` (golang/go#15538): a forked child that calls the core gets
:class:`~golat.errors.CoreUnusableAfterFork` instead of a hang.
"""

from __future__ import annotations

import json
import os
import threading
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from . import errors

# Kept equal to the header `go build -buildmode=c-shared` writes for go_core/main.go;
# tests/test_native.py compares the two.
CDEF = """
int golat_version(char* out, int64_t outcap, int64_t* n, char* err, int errcap);
int golat_workload_kinds(char* out, int64_t outcap, int64_t* n, char* err, int errcap);
int golat_workload_echo(char* doc, int64_t doclen, char* out, int64_t outcap, int64_t* n, char* err, int errcap);
int golat_gc_percent(int set, int64_t value, int64_t* prev, char* err, int errcap);
int golat_memory_limit(int64_t value, int64_t* prev, char* err, int errcap);
int golat_gc(char* err, int errcap);
int golat_gomaxprocs(int n, int64_t* prev, char* err, int errcap);
int golat_metrics(char* out, int64_t outcap, int64_t* n, char* err, int errcap);
int golat_run_start(char* doc, int64_t doclen, int64_t* handle, char* err, int errcap);
int golat_run_poll(int64_t handle, int64_t* state, char* err, int errcap);
int golat_run_stop(int64_t handle, int wait, char* err, int errcap);
int golat_run_result(int64_t handle, char* out, int64_t outcap, int64_t* n, int64_t* counts, int64_t countscap, int64_t* ncounts, char* err, int errcap);
int golat_run_free(int64_t handle, char* err, int errcap);
int golat_active_runs(int64_t* n, char* err, int errcap);
int golat_server_start(char* doc, int64_t doclen, int64_t* handle, char* err, int errcap);
int golat_server_stats(int64_t handle, char* out, int64_t outcap, int64_t* n, char* err, int errcap);
int golat_server_metrics(int64_t handle, char* out, int64_t outcap, int64_t* n, char* err, int errcap);
int golat_server_stop(int64_t handle, char* err, int errcap);
int golat_clock_pair_loop(int64_t n, int64_t* ns, char* err, int errcap);
int golat_pool_new(char* doc, int64_t doclen, int64_t* handle, char* err, int errcap);
int golat_pool_info(int64_t handle, char* out, int64_t outcap, int64_t* n, char* err, int errcap);
int golat_pool_close(int64_t handle, char* err, int errcap);
int golat_panic_for_test(char* err, int errcap);
"""

# Status codes, as go_core/status.go defines them.
OK, CONFIG, PERMISSION, UNSUPPORTED, INTERNAL, NOT_FOUND, BUFFER_TOO_SMALL = range(7)
_EXCEPTIONS: dict[int, type[errors.GolatError]] = {
    CONFIG: errors.ConfigError,
    PERMISSION: errors.PermissionDenied,
    UNSUPPORTED: errors.Unsupported,
    INTERNAL: errors.CoreError,
    NOT_FOUND: errors.CoreError,
}
_ERRCAP = 8192

_lock = threading.Lock()
_ffi: Any = None
_lib: Any = None
_loaded_pid: int | None = None


def library_path() -> Path:
    """Path of the Go shared library (``GOLAT_LIBRARY`` overrides, for development)."""
    override = os.environ.get("GOLAT_LIBRARY")
    if override:
        return Path(override)
    here = Path(__file__).resolve().parent
    found = sorted(here.glob("_golat*.so"))
    if not found:
        raise errors.CoreNotBuilt(
            f"golat's Go core (_golat*.so) is not in {here}: build it with `pip install .` "
            "(or `pip install -e .` in a checkout)"
        )
    return found[0]


def stale_source(library: Path) -> Path | None:
    """In a source checkout (``go_core/`` beside the package), the newest Go source file
    changed after ``library`` was built, or None: a core older than its sources decodes
    the documents of the newer Python side and refuses their new keys as unknown."""
    root = library.parent.parent / "go_core"
    if not root.is_dir():
        return None
    try:
        built = library.stat().st_mtime
        newest = max(((f.stat().st_mtime, f) for f in root.rglob("*.go")
                      if not f.name.endswith("_test.go")), default=None)  # fmt: skip
    except OSError:
        return None
    return newest[1] if newest and newest[0] > built else None


def is_loaded() -> bool:
    """Whether this process has loaded the Go core (and so started a Go runtime)."""
    return _lib is not None


def _get() -> tuple[Any, Any]:
    global _ffi, _lib, _loaded_pid
    if _lib is not None:
        if os.getpid() != _loaded_pid:
            raise errors.CoreUnusableAfterFork(
                "the Go core was loaded before this process was forked, and the Go runtime "
                "does not survive fork(); start workers with the 'spawn' or 'forkserver' "
                "multiprocessing context, or load golat only in the child"
            )
        return _ffi, _lib
    with _lock:
        if _lib is None:
            from cffi import FFI

            ffi = FFI()
            ffi.cdef(CDEF)
            path = library_path()
            if (src := stale_source(path)) is not None:
                warnings.warn(errors.StaleCoreWarning(
                    f"golat's Go core {path.name} is older than {src}: rebuild it with "
                    "`pip install -e .` (an older core refuses settings it does not know)"),
                    stacklevel=3)  # fmt: skip
            try:
                lib = ffi.dlopen(str(path))
            except OSError as err:
                raise errors.CoreNotBuilt(f"cannot load golat's Go core {path}: {err}") from err
            _ffi, _loaded_pid, _lib = ffi, os.getpid(), lib
    return _ffi, _lib


def _check(status: int, err: Any, ffi: Any) -> None:
    if status == OK:
        return
    msg = ffi.string(err).decode("utf-8", "replace") or f"status {status}"
    raise _EXCEPTIONS.get(status, errors.CoreError)(msg)


def _call(name: str, *args: Any) -> None:
    ffi, lib = _get()
    err = ffi.new("char[]", _ERRCAP)
    _check(getattr(lib, name)(*args, err, _ERRCAP), err, ffi)


def _call_out(name: str, *args: Any, cap: int = 1 << 16) -> bytes:
    """Call an export that fills a byte buffer, growing the buffer when asked to."""
    ffi, lib = _get()
    err = ffi.new("char[]", _ERRCAP)
    n = ffi.new("int64_t*")
    while True:
        out = ffi.new("char[]", cap)
        st = getattr(lib, name)(*args, out, cap, n, err, _ERRCAP)
        if st == BUFFER_TOO_SMALL:
            cap = int(n[0])
            continue
        _check(st, err, ffi)
        return bytes(ffi.buffer(out, int(n[0])))


def _int64_out(name: str, *args: Any) -> int:
    ffi, _ = _get()
    out = ffi.new("int64_t*")
    _call(name, *args, out)
    return int(out[0])


# --- the exports, with the same names as in go_core/main.go ---------------------------


def version() -> tuple[str, str]:
    """(golat core version, Go version) as the core reports them."""
    core, go = _call_out("golat_version").decode().split(" ", 1)
    return core, go


def workload_kinds() -> list[str]:
    return json.loads(_call_out("golat_workload_kinds"))


def workload_echo(spec: dict[str, Any]) -> dict[str, Any]:
    """The workload spec as the core decodes it and reports it after a run (defaults
    filled in). Raises ConfigError for a spec the core refuses (naming an unknown key)."""
    ffi, _ = _get()
    raw = json.dumps(spec).encode()
    return json.loads(_call_out("golat_workload_echo", ffi.new("char[]", raw), len(raw)))


def gc_percent(value: int | None = None) -> int:
    """Read (value None) or set the GC percent; returns the previous value."""
    if value is None:
        return _int64_out("golat_gc_percent", 0, 0)
    return _int64_out("golat_gc_percent", 1, value)


def memory_limit(value: int = -1) -> int:
    """Set the soft memory limit in bytes (negative: only read); returns the previous one."""
    return _int64_out("golat_memory_limit", value)


def gc() -> None:
    _call("golat_gc")


def gomaxprocs(n: int = 0) -> int:
    return _int64_out("golat_gomaxprocs", n)


def metrics() -> dict[str, Any]:
    return json.loads(_call_out("golat_metrics"))


def run_start(doc: dict[str, Any]) -> int:
    ffi, _ = _get()
    raw = json.dumps(doc).encode()
    buf = ffi.new("char[]", raw)
    return _int64_out("golat_run_start", buf, len(raw))


def run_poll(handle: int) -> tuple[bool, int, int]:
    """(ended, requests served so far, ns since start)."""
    ffi, _ = _get()
    state = ffi.new("int64_t[3]")
    _call("golat_run_poll", handle, state)
    return bool(state[0]), int(state[1]), int(state[2])


def run_stop(handle: int, wait: bool = True) -> None:
    _call("golat_run_stop", handle, 1 if wait else 0)


def run_result(handle: int) -> tuple[dict[str, Any], np.ndarray]:
    """The run's report and all its histogram counts, in buffers Python owns."""
    ffi, lib = _get()
    err = ffi.new("char[]", _ERRCAP)
    n, nc = ffi.new("int64_t*"), ffi.new("int64_t*")
    cap, ccap = 1 << 16, 0
    while True:
        out = ffi.new("char[]", cap)
        counts = np.zeros(max(ccap, 1), dtype=np.int64)
        st = lib.golat_run_result(
            handle, out, cap, n, ffi.from_buffer("int64_t[]", counts), ccap, nc, err, _ERRCAP
        )
        if st == BUFFER_TOO_SMALL:
            cap, ccap = max(cap, int(n[0])), int(nc[0])
            continue
        _check(st, err, ffi)
        report = json.loads(bytes(ffi.buffer(out, int(n[0]))))
        return report, counts[: int(nc[0])]


def run_free(handle: int) -> None:
    _call("golat_run_free", handle)


def active_runs() -> int:
    return _int64_out("golat_active_runs")


def _start(name: str, doc: dict[str, Any]) -> int:
    """Call an export that takes a JSON document and returns a handle."""
    ffi, _ = _get()
    raw = json.dumps(doc).encode()
    return _int64_out(name, ffi.new("char[]", raw), len(raw))


def pool_new(doc: dict[str, Any]) -> int:
    """Start a pool of set-up worker threads; returns its handle."""
    return _start("golat_pool_new", doc)


def pool_info(handle: int) -> dict[str, Any]:
    return json.loads(_call_out("golat_pool_info", handle))


def pool_close(handle: int) -> None:
    _call("golat_pool_close", handle)


def server_start(doc: dict[str, Any]) -> int:
    """Start a loopback HTTP server from a server document; returns its handle."""
    return _start("golat_server_start", doc)


def server_stats(handle: int) -> dict[str, Any]:
    return json.loads(_call_out("golat_server_stats", handle))


def server_metrics(handle: int) -> str:
    """The server's Prometheus text page."""
    return _call_out("golat_server_metrics", handle).decode()


def server_stop(handle: int) -> None:
    _call("golat_server_stop", handle)


def request_callback(call: Any) -> tuple[Any, int]:
    """Wrap ``call() -> int`` as a C ``int (*)(void)`` the "python" workload calls for each
    request; returns (the cffi callback, its address). The caller must keep the callback
    alive until the core can no longer call it (the run is freed).

    cffi takes the GIL inside the callback (the Go thread is not one Python made) and the
    GIL is free meanwhile, because cffi releases it during every call into the core. If
    ``call`` itself raises, cffi prints the traceback and the callback returns 2: stop.
    """
    ffi, _ = _get()
    cb = ffi.callback("int(void)", call, error=2)
    return cb, int(ffi.cast("uintptr_t", cb))


def clock_pair_loop(n: int) -> int:
    """ns a plain Go loop of n iterations, each reading the clock twice, took."""
    return _int64_out("golat_clock_pair_loop", n)


def panic_for_test() -> None:
    _call("golat_panic_for_test")
