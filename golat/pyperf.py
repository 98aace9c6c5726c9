"""golat inside pyperf suites: one latency statistic per golat run, as pyperf values.

::

    import pyperf
    import golat.pyperf
    from golat.workloads import Spin

    runner = pyperf.Runner()
    golat.pyperf.bench_latency(runner, "spin-10us p99", Spin(ns=10_000), rate=20_000,
                               duration=0.5)

Each pyperf value is the chosen statistic (``stat``, default P99) of one golat run, in
seconds, so ``python -m pyperf stats``, ``hist``, ``compare_to`` and ``check`` read the
output as any pyperf benchmark: the mean and spread they show are those of the per-run P99
across pyperf's worker processes. Every run (worker process) also carries, in its metadata,
the percentiles of its value runs merged (``golat_p50`` ... ``golat_p99_99``,
``golat_max``, ``golat_stddev``, seconds), ``golat_requests`` and ``golat_latency_hdr``
(the merged histogram, ns, HdrHistogram compressed V2; :meth:`golat.Histogram.decode`).

This module is named like the pyperf package: it imports pyperf by absolute name only.
"""

from __future__ import annotations

from typing import Any, Callable

from ._histogram import Histogram
from ._measure import _PythonCall, measure
from ._result import Result, stat_value, summarize
from ._run import prepare, run
from ._settings import RunSettings
from .errors import ConfigError
from .workloads import Workload

__all__ = ["bench_latency", "DEFAULT_DURATION_S"]

DEFAULT_DURATION_S = 1.0  # per pyperf value; pyperf makes (warmups + values) x processes
WHICH = ("latency", "service", "start_delay")


def _check_stat(stat: str, which: str) -> None:
    if which not in WHICH:
        raise ConfigError(f"which must be one of {', '.join(WHICH)}, got {which!r}")
    stat_value(Histogram(), stat)  # raises ConfigError for a statistic it does not know


def bench_latency(
    runner: Any, name: str, workload: Workload | Callable[[], object], stat: str = "p99", *,
    which: str = "latency", metadata: dict[str, Any] | None = None,
    settings: RunSettings | None = None, **run_settings: Any,
) -> Any:  # fmt: skip
    """Benchmark ``workload``'s tail latency with a :class:`pyperf.Runner`.

    Args:
        runner: the suite's ``pyperf.Runner``.
        name: the benchmark's name.
        workload: a golat workload (run by :func:`golat.run`) or a Python callable (run by
            :func:`golat.measure`).
        stat: the statistic stored as each pyperf value, in seconds: ``"p50"``, ``"p99"``,
            ``"p99.9"``, ``"max"``, ``"mean"`` ...
        which: ``"latency"`` (from the intended start), ``"service"`` or ``"start_delay"``.
        metadata: extra pyperf metadata for the benchmark.
        settings, run_settings: a :class:`golat.RunSettings` and keyword overrides of it
            (``rate``, ``duration``, ``warmup`` ...), as :func:`golat.run` and
            :func:`golat.measure` take them (for callables also ``python_gc``,
            ``max_errors`` and ``floor``). Without ``duration`` or ``requests`` each value
            is a 1 s run. For callables the harness floor is left out unless ``floor=True``.

    Returns:
        What ``runner.bench_time_func`` returns: the ``pyperf.Benchmark`` (None in workers
        that do not run this benchmark).

    Each value is one run, whatever pyperf's ``--loops`` says: with the default (0, "calibrate")
    this function runs with 1 loop instead, because calibration would repeat runs until
    ``loops * P99`` exceeds pyperf's ``--min-time``.

    Raises:
        ConfigError: a bad workload, statistic or run setting, before any worker starts.
    """
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"name must be a non-empty string, got {name!r}")
    _check_stat(stat, which)
    py_options = {k: run_settings.pop(k) for k in PY_ONLY if k in run_settings}
    s = RunSettings.build(settings, run_settings, "golat.pyperf.bench_latency")
    if s.duration is None and s.requests is None:
        s = s.replace(duration=DEFAULT_DURATION_S)
    once = _runner_for(workload, s, py_options)
    md = {"golat_stat": stat, "golat_which": which, "golat_workload": _describe(workload),
          "golat_rate": float(s.rate or 0.0), "unit": "second"}  # fmt: skip
    md.update(metadata or {})
    merged: list[Histogram] = []

    def task_func(task: Any, loops: int) -> float:
        result = once()
        if task is not None and len(task.warmups) >= (task.args.warmups or 0):
            _record(task.metadata, merged, result, which)
        return result.value(stat, which) / 1e9 * loops

    args = runner.parse_args()
    calibrate = not args.loops and not args.worker
    if calibrate:
        args.loops = 1
    try:
        return _bench(runner, name, task_func, md)
    finally:
        if calibrate:
            args.loops = 0


PY_ONLY = ("python_gc", "max_errors", "floor")  # golat.measure's own options


def _runner_for(workload: object, settings: RunSettings,
                py_options: dict[str, Any]) -> Callable[[], Result]:  # fmt: skip
    """Validate now (in the master, before workers start) and return a run-once function."""
    if isinstance(workload, Workload):
        if py_options:
            raise ConfigError(f"{', '.join(py_options)} are for Python callables, not for "
                              f"the workload {workload}")  # fmt: skip
        prepare(workload, settings)
        return lambda: run(workload, settings)
    if callable(workload):
        py_options.setdefault("floor", False)
        prepare(_PythonCall(1), settings)
        return lambda: measure(workload, settings, **py_options)
    raise ConfigError(f"workload must be a golat workload or a callable, got {workload!r}")


def _record(md: dict[str, Any], merged: list[Histogram], result: Result, which: str) -> None:
    """Merge this value run into the worker's histogram and write its percentiles (s)."""
    h = getattr(result, which)
    if merged:
        merged[0].merge(h)
    else:
        merged.append(h.copy())
    for key, ns in summarize(merged[0]).items():
        md[f"golat_{key}"] = ns / 1e9
    md["golat_requests"] = int(merged[0].count)
    md["golat_latency_hdr" if which == "latency" else f"golat_{which}_hdr"] = merged[0].encode()


def _bench(runner: Any, name: str, task_func: Callable[[Any, int], float],
           metadata: dict[str, Any]) -> Any:  # fmt: skip
    """Run the task the way ``runner.bench_time_func`` does, but with access to pyperf's
    worker task, whose metadata become the run's: the only way pyperf offers to attach
    per-run metadata. Falls back to the public API (no per-run percentiles) if pyperf's
    internals change."""
    try:
        from pyperf._worker import WorkerProcessTask  # absolute: the pyperf package

        private_ok = hasattr(runner, "_main") and hasattr(runner, "_check_worker_task")
    except ImportError:
        private_ok = False
    if not private_ok:
        return runner.bench_time_func(name, lambda loops: task_func(None, loops), metadata=metadata)
    if not runner._check_worker_task():
        return None
    return runner._main(WorkerProcessTask(runner, name, task_func, metadata))


def _describe(workload: object) -> str:
    if isinstance(workload, Workload):
        return str(workload)
    name = getattr(workload, "__qualname__", None) or repr(workload)
    return f"python:{getattr(workload, '__module__', '')}.{name}"
