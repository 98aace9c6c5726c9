"""golat.run: one request loop (or several workers) in the Go core, started, polled and
stopped from Python so that Ctrl-C ends it cleanly and progress can be shown."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any, Callable, Union

from . import _env, _native, _pmqos, _threads, _units, runtime
from ._result import Result
from .errors import ConfigError, CoreError
from .workloads import MemChase, Workload

POLL_S = 0.05  # how often a running run is polled: bounds Ctrl-C latency and progress rate
DEFAULT_DURATION_S = 5.0

Progress = Callable[[int, float, float], None]  # (requests so far, elapsed s, planned s or nan)
GCSetting = Union[None, int, str]


@dataclass(frozen=True)
class Stall:
    """Fault injection: the worker pauses ``duration`` seconds inside the request it is
    serving, once every ``every`` seconds. Every request queued behind a stall shows it in
    corrected latency; service time shows it once."""

    every: float
    duration: float

    def __post_init__(self) -> None:
        _units.number("Stall(every)", self.every, maximum=3600)
        _units.number("Stall(duration)", self.duration, maximum=3600)

    def spec(self) -> dict[str, int]:
        return {"every_ns": round(self.every * 1e9), "duration_ns": round(self.duration * 1e9)}


GC_CHOICES = "None, a percent >= 0, -1, 'off', 'default' or 'managed'"


def gc_percent_for(gc: GCSetting) -> int | None:
    """``None`` (leave as is), a percent >= 0, ``"off"`` / ``"managed"`` (-1) or
    ``"default"`` (100)."""
    if gc is None:
        return None
    if gc in ("off", "managed"):
        return -1
    if gc == "default":
        return 100
    if isinstance(gc, str):
        raise ConfigError(f"gc must be {GC_CHOICES}, got {gc!r}")
    return int(_units.number("gc", gc, minimum=-1, strict_min=False, integer=True))


def managed_gc_spec(
    threshold: int | str | None, rate: float | None, workers: int
) -> dict[str, int]:
    """The managed-GC controller's settings: heap read 1 ms to 50 ms apart (more often as
    the heap, at its recent growth rate, nears the threshold); once the heap passes
    the threshold, wait up to 100 ms for every worker to be idle with its next request at
    least ``min_gap`` away, then collect (collect at once in a closed loop, which has no
    gaps). ``min_gap`` is half a worker's arrival period, kept within 10..200 µs."""
    spec = {"threshold_bytes": 0, "sample_ns": 1_000_000, "min_gap_ns": 0, "max_wait_ns": 0}
    if threshold is not None:
        b = _units.parse_size(threshold, "gc_threshold")
        _units.number("gc_threshold (bytes)", b, minimum=1, strict_min=False)
        spec["threshold_bytes"] = b
    if rate:
        period_ns = workers * 1e9 / rate
        spec["min_gap_ns"] = round(min(max(period_ns / 2, 10_000), 200_000))
        spec["max_wait_ns"] = 100_000_000
    return spec


