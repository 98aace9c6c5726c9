"""golat.measure: a Python callable driven by the Go request loop.

The Go worker calls a cffi callback for every request (go_core/internal/pycall), so the
arrival schedule, the clock reads and the histograms are the same as for Go workloads; only
the request body is Python. What that path costs (the harness floor) is measured with a
function that does nothing and reported beside the result.
"""

from __future__ import annotations

import gc
import time
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from . import _native, _units
from ._params import Int
from ._result import Result, summarize
from ._run import Progress, execute, prepare
from ._settings import RunSettings
from .errors import ConfigError
from .workloads import Workload, param

PYTHON_GC = (None, "disable", "freeze")
FLOOR_REQUESTS = 2000  # calls of a do-nothing function: enough for a stable P50 and P99
FLOOR_WARMUP_S = 0.005

# The callback's return codes; go_core/internal/pycall/pycall.go reads them.
_RETURNED, _RAISED, _STOP = 0, 1, 2


@dataclass(frozen=True)
class _PythonCall(Workload):
    """The "python" workload: ``fn`` is the address of the cffi callback (private: an
    address is only meaningful inside this process, while its callback object lives)."""

    fn: int = param(Int(0, (1 << 64) - 1))
    kind: ClassVar[str] = "python"


class _Calls:
    """The Python end of the callback: calls ``fn``, counts what it raises, keeps the first
    exception's traceback and says when the run must stop."""

    def __init__(self, fn: Callable[[], object], max_errors: int | None) -> None:
        self.errors = 0
        self.first_error: str | None = None
        self.fatal: BaseException | None = None
        self._max_errors = max_errors
        self.call = self._make_call(fn)

    def _make_call(self, fn: Callable[[], object]) -> Callable[[], int]:
        failed = self._failed

        def call() -> int:  # the hot path: one try block and a call
            try:
                fn()
            except BaseException as exc:  # noqa: BLE001 - counted, kept and reported
                return failed(exc)
            return _RETURNED

        return call

    def _failed(self, exc: BaseException) -> int:
        if not isinstance(exc, Exception):  # SystemExit, KeyboardInterrupt ...: re-raised later
            self.fatal = exc
            return _STOP
        self.errors += 1
        if self.first_error is None:
            lines = traceback.format_exception(type(exc), exc, exc.__traceback__)
            self.first_error = "".join(lines)
        if self._max_errors is not None and self.errors >= self._max_errors:
            return _STOP
        return _RAISED


class _PythonGCActivity:
    """Counts the Python collector's runs and times its pauses through ``gc.callbacks``."""

    def __init__(self) -> None:
        self.collections = [0, 0, 0]
        self.pause_total_ns = 0
        self.pause_max_ns = 0
        self._started = 0

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._started = time.perf_counter_ns()
            return
        pause = time.perf_counter_ns() - self._started
        self.collections[min(int(info.get("generation", 0)), 2)] += 1
        self.pause_total_ns += pause
        self.pause_max_ns = max(self.pause_max_ns, pause)

    def report(self) -> dict[str, Any]:
        return {
            "collections": list(self.collections),
            "pause_total_ns": self.pause_total_ns,
            "pause_max_ns": self.pause_max_ns,
        }


@contextmanager
def python_gc_policy(setting: str | None) -> Iterator[_PythonGCActivity]:
    """Apply ``python_gc`` for the duration of the block, watching the collector; the
    previous state is restored on the way out, also when the block raises.

    ``"disable"``: ``gc.disable()``, re-enabled after if it was enabled.
    ``"freeze"``: ``gc.collect()`` then ``gc.freeze()`` (objects alive now are never scanned
    again; the collector still runs for new objects), ``gc.unfreeze()`` after. If objects
    were already frozen before, nothing is unfrozen: Python cannot unfreeze only ours.
    """
    if setting not in PYTHON_GC:
        raise ConfigError(f"python_gc must be None, 'disable' or 'freeze', got {setting!r}")
    was_enabled = gc.isenabled()
    frozen_before = gc.get_freeze_count()
    watch = _PythonGCActivity()
    if setting == "disable":
        gc.disable()
    elif setting == "freeze":
        gc.collect()
        gc.freeze()
    gc.callbacks.append(watch)
    try:
        yield watch
    finally:
        gc.callbacks.remove(watch)
        if setting == "freeze" and frozen_before == 0:
            gc.unfreeze()
        if was_enabled:
            gc.enable()


def _validate(fn: object, max_errors: object) -> int | None:
    if isinstance(fn, Workload):
        raise ConfigError("fn is a golat workload: run it with golat.run(), not golat.measure()")
    if not callable(fn):
        raise ConfigError(f"fn must be a callable taking no arguments, got {fn!r}")
    if max_errors is None:
        return None
    return int(_units.number("max_errors", max_errors, minimum=1, strict_min=False, integer=True))


