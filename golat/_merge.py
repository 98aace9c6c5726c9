"""golat.merge: one result out of several, without losing anything.

Percentiles cannot be averaged (the mean of two P99s is the P99 of nothing); histograms
add up exactly. A merged result's histograms are the sums of its inputs', so its P99 is the
P99 of every request of every input. It describes the inputs as if they ran side by side,
as a fleet's hosts do: counts and rates add up, and its timeline is aligned on wall-clock
time. Each input is kept (``Result.inputs``: its environment, settings, counters and
histograms; its workers are the merged result's, tagged with ``extra["input"]``).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from ._histogram import Histogram
from ._ramp import StepResult
from ._result import GCActivity, Result, WorkerResult
from ._timeline import WHICH, Timeline, sparse_of
from .errors import ConfigError

__all__ = ["merge"]


def merge(
    results: Sequence[Result], labels: Sequence[str] | None = None, *, force: bool = False
) -> Result:
    """Merge results losslessly: the union of their histograms.

    Args:
        results: :class:`golat.Result` objects (a merged result counts as its inputs).
        labels: one name per result for the per-input tables (default: each result's
            hostname, numbered when repeated).
        force: merge results of different workloads anyway (never different precisions).

    Returns:
        A Result whose latency, service and start-delay histograms (overall, per worker and
        per timeline interval) are the sums of the inputs'; ``requests``, ``late_starts``,
        GC cycles and ``achieved_rate`` add up; ``measured_s`` is the longest input's;
        ``inputs`` keeps each input. The timeline is kept when every input has one with
        interval histograms, a wall-clock start and the same interval: intervals go to the
        nearest slot of a grid starting at the earliest input's window.

    Raises:
        ConfigError: no results, different precisions, different workloads
            (unless ``force``), labels that do not match the results.
    """
    results = list(results)
    if not results or not all(isinstance(r, Result) for r in results):
        raise ConfigError(
            f"merge needs one or more golat.Result, got {len(results)} "
            f"({', '.join(sorted({type(r).__name__ for r in results}))})"
        )
    if labels is not None and len(labels) != len(results):
        raise ConfigError(f"labels: want one per result ({len(results)}), got {len(labels)}")
    parts: list[tuple[Result, str, Result | None]] = []  # (input, label, its merged parent)
    for i, r in enumerate(results):
        if r.inputs:
            for x in r.inputs:
                parts.append((x, str(x.extra.get("label") or ""), r))
        else:
            parts.append((r, labels[i] if labels is not None else "", None))
    _check_compatible(results, [p[0] for p in parts], force)
    names = _labels([(p[0], p[1]) for p in parts])

    inputs: list[Result] = []
    workers: list[WorkerResult] = []
    for r in results:
        base = len(inputs)
        members = r.inputs if r.inputs else [r]
        for j, x in enumerate(members):
            inputs.append(_as_input(x, names[base + j]))
        for w in r.workers:
            src = w.extra.get("input", 0) if r.inputs else 0
            orig = w.extra.get("input_worker", w.id) if r.inputs else w.id
            extra = {**w.extra, "input": base + src, "input_worker": orig}
            workers.append(
                WorkerResult(
                    id=len(workers),
                    requests=w.requests,
                    late_starts=w.late_starts,
                    latency=w.latency.copy(),
                    service=w.service.copy(),
                    extra=extra,
                )
            )

    def total(which: str) -> Histogram:
        h = Histogram(results[0].latency.precision)
        for x in inputs:
            h.merge(getattr(x, which))
        return h

    notes: list[str] = []
    timeline = _merge_timelines(results, notes)
    starts = [x.start_unix_ns for x in inputs]
    windows = [x.window_unix_ns for x in inputs]
    first = inputs[0]
    config = dict(first.config)
    config["rate"] = float(sum(float(x.config.get("rate") or 0.0) for x in inputs))
    config["workers"] = len(workers)
    # An input that stopped serving its backlog makes the whole overloaded.
    cuts = [x.extra["backlog_cut_ns"] for x in inputs if x.extra.get("backlog_cut_ns")]
    merged = Result(
        latency=total("latency"),
        service=total("service"),
        start_delay=total("start_delay"),
        requests=sum(x.requests for x in inputs),
        warmup_requests=sum(x.warmup_requests for x in inputs),
        late_starts=sum(x.late_starts for x in inputs),
        late_threshold_ns=first.late_threshold_ns,
        stalls=sum(x.stalls for x in inputs),
        measured_s=max(x.measured_s for x in inputs),
        achieved_rate=float(sum(x.achieved_rate for x in inputs)),
        interrupted=any(x.interrupted for x in inputs),
        gc=_merge_gc([x.gc for x in inputs]),
        workers=workers,
        config=config,
        environment=_common_environment(inputs),
        extra={
            "merged": {"inputs": len(inputs), "labels": names, "notes": notes},
            **_merge_classes(inputs),
            **({"backlog_cut_ns": max(cuts)} if cuts else {}),
        },
        timeline=timeline,
        steps=_merge_steps(inputs, notes),
        queued=sum(x.queued for x in inputs),
        start_unix_ns=min(starts) if None not in starts else None,
        window_unix_ns=min(windows) if None not in windows else None,
        inputs=inputs,
    )
    return merged


def _check_compatible(results: list[Result], parts: list[Result], force: bool) -> None:
    precisions = sorted({r.latency.precision for r in results})
    if len(precisions) > 1:
        raise ConfigError(
            f"cannot merge results of different precisions {precisions}: their "
            "histograms have different buckets (re-run with one --precision)"
        )
    kinds = {json.dumps(p.config.get("workload"), sort_keys=True) for p in parts}
    if len(kinds) > 1 and not force:
        shown = ", ".join(sorted(kinds))
        raise ConfigError(
            f"cannot merge results of different workloads ({shown}); pass "
            "force=True (--force) to merge them anyway"
        )
    thresholds = sorted({p.late_threshold_ns for p in parts})
    if len(thresholds) > 1:
        raise ConfigError(
            f"cannot merge results with different late-start thresholds "
            f"{thresholds} ns: their late_starts do not add up"
        )


def _labels(parts: list[tuple[Result, str]]) -> list[str]:
    names = [
        lab or str(r.extra.get("label") or r.environment.get("hostname") or "input")
        for r, lab in parts
    ]
    out, seen = [], {}
    for n in names:
        if names.count(n) > 1:
            seen[n] = seen.get(n, 0) + 1
            n = f"{n}#{seen[n]}"
        out.append(n)
    return out


def _as_input(r: Result, label: str) -> Result:
    """An input as a merged result keeps it: no workers, no timeline, labelled."""
    bare = dataclasses.replace(r, workers=[], timeline=None, inputs=[])
    x = Result.from_dict(json.loads(bare.to_json()))  # an independent copy
    x.extra["label"] = label
    return x


def _merge_steps(inputs: list[Result], notes: list[str]) -> list[StepResult] | None:
    """A ramp's steps added up across inputs that ran the same steps (a fleet's hosts each
    ran a share of every step's rate): offered and achieved rates add, histograms merge."""
    if all(x.steps is None for x in inputs):
        return None
    shape = {tuple((s.start_s, s.duration_s) for s in x.steps or []) for x in inputs}
    if len(shape) != 1 or any(x.steps is None for x in inputs):
        notes.append("the inputs ran different ramps (or some none): no merged steps")
        return None
    out = []
    for k, first in enumerate(inputs[0].steps or []):
        parts = [x.steps[k] for x in inputs]  # type: ignore[index]
        h = first.latency.copy()
        for p in parts[1:]:
            h.merge(p.latency)
        out.append(StepResult(
            rate=sum(p.rate for p in parts), start_s=first.start_s, duration_s=first.duration_s,
            requests=sum(p.requests for p in parts), completed=sum(p.completed for p in parts),
            late_starts=sum(p.late_starts for p in parts), queued=sum(p.queued for p in parts),
            latency=h,
        ))  # fmt: skip
    return out


