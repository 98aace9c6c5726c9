"""Why the slowest requests were slow: the outlier record and its cause summary.

The core keeps each worker's slowest requests (``outliers`` per worker, and every one at
least ``outlier_threshold`` slow) with the facts that overlapped them; this module turns
those facts into causes. All times are ns, from the measured window's start.

Each outlier's *excess*, its latency above the run's median (P50) latency, is split
between causes in this order, each taking at most what is left:

1. ``stall``: an injected stall inside the request (known exactly);
2. ``managed_gc``: a collection golat's managed-GC controller ran (known exactly);
3. ``gc_pause``: the runtime's stop-the-world GC pauses overlapping the request;
4. ``queued.<root>``: the time it waited behind earlier requests on its worker, until the
   previous one ended, named by what overlapped the backlog most (``stall``,
   ``managed_gc``, ``gc_pause``, ``gc_mark``; ``other`` when nothing did: a request slow
   for no known cause); a queued request's wait after the previous one ended (the worker
   was not running though it was due) counts as ``late_start`` (8);
5. ``switched``: the worker's thread had involuntary context switches (the counters
   cover the request and at most ~1 ms before it; an unlocked worker's only when its
   goroutine was on the same thread at both readings): the rest;
6. ``gc_mark``: a GC mark phase overlapped the request (CPU taken by mark workers,
   assists): up to the overlap;
7. ``faulted``: major page faults on the worker's thread: the rest;
8. ``late_start``: it started late while its worker was not busy with another request:
   the worker woke late, its goroutine or thread was not running; up to that delay;
9. ``unexplained``: what is left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# Columns of the core's outlier records (go_core/internal/tail/attribute.go), in order;
# -1 in the counters means unknown (the goroutine changed threads), behind_ns -1: not queued.
CORE_FIELDS = (
    "worker", "intended_ns", "start_ns", "end_ns", "queued_ns", "behind_ns", "stall_ns",
    "managed_gc_ns", "gc_pause_ns", "gc_mark_ns", "behind_stall_ns", "behind_managed_gc_ns",
    "behind_gc_pause_ns", "behind_gc_mark_ns", "switches", "minor_faults", "major_faults",
    "counters_from_ns", "prev_end_ns",
)  # fmt: skip
DTYPE = np.dtype([(name, np.int64) for name in (*CORE_FIELDS, "latency_ns")])

ROOTS = ("stall", "managed_gc", "gc_pause", "gc_mark", "other")
CAUSES = ("stall", "managed_gc", "gc_pause", *(f"queued.{r}" for r in ROOTS), "switched",
          "gc_mark", "faulted", "late_start", "unexplained")  # fmt: skip
LABELS = {
    "stall": "stall", "managed_gc": "managed GC", "gc_pause": "GC pause",
    "queued.stall": "queued behind a stall", "queued.managed_gc": "queued behind managed GC",
    "queued.gc_pause": "queued behind a GC pause", "queued.gc_mark": "queued behind GC mark",
    "queued.other": "queued behind a slow request", "switched": "thread switched out",
    "gc_mark": "GC mark running", "faulted": "page faults",
    "late_start": "late start (worker not running)", "unexplained": "unexplained",
}  # fmt: skip
# Main causes: what a comparison shows one row for (queued roots summed).
MAIN = ("stall", "managed_gc", "gc_pause", "queued", "switched", "gc_mark", "faulted",
        "late_start", "unexplained")  # fmt: skip
MAIN_LABELS = {**{k: LABELS[k] for k in MAIN if k in LABELS}, "queued": "queued"}


def from_records(records: list[dict[str, Any]] | dict[str, list[int]] | None) -> np.ndarray:
    """The core's records (a list of dicts) or the result file's columns (a dict of lists)
    as a structured array with ``latency_ns`` added, slowest first."""
    if not records:
        return np.zeros(0, DTYPE)
    if isinstance(records, dict):
        n = len(records["worker"])
        out = np.zeros(n, DTYPE)
        for name in CORE_FIELDS:
            # prev_end_ns came after the first format 5 files: -1 (unknown) there
            out[name] = records[name] if name in records else -1
    else:
        out = np.zeros(len(records), DTYPE)
        for name in CORE_FIELDS:
            out[name] = [r.get(name, -1) for r in records]
    out["latency_ns"] = out["end_ns"] - out["intended_ns"]
    return out[np.argsort(-out["latency_ns"], kind="stable")]


def to_columns(arr: np.ndarray) -> dict[str, list[int]]:
    """The JSON form: one list per core field."""
    return {name: arr[name].tolist() for name in CORE_FIELDS}


def split(o: np.void, baseline_ns: float) -> dict[str, float]:
    """One outlier's excess over ``baseline_ns``, split between causes (module docstring)."""
    left = max(0.0, float(o["latency_ns"]) - baseline_ns)
    parts: dict[str, float] = {}

    def take(cause: str, ns: float) -> None:
        nonlocal left
        got = min(left, max(0.0, ns))
        if got > 0:
            parts[cause] = parts.get(cause, 0.0) + got
            left -= got

    take("stall", o["stall_ns"])
    take("managed_gc", o["managed_gc_ns"])
    take("gc_pause", o["gc_pause_ns"])
    idle = 0.0  # a queued request's wait after the previous request ended
    if o["queued_ns"] > 0:
        busy = float(o["queued_ns"])
        if o["prev_end_ns"] >= 0:
            busy = min(busy, max(0.0, float(o["prev_end_ns"] - o["intended_ns"])))
        idle = float(o["queued_ns"]) - busy
        behind = {r: float(o[f"behind_{r}_ns"]) for r in ROOTS[:-1]}
        root = max(behind, key=lambda r: behind[r])
        take(f"queued.{root if behind[root] > 0 else 'other'}", busy)
    if o["switches"] > 0:
        take("switched", left)
    take("gc_mark", o["gc_mark_ns"])
    if o["major_faults"] > 0:
        take("faulted", left)
    take("late_start", idle if o["queued_ns"] > 0 else o["start_ns"] - o["intended_ns"])
    take("unexplained", left)
    return parts