def _drive(fn: Callable[[], object], max_errors: int | None, progress: Progress | None,
           settings: RunSettings) -> tuple[Result, _Calls]:  # fmt: skip
    calls = _Calls(fn, max_errors)
    cb, address = _native.request_callback(calls.call)
    prep = prepare(_PythonCall(address), settings, stacklevel=5)
    try:
        result = execute(prep, progress, warn_stacklevel=5)
    finally:
        del cb  # only now may cffi free the callback: the run is over and freed
    if calls.fatal is not None:
        raise calls.fatal
    return result, calls


def harness_floor(*, requests: int = FLOOR_REQUESTS, precision: int = 2) -> Result:
    """Measure the harness floor: a Python function that does nothing, called ``requests``
    times back to back through the same Go -> C -> Python path :func:`measure` uses.

    Its service time is the cost golat adds to every call of a measured function (Go's
    call into C, cffi's callback, taking and releasing the GIL, two clock reads).
    """
    settings = RunSettings(requests=requests, warmup=FLOOR_WARMUP_S, precision=precision)
    result, _ = _drive(lambda: None, None, None, settings)
    return result


def measure(
    fn: Callable[[], object], settings: RunSettings | None = None, *,
    python_gc: str | None = None, max_errors: int | None = 1, floor: bool = True,
    progress: Progress | None = None, **overrides: Any,
) -> Result:  # fmt: skip
    """Call ``fn()`` under golat's arrival schedule and measure each call's latency.

    The Go request loop calls ``fn`` for every request (through a cffi callback that takes
    the GIL), so latency is measured exactly as for Go workloads: from each request's
    intended start (coordinated omission corrected) and, as service time, from its actual
    start. A call that is late because the previous one ran long shows its wait.

    Args:
        fn: the function to measure, called with no arguments. Its return value is ignored.
        settings: a :class:`golat.RunSettings`; keyword ``overrides`` change any of its
            settings, as for :func:`golat.run`: ``rate`` (calls/s, open loop; None: back
            to back), ``duration``, ``requests``, ``warmup``, ``arrivals``, ``stall``,
            ``gc`` (the Go collector's setting, not Python's), ``workers`` (request loops
            calling ``fn`` concurrently; they share the GIL, so more than one only helps a
            function that releases it), ``cpus`` ...
        python_gc: ``None`` (leave Python's collector alone), ``"disable"``
            (``gc.disable()``) or ``"freeze"`` (``gc.collect(); gc.freeze()``) during the
            run; restored after, also on failure.
        max_errors: the run ends once ``fn`` has raised this many exceptions (warm-up
            included); ``None`` never ends it for errors. A call that raised is still timed.
        floor: also measure the harness floor (see :func:`harness_floor`, about 2000 calls)
            and report it.
        progress: called about every 0.2 s (50 ms near the planned end) with (calls so
            far, elapsed s, planned s).

    Returns:
        A :class:`golat.Result`, values in ns. ``result.extra["python"]`` holds
        ``errors`` (how many calls raised), ``first_error`` (its traceback text, or None),
        ``python_gc`` (the setting), ``gc`` (Python collections per generation and their
        pause total and max in ns, during the run including warm-up) and, with ``floor``,
        ``harness_floor_ns`` (P50 ... P99.99, max, mean, stddev of the floor's service time).

    Raises:
        ConfigError: a bad argument. CoreError: the Go core failed. Whatever non-Exception
        ``fn`` raised (``SystemExit``, ``KeyboardInterrupt``), after the run has stopped.

    A warning (RuntimeWarning) says how many calls raised, with the first traceback;
    an OverloadWarning says when the calls could not keep up with ``rate``.
    Ctrl-C stops the run cleanly; a call in progress is allowed to finish first.
    """
    max_errors = _validate(fn, max_errors)
    s = RunSettings.build(settings, overrides, "golat.measure")
    if python_gc not in PYTHON_GC:
        raise ConfigError(f"python_gc must be None, 'disable' or 'freeze', got {python_gc!r}")
    prepare(_PythonCall(1), s, stacklevel=3)  # reject bad settings before anything runs
    floor_result = harness_floor(precision=s.precision) if floor else None
    with python_gc_policy(python_gc) as watch:
        result, calls = _drive(fn, max_errors, progress, s)
    py: dict[str, Any] = {
        "errors": calls.errors,
        "first_error": calls.first_error,
        "python_gc": python_gc,
        "gc": watch.report(),
    }
    if floor_result is not None:
        py["harness_floor_ns"] = summarize(floor_result.service)
    result.extra["python"] = py
    result.config["workload"] = {"kind": "python", "fn": _describe(fn)}
    if calls.errors:
        warnings.warn(
            f"golat.measure: {calls.errors} call(s) of {_describe(fn)} raised; the first:\n"
            f"{calls.first_error}",
            RuntimeWarning,
            stacklevel=2,
        )
    return result


def _describe(fn: object) -> str:
    name = getattr(fn, "__qualname__", None) or getattr(fn, "__name__", None) or repr(fn)
    module = getattr(fn, "__module__", None)
    return f"{module}.{name}" if module else str(name)
