"""A run's timeline: latency percentiles, GC cycles and heap per interval of the measured
window (default 1 s), and every GC event with its time and pause.

Times are seconds from the start of the measured window (GC events in the warm-up are
negative); latencies and pauses are ns; heap is bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

# per-interval arrays: (name in Timeline, key in the core's report, dtype)
_INTERVAL_FIELDS = (
    ("count", "count", np.int64), ("p50_ns", "p50", np.int64), ("p90_ns", "p90", np.int64),
    ("p99_ns", "p99", np.int64), ("p99_9_ns", "p99_9", np.int64),
    ("p99_99_ns", "p99_99", np.int64), ("max_ns", "max", np.int64),
    ("mean_ns", "mean", np.float64), ("gc_cycles", "gc_cycles", np.int64),
    ("heap_bytes", "heap_bytes", np.int64),
)  # fmt: skip


@dataclass(eq=False)
class Timeline:
    """Per-interval statistics as numpy arrays of equal length (one entry per interval).

    Attributes:
        interval_s: interval length in seconds.
        start_s: start of each interval, seconds from the start of the measured window.
        count, p50_ns, p90_ns, p99_ns, p99_9_ns, p99_99_ns, max_ns, mean_ns: latency of the
            requests that completed in the interval (0 where none did).
        gc_cycles: GC cycles the runtime counted in the interval (sampled every
            interval/10, at most 50 ms, so a cycle may land one sample late).
        gc_max_pause_ns: the longest stop-the-world pause of the GC events in the interval.
        heap_bytes: the largest heap in use sampled in the interval.
        gc_event_s, gc_event_pause_ns, gc_event_controller: every GC cycle of the run: when
            its last pause ended, its total pause, and whether the managed-GC controller ran it.
    """

    interval_s: float
    start_s: np.ndarray
    count: np.ndarray
    p50_ns: np.ndarray
    p90_ns: np.ndarray
    p99_ns: np.ndarray
    p99_9_ns: np.ndarray
    p99_99_ns: np.ndarray
    max_ns: np.ndarray
    mean_ns: np.ndarray
    gc_cycles: np.ndarray
    gc_max_pause_ns: np.ndarray
    heap_bytes: np.ndarray
    gc_event_s: np.ndarray
    gc_event_pause_ns: np.ndarray
    gc_event_controller: np.ndarray

    @classmethod
    def from_core(cls, doc: dict[str, Any]) -> Timeline:
        """Build from the core's ``timeline`` report (or from :meth:`to_dict`'s output)."""
        if "intervals" not in doc:
            return cls.from_dict(doc)
        iv = doc["interval_ns"] / 1e9
        rows = doc.get("intervals") or []
        arrays = {name: np.array([r[key] for r in rows], dtype=dt)
                  for name, key, dt in _INTERVAL_FIELDS}  # fmt: skip
        ev = doc.get("gc_events") or []
        at = np.array([e["at_ns"] / 1e9 for e in ev], dtype=np.float64)
        pause = np.array([e["pause_ns"] for e in ev], dtype=np.int64)
        ctl = np.array([bool(e.get("controller")) for e in ev], dtype=bool)
        start = np.arange(len(rows), dtype=np.float64) * iv
        return cls(interval_s=iv, start_s=start, **arrays,
                   gc_max_pause_ns=_max_per_interval(at, pause, len(rows), iv),
                   gc_event_s=at, gc_event_pause_ns=pause, gc_event_controller=ctl)  # fmt: skip

    def __len__(self) -> int:
        return len(self.start_s)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``interval_s`` and one list per array."""
        out: dict[str, Any] = {"interval_s": self.interval_s}
        for name in self._arrays():
            out[name] = getattr(self, name).tolist()
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Timeline:
        kinds = {name: dt for name, _, dt in _INTERVAL_FIELDS}
        kinds.update(start_s=np.float64, gc_max_pause_ns=np.int64, gc_event_s=np.float64,
                     gc_event_pause_ns=np.int64, gc_event_controller=bool)  # fmt: skip
        return cls(interval_s=float(d["interval_s"]),
                   **{k: np.array(d.get(k, []), dtype=dt) for k, dt in kinds.items()})  # fmt: skip

    @staticmethod
    def _arrays() -> list[str]:
        return [f for f in Timeline.__dataclass_fields__ if f != "interval_s"]

    def __repr__(self) -> str:
        return (f"<golat.Timeline {len(self)} intervals of {self.interval_s:g} s, "
                f"{len(self.gc_event_s)} GC events>")  # fmt: skip


def _max_per_interval(at_s: np.ndarray, values: np.ndarray, n: int, iv: float) -> np.ndarray:
    out = np.zeros(n, dtype=np.int64)
    if n == 0 or not len(at_s):
        return out
    idx = np.floor(at_s / iv).astype(np.int64)
    ok = (idx >= 0) & (idx < n)
    np.maximum.at(out, idx[ok], values[ok])
    return out