def _merge_gc(gcs: list[GCActivity]) -> GCActivity:
    p99 = [g.sched_latency_p99_ns for g in gcs if g.sched_latency_p99_ns == g.sched_latency_p99_ns]
    return GCActivity(
        cycles=sum(g.cycles for g in gcs),
        forced=sum(g.forced for g in gcs),
        max_pause_ns=max(g.max_pause_ns for g in gcs),
        pauses_ns=sorted(p for g in gcs for p in g.pauses_ns),
        gc_percent=gcs[0].gc_percent,
        memory_limit=gcs[0].memory_limit,
        heap_live_bytes_end=sum(g.heap_live_bytes_end for g in gcs),
        runtime_cycles=sum(g.runtime_cycles for g in gcs),
        controller_cycles=sum(g.controller_cycles for g in gcs),
        peak_heap_bytes=sum(g.peak_heap_bytes for g in gcs),
        managed=any(g.managed for g in gcs),
        threshold_bytes=gcs[0].threshold_bytes,
        controller_events=[e for g in gcs for e in g.controller_events],
        sched_latency_p99_ns=max(p99) if p99 else float("nan"),
    )


def _common_environment(inputs: list[Result]) -> dict[str, Any]:
    """The environment entries every input shares, plus the list of hosts."""
    envs = [x.environment for x in inputs]
    common = {k: v for k, v in envs[0].items() if all(e.get(k) == v for e in envs[1:])}
    common["hostnames"] = sorted({str(e.get("hostname")) for e in envs})
    return common