def build_config(
    workload: Workload, *, rate: float | None, duration: float | None, requests: int | None,
    warmup: float, arrivals: str, stall: Stall | None, gc: GCSetting,
    memory_limit: int | str | None, workers: int = 1, precision: int = 2, seed: int = 0,
    late_threshold: float = 10e-6, gc_threshold: int | str | None = None,
    timeline: float | None = 1.0, cpu_dma_latency_us: int | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Validate run settings and build the versioned run document the core reads."""
    if not isinstance(workload, Workload) or type(workload) is Workload:
        raise ConfigError(
            f"workload must be a golat.workloads workload (Noop(), Spin(ns), ...), got {workload!r}"
        )
    if rate is not None:
        if workload.self_paced:
            raise ConfigError(
                f"{type(workload).__name__} keeps its own schedule (Timer: one wake-up per "
                "interval and worker; Jitter: back to back for the whole run); leave rate=None"
            )
        _units.number("rate (requests/s)", rate, maximum=1e9)
    if duration is None and requests is None:
        duration = DEFAULT_DURATION_S
    if duration is not None:
        _units.number("duration (s)", duration, maximum=3600)
    if requests is not None:
        _units.number(
            "requests", requests, minimum=1, strict_min=False, maximum=2**62, integer=True
        )
    _units.number("warmup (s)", warmup, strict_min=False, maximum=3600)
    if arrivals not in ("constant", "poisson"):
        raise ConfigError(f"arrivals must be 'constant' or 'poisson', got {arrivals!r}")
    if stall is not None and not isinstance(stall, Stall):
        raise ConfigError(f"stall must be golat.Stall(every=s, duration=s), got {stall!r}")
    _units.number("workers", workers, minimum=1, strict_min=False, maximum=4096, integer=True)
    workload.check_run(workers=int(workers))
    if precision not in (2, 3) or isinstance(precision, bool):
        raise ConfigError(f"precision must be 2 or 3 significant digits, got {precision!r}")
    _units.number("late_threshold (s)", late_threshold, strict_min=False, maximum=3600)
    gc_doc: dict[str, int] = {}
    p = gc_percent_for(gc)
    if p is not None:
        gc_doc["gc_percent"] = p
    if memory_limit is not None:
        b = _units.parse_size(memory_limit, "memory_limit")
        _units.number("memory_limit (bytes)", b, minimum=1, strict_min=False)
        gc_doc["memory_limit"] = b
    elif p == -1:
        # GC off is never unbounded: the memory limit is the safety net.
        gc_doc["memory_limit"] = runtime.default_memory_limit()
    if gc_threshold is not None and gc != "managed":
        raise ConfigError(f"gc_threshold is only for gc='managed', got gc={gc!r}")
    managed = managed_gc_spec(gc_threshold, rate, int(workers)) if gc == "managed" else None
    timeline_ns = 0
    if timeline:
        timeline_ns = round(_units.number("timeline (s)", timeline, maximum=3600) * 1e9)
        if timeline_ns < 1_000_000:
            raise ConfigError(f"timeline must be None (no timeline) or >= 0.001 s, got {timeline}")
    return {
        "version": 1,
        "workload": workload.spec(),
        "rate": float(rate or 0.0),
        "arrivals": arrivals,
        "duration_ns": round(duration * 1e9) if duration is not None else 0,
        "requests": int(requests or 0),
        "warmup_ns": round(warmup * 1e9),
        "stall": stall.spec() if stall else None,
        "workers": int(workers),
        "precision": precision,
        "seed": int(seed),
        "late_threshold_ns": round(late_threshold * 1e9),
        "gc": gc_doc,
        "managed_gc": managed,
        "timeline_ns": timeline_ns,
        # Applied by execute() (a PM QoS request held from Python); the core ignores it.
        "cpu_dma_latency_us": _pmqos.check(cpu_dma_latency_us),
    }


def thread_notes(workload: Workload, plan: _threads.ThreadPlan) -> dict[str, Any]:
    """What a result says about NUMA on this machine, beside the core's report."""
    out: dict[str, Any] = {"numa_nodes": plan.node_count}
    if plan.node_count == 1 and (plan.numa or isinstance(workload, MemChase)):
        out["numa_note"] = (
            "this machine has one NUMA node: all memory is local, so placement holds "
            "trivially and local vs remote latency cannot be compared here"
        )
    return out


def check_node(workload: Workload) -> None:
    """A MemChase bound to a node needs that node here (ConfigError naming those present)."""
    if isinstance(workload, MemChase) and workload.node is not None:
        from ._topology import check_node as check
        from ._topology import topology

        check(topology(), workload.node)


def check_realtime(plan: _threads.ThreadPlan, doc: dict[str, Any]) -> None:
    """A real-time run must end by itself: it needs a duration, not only a request count."""
    if plan.realtime and not doc["duration_ns"]:
        raise ConfigError(
            f"a real-time ({plan.policy}:{plan.priority}) run needs a bounded duration: give "
            "duration= (seconds), not only requests="
        )


def execute(
    doc: dict[str, Any], progress: Progress | None = None, notes: dict[str, Any] | None = None,
    *, keep_on_interrupt: bool = False,
) -> Result:  # fmt: skip
    """Start a run document in the core, poll it to the end and collect its Result.

    Ctrl-C (KeyboardInterrupt) stops the run and waits for its workers: nothing is left
    running in the core. Then the interrupt propagates, or, with ``keep_on_interrupt``, the
    result measured so far is returned with ``interrupted`` set.
    """
    with _pmqos.cpu_dma_latency(doc.get("cpu_dma_latency_us")):
        return _execute(doc, progress, notes, keep_on_interrupt)


def _execute(
    doc: dict[str, Any], progress: Progress | None, notes: dict[str, Any] | None,
    keep_on_interrupt: bool,
) -> Result:  # fmt: skip
    planned = (doc["warmup_ns"] + doc["duration_ns"]) / 1e9 if doc["duration_ns"] else math.nan
    handle = _native.run_start(doc)
    try:
        try:
            while True:
                ended, served, elapsed_ns = _native.run_poll(handle)
                if progress is not None:
                    progress(served, elapsed_ns / 1e9, planned)
                if ended:
                    break
                time.sleep(POLL_S)
        except KeyboardInterrupt:
            _native.run_stop(handle, wait=True)
            if not keep_on_interrupt:
                raise
        report, counts = _native.run_result(handle)
    except BaseException:
        _native.run_stop(handle, wait=True)
        raise
    finally:
        _native.run_free(handle)
    if report.get("error"):
        raise CoreError(f"the run failed in the Go core: {report['error']}")
    result = Result.from_core(report, counts, config=doc, environment=_env.collect())
    result.extra.update(notes or {})
    if doc["workload"].get("kind") == "jitter" and "asyncpreemptoff=1" not in report["godebug"]:
        result.extra["jitter_note"] = JITTER_NOTE
    return result


JITTER_NOTE = (
    "the Go runtime preempts a goroutine that has run 10 ms without yielding (async "
    "preemption); a locked worker then waits for another Go thread to hand its P back, which "
    "shows as gaps and as voluntary switches in its counters. To see the OS's jitter alone, "
    "start the process with GODEBUG=asyncpreemptoff=1 (a start-up setting)"
)


def build_run(
    workload: Workload, *, workers: int | None = None, cpus: _threads.CPUs = None,
    lock_os_thread: bool | None = None, policy: str | None = None, mlock: bool = False,
    numa: str | None = None, gomaxprocs: int | None = None, **settings: Any,
) -> tuple[dict[str, Any], dict[str, Any]]:  # fmt: skip
    """The run document for ``workload`` with its thread settings resolved on this machine,
    and the notes its Result will carry. ``settings`` are :func:`build_config`'s.
    Raises ConfigError (and warns) as :func:`run` does."""
    plan = _threads.plan(
        workers=workers, cpus=cpus, lock_os_thread=lock_os_thread, policy=policy, mlock=mlock,
        numa=numa, gomaxprocs=gomaxprocs, wants_thread=getattr(workload, "wants_thread", False),
        stacklevel=4,  # the warning points at run()'s caller
    )  # fmt: skip
    doc = build_config(workload, workers=plan.workers, **settings)
    check_realtime(plan, doc)
    check_node(workload)
    doc.update(plan.doc())
    return doc, thread_notes(workload, plan)


def run(
    workload: Workload, *, rate: float | None = None, duration: float | None = None,
    requests: int | None = None, warmup: float = 0.0, arrivals: str = "constant",
    stall: Stall | None = None, gc: GCSetting = None, memory_limit: int | str | None = None,
    gc_threshold: int | str | None = None, workers: int | None = None,
    cpus: _threads.CPUs = None, lock_os_thread: bool | None = None, policy: str | None = None,
    mlock: bool = False, numa: str | None = None, gomaxprocs: int | None = None,
    precision: int = 2, seed: int = 0, timeline: float | None = 1.0,
    cpu_dma_latency_us: int | None = None, progress: Progress | None = None,
) -> Result:  # fmt: skip
    """Run ``workload`` in the Go core and measure each request's latency.

    Args:
        workload: a :mod:`golat.workloads` workload, e.g. ``Noop()``, ``Spin(ns=10_000)``.
        rate: requests/s, open loop (each request has an intended start); ``None`` is
            closed loop (back to back).
        duration: measured seconds (after warm-up); default 5 s when ``requests`` is None.
        requests: stop after this many measured requests.
        warmup: seconds served first and left out of the statistics.
        arrivals: ``"constant"`` or ``"poisson"`` spacing at ``rate``.
        stall: a :class:`Stall` to inject.
        gc: ``None`` (leave as is), a GC percent, ``"off"``, ``"default"`` (100) or
            ``"managed"``: GC off, and a controller in the core that reads the heap (1 ms
            to 50 ms apart) and runs a collection itself once the heap passes
            ``gc_threshold``, at a moment when no request is due (see docs/gc.md).
            Restored after the run.
        memory_limit: soft memory limit in bytes (or ``"512MiB"``) during the run; restored.
            With GC off (``"off"``, ``-1``, ``"managed"``) and no limit given, golat sets
            :func:`golat.runtime.default_memory_limit` (half the memory available).
        gc_threshold: ``gc="managed"`` only: heap bytes (or ``"512MiB"``) at which the
            controller collects. Default: twice the heap in use at the start of the run,
            at least that plus 64 MiB, at most 3/4 of the memory limit.
        workers: request loops, each with its share of ``rate`` and its own histograms;
            default ``len(cpus)`` when cpus is a list, else 1.
        cpus: pin each worker's thread to its own CPU: ``None`` (not pinned), ``"auto"``
            (CPUs on one node, CPU 0 last, no two SMT siblings while cores last),
            ``"node:K"`` (the same on node K) or a list of CPU ids, one per worker.
        lock_os_thread: lock each worker goroutine to its own OS thread. ``None``: locked
            when cpus, policy or numa is given or the workload needs it (Timer with
            clock_nanosleep, Jitter).
        policy: ``None``, ``"fifo:P"`` or ``"rr:P"`` (P 1..99): real-time scheduling of the
            workers' threads; needs CAP_SYS_NICE or RLIMIT_RTPRIO >= P and a duration.
        mlock: lock the process's memory (``mlockall``) for the run; undone after.
        numa: the workers' memory policy: ``None``, ``"local"`` (the node of the CPU the
            thread runs on), ``"bind:K"`` or ``"interleave"`` (all nodes with memory).
        gomaxprocs: GOMAXPROCS during the run; ``None`` with locked workers is
            ``max(workers + 1, allowed CPUs)`` (one P free for the runtime). Restored after.
        precision: histogram significant digits, 2 (1 % error) or 3 (0.1 %).
        seed: seed of the Poisson arrivals.
        timeline: interval in seconds of the per-interval record (``Result.timeline``);
            ``None`` keeps none.
        cpu_dma_latency_us: hold ``/dev/cpu_dma_latency`` at this bound (µs; 0 = no deep
            idle states) during the run, as cyclictest does by default; needs root. On the
            development VM it cut timer wake-up latency P50 from ~87 µs to ~70 µs.
        progress: called about every 50 ms with (requests so far, elapsed s, planned s).

    Returns:
        A :class:`golat.Result`; latency values in ns.

    Raises:
        ConfigError: a bad argument (the message says what is allowed): a CPU not allowed
            here (the message names the allowed set), an absent node, a priority out of
            range, more workers than pinned CPUs.
        PermissionDenied: the OS refused a real-time policy or mlock (the message says
            which capability or limit is missing).
        CoreError: the Go core failed (a workload panicked ...); the interpreter survives.

    Warns:
        StarvationWarning: real-time workers would take every CPU this process may use.
    """
    doc, notes = build_run(
        workload, rate=rate, duration=duration, requests=requests, warmup=warmup,
        arrivals=arrivals, stall=stall, gc=gc, memory_limit=memory_limit, workers=workers,
        cpus=cpus, lock_os_thread=lock_os_thread, policy=policy, mlock=mlock, numa=numa,
        gomaxprocs=gomaxprocs, precision=precision, seed=seed, gc_threshold=gc_threshold,
        timeline=timeline, cpu_dma_latency_us=cpu_dma_latency_us,
    )  # fmt: skip
    return execute(doc, progress, notes)