@dataclass
class TailCauses:
    """What explains the requests at or above a percentile: ``requests`` in that tail,
    ``covered`` of them found in the outlier record (the slowest first), their
    ``excess_ns`` above the ``baseline_ns`` (the run's P50), and per cause (see
    :data:`CAUSES`) the ns it explains and its ``shares`` of the excess (0..1)."""

    percentile: float
    requests: int
    covered: int
    baseline_ns: float
    excess_ns: float
    ns: dict[str, float] = field(default_factory=dict)

    @property
    def shares(self) -> dict[str, float]:
        """Cause -> share of the excess, largest first."""
        if self.excess_ns <= 0:
            return {}
        items = sorted(self.ns.items(), key=lambda kv: -kv[1])
        return {k: v / self.excess_ns for k, v in items}

    def main_shares(self) -> dict[str, float]:
        """As :attr:`shares`, the queued roots summed into ``queued``: keys of :data:`MAIN`."""
        out: dict[str, float] = {}
        for k, v in self.shares.items():
            key = "queued" if k.startswith("queued.") else k
            out[key] = out.get(key, 0.0) + v
        return out

    def to_dict(self) -> dict[str, Any]:
        return {"percentile": self.percentile, "requests": self.requests,
                "covered": self.covered, "baseline_ns": self.baseline_ns,
                "excess_ns": self.excess_ns, "ns": dict(self.ns)}  # fmt: skip


def causes(outliers: np.ndarray, requests: int, percentile: float, baseline_ns: float,
           exact: int) -> TailCauses | None:  # fmt: skip
    """The cause summary of the requests at or above ``percentile`` among ``requests``
    measured, from ``outliers`` (slowest first) of which the ``exact`` slowest are known
    to be the run's slowest. None when nothing was kept or measured."""
    if requests < 1 or len(outliers) == 0:
        return None
    n = max(1, math.ceil(requests * (1 - percentile / 100) - 1e-9))
    covered = min(n, exact, len(outliers))
    total: dict[str, float] = {}
    excess = 0.0
    for o in outliers[:covered]:
        excess += max(0.0, float(o["latency_ns"]) - baseline_ns)
        for k, v in split(o, baseline_ns).items():
            total[k] = total.get(k, 0.0) + v
    return TailCauses(percentile, n, covered, baseline_ns, excess, total)
