"""golat.run: one request loop (or several workers) in the Go core, started, polled and
stopped from Python so that Ctrl-C ends it cleanly and progress can be shown.

Every entry point (run, Pool.run, measure, a compare trial, the CLI) turns its arguments
into a :class:`~golat.RunSettings` and a workload, and :func:`prepare` turns those into the
run document the core reads; :func:`execute` runs it.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

from . import _env, _interrupts, _native, _placement, _pmqos, _threads, _topology, runtime
from ._result import Result
from ._settings import RunSettings, Stall
from .errors import ConfigError, CoreError, OverloadWarning
from .workloads import MemChase, Workload

__all__ = ["Prepared", "Stall", "execute", "prepare", "run"]

# How often a running run is polled. Ctrl-C does not wait for a poll (it interrupts the
# sleep); a poll only notices the run's end and feeds progress. Each poll wakes this thread,
# which then competes with the workers for a CPU: benchmarks/truth.py (--variants poll0.5)
# measured a pinned worker's involuntary switches at 1,013 with 50 ms polls and 600 with
# 500 ms ones (medians of 7, ρ 0.8 on a loaded 2-core VM). So a run is polled every POLL_S
# once its planned end is near or unknown, and before that slept toward it in steps of at
# most POLL_FAR_S (PROGRESS_S while a progress display is fed).
POLL_S = 0.05
POLL_FAR_S = 0.5
PROGRESS_S = 0.2

Progress = Callable[[int, float, float], None]  # (requests so far, elapsed s, planned s or nan)


@dataclass
class Prepared:
    """A run ready to start: its settings and workload, the document the core reads, and
    the notes its Result will carry."""

    workload: Workload
    settings: RunSettings
    doc: dict[str, Any]
    notes: dict[str, Any] = field(default_factory=dict)


def check_workload(workload: object) -> Workload:
    if not isinstance(workload, Workload) or type(workload) is Workload:
        raise ConfigError(
            f"workload must be a golat.workloads workload (Noop(), Spin(ns), ...), got {workload!r}"
        )
    return workload


def prepare(
    workload: Workload, settings: RunSettings, *, plan: _threads.ThreadPlan | None = None,
    stacklevel: int = 4,
) -> Prepared:  # fmt: skip
    """Check ``settings`` against ``workload`` and this machine and build the run
    document. ``plan``: the threads of a pool (else resolved from the settings). Raises
    ConfigError (and warns) as :func:`run` does."""
    check_workload(workload)
    if settings.rate is not None and workload.self_paced:
        raise ConfigError(
            f"{type(workload).__name__} keeps its own schedule (Timer: one wake-up per "
            "interval and worker; Jitter: back to back for the whole run); leave rate unset"
        )
    if plan is None:
        plan = _threads.plan_for(settings, wants_thread=workload.wants_thread,
                                 stacklevel=stacklevel + 1)  # fmt: skip
    if plan.realtime and settings.planned_duration is None:
        raise ConfigError(
            f"a real-time ({plan.policy}:{plan.priority}) run needs a bounded duration: give "
            "duration= (seconds), not only requests="
        )
    workload.check_run(workers=plan.workers, settings=settings)
    check_node(workload)
    doc = settings.core_doc(workload.spec(), plan, runtime.default_memory_limit())
    return Prepared(workload, settings, doc, thread_notes(workload, plan))


def thread_notes(workload: Workload, plan: _threads.ThreadPlan) -> dict[str, Any]:
    """What a result says about NUMA on this machine, beside the core's report."""
    out: dict[str, Any] = {"numa_nodes": plan.node_count}
    if plan.node_count == 1 and (plan.numa or isinstance(workload, MemChase)):
        out["numa_note"] = (
            "this machine has one NUMA node: all memory is local, so placement holds "
            "trivially and local vs remote latency cannot be compared here"
        )
    if plan.cpus_note:
        out["placement_note"] = plan.cpus_note
    return out


def check_node(workload: Workload) -> None:
    """A MemChase bound to a node needs that node here (ConfigError naming those present)."""
    if isinstance(workload, MemChase) and workload.node is not None:
        from ._topology import check_node as check
        from ._topology import topology

        check(topology(), workload.node)


def execute(
    prep: Prepared, progress: Progress | None = None, *, keep_on_interrupt: bool = False,
    pool: int | None = None, warn_stacklevel: int = 3,
) -> Result:  # fmt: skip
    """Start a prepared run in the core, poll it to the end and collect its Result.

    Ctrl-C (KeyboardInterrupt) stops the run and waits for its workers: nothing is left
    running in the core. Then the interrupt propagates, or, with ``keep_on_interrupt``, the
    result measured so far is returned with ``interrupted`` set. ``pool``: the handle of
    the pool to run on. A run that fell short of its rate warns (:class:`OverloadWarning`).
    """
    doc = dict(prep.doc, pool=pool) if pool is not None else prep.doc
    cpu = _cpu_s()
    with _pmqos.cpu_dma_latency(prep.settings.cpu_dma_latency):
        result = _execute(doc, progress, keep_on_interrupt)
    result.extra["process"] = process_facts(cpu)
    result.settings = prep.settings
    result.extra.update(prep.notes)
    if any(w.extra.get("placement") for w in result.workers):
        _placement.annotate(result, _topology.topology())
    if prep.settings.cpu_dma_latency is not None:
        result.extra["cpu_dma_latency_us"] = round(prep.settings.cpu_dma_latency * 1e6)
    if result.workload is not None and result.workload.kind == "jitter" and (
        "asyncpreemptoff=1" not in result.extra.get("godebug", "")
    ):  # fmt: skip
        result.extra["jitter_note"] = JITTER_NOTE
    if result.overload is not None:
        warnings.warn(OverloadWarning(result.overload), stacklevel=warn_stacklevel)
    return result