def _merge_classes(inputs: list[Result]) -> dict[str, Any]:
    """Per-class latency (HTTP status ...) added up by label, in the core's sparse form."""
    by_label: dict[str, Histogram] = {}
    for x in inputs:
        for label, h in x.by_class().items():
            by_label[label] = by_label[label] + h if label in by_label else h
    if not by_label:
        return {}
    classes = [
        {"label": label, "requests": h.count, "counts": sparse_of(h).tolist()}
        for label, h in sorted(by_label.items())
    ]
    return {"classes": classes}


def _merge_timelines(results: list[Result], notes: list[str]) -> Timeline | None:
    """The inputs' timelines on one wall-clock grid, or None (with a note saying why)."""
    tls = [r.timeline for r in results]
    if any(t is None or not t.has_histograms for t in tls):
        notes.append("timeline left out: an input has no timeline with interval histograms")
        return None
    if any(r.window_unix_ns is None for r in results):
        notes.append("timeline left out: an input has no wall-clock start (result format < 4)")
        return None
    ivs = {round(t.interval_s * 1e9) for t in tls}
    if len(ivs) > 1:
        notes.append(f"timeline left out: the inputs' intervals differ ({sorted(ivs)} ns)")
        return None
    iv = ivs.pop()
    base = min(r.window_unix_ns for r in results)
    # Each input's intervals go to the nearest slot of the common grid.
    shifts = [round((r.window_unix_ns - base) / iv) for r in results]
    worst = max(abs((r.window_unix_ns - base) - s * iv) for r, s in zip(results, shifts))
    if worst:
        notes.append(
            f"timeline: inputs' intervals moved by up to {worst / 1e6:.3f} ms onto a common grid"
        )
    n = max(s + len(t) for s, t in zip(shifts, tls))
    precision = results[0].latency.precision
    empty = np.zeros((0, 2), dtype=np.int64)
    sparse: dict[str, list[list[np.ndarray]]] = {w: [[] for _ in range(n)] for w in WHICH}
    max_ns = np.zeros(n, dtype=np.int64)
    gc_cycles = np.zeros(n, dtype=np.int64)
    heap = np.zeros(n, dtype=np.int64)
    ev_s, ev_pause, ev_ctl = [], [], []
    for r, s, t in zip(results, shifts, tls):
        for k in range(n):
            j = k - s
            for which in WHICH:
                rows = t.sparse[which][j] if 0 <= j < len(t) else [empty] * t.workers
                sparse[which][k].extend(rows)
        sl = slice(s, s + len(t))
        max_ns[sl] = np.maximum(max_ns[sl], t.max_ns)
        gc_cycles[sl] += t.gc_cycles
        heap[sl] += t.heap_bytes
        offset_s = (r.window_unix_ns - base) / 1e9
        ev_s.append(t.gc_event_s + offset_s)
        ev_pause.append(t.gc_event_pause_ns)
        ev_ctl.append(t.gc_event_controller)
    at = np.concatenate(ev_s)
    order = np.argsort(at, kind="stable")
    tl = Timeline(
        interval_s=iv / 1e9,
        start_s=np.arange(n, dtype=np.float64) * (iv / 1e9),
        count=np.zeros(n, np.int64),
        p50_ns=np.zeros(n, np.int64),
        p90_ns=np.zeros(n, np.int64),
        p99_ns=np.zeros(n, np.int64),
        p99_9_ns=np.zeros(n, np.int64),
        p99_99_ns=np.zeros(n, np.int64),
        max_ns=max_ns,
        mean_ns=np.zeros(n, np.float64),
        gc_cycles=gc_cycles,
        gc_max_pause_ns=np.zeros(n, np.int64),
        heap_bytes=heap,
        gc_event_s=at[order],
        gc_event_pause_ns=np.concatenate(ev_pause)[order],
        gc_event_controller=np.concatenate(ev_ctl)[order],
        precision=precision,
        sparse=sparse,
    )
    for k in range(n):
        h = tl.histogram(k)
        tl.count[k] = h.count
        if h.count:
            # as the core does: a percentile is its slot's top, never above the exact max
            ps = np.minimum(h.percentiles([50, 90, 99, 99.9, 99.99]), max_ns[k])
            tl.p50_ns[k], tl.p90_ns[k], tl.p99_ns[k], tl.p99_9_ns[k], tl.p99_99_ns[k] = ps
            tl.mean_ns[k] = h.mean
    for a, p in zip(tl.gc_event_s, tl.gc_event_pause_ns):
        slot = int(np.floor(a / tl.interval_s))
        if 0 <= slot < n:
            tl.gc_max_pause_ns[slot] = max(tl.gc_max_pause_ns[slot], p)
    return tl