def _cpu_s() -> float:
    import resource

    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def process_facts(cpu_before: float) -> dict[str, Any]:
    """The process after a run: OS threads now (the Go runtime keeps the threads it
    made, so this is its peak), peak resident memory (bytes, since the process started)
    and CPU time the run took (s, every thread of the process, poll loop included)."""
    import resource

    threads = -1
    try:
        with open("/proc/self/status") as f:
            threads = next(int(x.split()[1]) for x in f if x.startswith("Threads:"))
    except (OSError, StopIteration, ValueError):
        pass
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"threads": threads, "max_rss_bytes": ru.ru_maxrss * 1024,
            "cpu_s": round(ru.ru_utime + ru.ru_stime - cpu_before, 3)}  # fmt: skip


def _execute(doc: dict[str, Any], progress: Progress | None, keep_on_interrupt: bool) -> Result:
    planned = (doc["warmup_ns"] + doc["duration_ns"]) / 1e9 if doc["duration_ns"] else math.nan
    handle = None
    try:
        try:
            with _interrupts.deferred():  # a Ctrl-C now comes once the handle is kept
                handle = _native.run_start(doc)
            while True:
                ended, served, elapsed_ns = _native.run_poll(handle)
                if progress is not None:
                    progress(served, elapsed_ns / 1e9, planned)
                if ended:
                    break
                time.sleep(poll_interval(elapsed_ns / 1e9, planned, progress is not None))
        except KeyboardInterrupt:
            if handle is None:
                raise
            stop_and_wait(handle)
            if not keep_on_interrupt:
                raise
        report, counts = _native.run_result(handle)
    except BaseException:
        if handle is not None:
            _native.run_stop(handle, wait=True)
        raise
    finally:
        if handle is not None:
            _native.run_free(handle)
    if report.get("error"):
        raise CoreError(f"the run failed in the Go core: {report['error']}")
    return Result.from_core(report, counts, config=doc, environment=_env.collect())


def poll_interval(elapsed_s: float, planned_s: float, showing_progress: bool) -> float:
    """Seconds until the next poll of a run that has run ``elapsed_s`` of ``planned_s``
    (nan: ends at a request count)."""
    left = planned_s - elapsed_s
    if not left > POLL_S:  # near or past the end, or no planned end
        return POLL_S
    return min(left, PROGRESS_S if showing_progress else POLL_FAR_S)


def stop_and_wait(handle: int) -> None:
    """Stop a run and wait for its workers (the core ends every wait within 200 ms of a
    stop), polling so that a second Ctrl-C is not held up by a call into the core."""
    _native.run_stop(handle, wait=False)
    while not _native.run_poll(handle)[0]:
        time.sleep(0.01)


JITTER_NOTE = (
    "the Go runtime preempts a goroutine that has run 10 ms without yielding (async "
    "preemption); a locked worker then waits for another Go thread to hand its P back, which "
    "shows as gaps and as voluntary switches in its counters. To see the OS's jitter alone, "
    "start the process with GODEBUG=asyncpreemptoff=1 (a start-up setting)"
)


def run(
    workload: Workload, settings: RunSettings | None = None, *,
    progress: Progress | None = None, **overrides: Any,
) -> Result:  # fmt: skip
    """Run ``workload`` in the Go core and measure each request's latency.

    ``settings`` is a :class:`golat.RunSettings`; keyword ``overrides`` change any of its
    settings (``rate=20_000, duration=5, gc="managed", cpus="auto"`` ...). Every setting,
    its unit and its default is listed in docs/api.md and in ``help(golat.RunSettings)``;
    the main ones:

    - ``rate``: requests/s, open loop (each request has an intended start); ``None`` is
      closed loop (back to back).
    - ``duration``: measured seconds after ``warmup``; default 5 s unless ``requests``.
    - ``gc``: ``None`` (leave as is), a GC percent, ``"off"``, ``"default"`` or
      ``"managed"`` (GC off, collected by golat's controller in request gaps); restored.
    - ``workers``, ``cpus``, ``lock_os_thread``, ``policy``, ``numa``, ``mlock``,
      ``gomaxprocs``: the workers' threads (see docs/threads-and-numa.md).

    Args:
        workload: a :mod:`golat.workloads` workload, e.g. ``Noop()``, ``Spin(ns=10_000)``.
        settings: the run's settings (default: every setting at its default).
        progress: called about every 0.2 s (50 ms near the planned end, or when the run
            ends at a request count) with (requests so far, elapsed s, planned s).

    Returns:
        A :class:`golat.Result`; latency values in ns.

    Raises:
        ConfigError: a bad argument (the message says what is allowed): an unknown setting,
            a CPU not allowed here, an absent node, more workers than pinned CPUs.
        PermissionDenied: the OS refused a real-time policy or mlock (the message says
            which capability or limit is missing).
        CoreError: the Go core failed (a workload panicked ...); the interpreter survives.

    Warns:
        StarvationWarning: real-time workers would take every CPU this process may use.
        OverloadWarning: the run achieved less than 95 % of its rate; its corrected
            latencies then measure the backlog, not the system.
    """
    s = RunSettings.build(settings, overrides, "golat.run")
    return execute(prepare(workload, s), progress)
