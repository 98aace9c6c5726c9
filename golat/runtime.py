"""Controls of the Go runtime inside this process: GC percent, memory limit, GC on
demand, GOMAXPROCS, and metrics snapshots.

The first call loads the Go core (and so starts its runtime). Settings the runtime reads
only at start-up (GODEBUG, ...) cannot be changed here: :func:`golat.compare` runs each
trial in a child process started with them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _native, _units
from .errors import ConfigError

__all__ = [
    "gc_percent", "set_gc_percent", "memory_limit", "set_memory_limit", "gc",
    "gomaxprocs", "set_gomaxprocs", "metrics", "Metrics", "RuntimeHistogram",
    "available_memory", "default_memory_limit",
]  # fmt: skip

NO_LIMIT = (1 << 63) - 1  # what the runtime reports when no memory limit is set


def gc_percent() -> int:
    """The collector's target percent (GOGC); -1 means off."""
    return _native.gc_percent()


def set_gc_percent(percent: int | str) -> int:
    """Set GOGC at run time (``debug.SetGCPercent``); ``-1`` or ``"off"`` turns GC off.

    Returns the previous percent. Raises ConfigError for anything but an int >= -1 or "off".
    """
    if percent == "off":
        percent = -1
    p = _units.number("gc percent", percent, minimum=-1, strict_min=False, integer=True)
    return _native.gc_percent(int(p))


def memory_limit() -> int:
    """The soft memory limit in bytes (``NO_LIMIT`` = math.MaxInt64 when none is set)."""
    return _native.memory_limit(-1)


def set_memory_limit(limit_bytes: int | str) -> int:
    """Set the soft memory limit (``debug.SetMemoryLimit``) in bytes; returns the previous.

    Accepts ints or strings like ``"512MiB"``; ``None``-like "no limit" is ``NO_LIMIT``.
    """
    b = _units.parse_size(limit_bytes, "memory limit")
    _units.number("memory limit", b, minimum=1, strict_min=False, maximum=NO_LIMIT)
    return _native.memory_limit(b)


def available_memory(root: str = "/") -> int:
    """Bytes of memory this process may use: the machine's RAM, or less when a cgroup (v2
    ``memory.max`` or v1 ``memory.limit_in_bytes``) limits it."""
    import os
    from pathlib import Path

    try:
        total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):
        total = NO_LIMIT
    base = Path(root)
    try:
        lines = (base / "proc/self/cgroup").read_text().splitlines()
    except OSError:
        lines = []
    candidates = []
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        rel = path.lstrip("/")
        if ctrls == "":
            candidates.append(base / "sys/fs/cgroup" / rel / "memory.max")
        elif "memory" in ctrls.split(","):
            candidates.append(base / "sys/fs/cgroup/memory" / rel / "memory.limit_in_bytes")
    for c in candidates:
        try:
            text = c.read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return int(total)


def default_memory_limit() -> int:
    """The memory limit golat sets when the collector is off (``gc="off"`` or
    ``"managed"``) and the caller gave none: half of :func:`available_memory`. Half, not
    all, because other processes share the machine and the runtime needs room above its
    heap goal; with GC off the limit is the only thing between the heap and the OOM killer.
    """
    return available_memory() // 2


def gc() -> None:
    """Run a full collection now (``runtime.GC``), blocking until it is done."""
    _native.gc()


def gomaxprocs() -> int:
    """The Go runtime's GOMAXPROCS."""
    return _native.gomaxprocs(0)


def set_gomaxprocs(n: int) -> int:
    """Set GOMAXPROCS; returns the previous value. n must be >= 1."""
    _units.number("gomaxprocs", n, minimum=1, strict_min=False, maximum=1 << 16, integer=True)
    return _native.gomaxprocs(int(n))


@dataclass(frozen=True)
class RuntimeHistogram:
    """A runtime/metrics histogram: ``counts[i]`` counts values (seconds) in
    ``[buckets[i], buckets[i+1])``. Two subtract to give what happened in between."""

    buckets: np.ndarray
    counts: np.ndarray

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RuntimeHistogram:
        b = np.asarray(d.get("buckets") or [0.0], dtype=float)
        b[b >= 1e299], b[b <= -1e299] = np.inf, -np.inf
        return cls(b, np.asarray(d.get("counts") or [], dtype=np.int64))

    def __sub__(self, other: RuntimeHistogram) -> RuntimeHistogram:
        return RuntimeHistogram(self.buckets, self.counts - other.counts)

    @property
    def total(self) -> int:
        return int(self.counts.sum())

    def percentile(self, p: float) -> float:
        """Upper bucket edge (s) below which ``p`` percent (0..100, as for
        :meth:`golat.Histogram.percentile`) of the values fall; 0 if empty."""
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 100:
            raise ConfigError(f"percentile must be a number in 0..100, got {p!r}")
        total = self.total
        if total == 0:
            return 0.0
        rank = max(1, int(np.ceil(p / 100 * total)))
        idx = int(np.searchsorted(np.cumsum(self.counts), rank))
        top = self.buckets[min(idx + 1, len(self.buckets) - 1)]
        return float(top if np.isfinite(top) else self.buckets[idx])

    def max(self) -> float:
        """Upper edge (seconds) of the highest non-empty bucket; 0 if empty."""
        nz = np.nonzero(self.counts)[0]
        if len(nz) == 0:
            return 0.0
        top = self.buckets[nz[-1] + 1]
        return float(top if np.isfinite(top) else self.buckets[nz[-1]])


@dataclass(frozen=True)
class Metrics:
    """A snapshot of the Go runtime. ``later - earlier`` gives the activity in between
    (counters and histograms subtract; gauges keep the later value)."""

    gc_cycles: int
    gc_forced: int
    gc_pauses: RuntimeHistogram
    sched_latencies: RuntimeHistogram
    heap_live_bytes: int
    heap_goal_bytes: int
    goroutines: int
    gomaxprocs: int
    gc_percent: int
    memory_limit: int
    go_version: str
    taken_unix_ns: int
    raw: dict[str, Any] = field(repr=False, compare=False, default_factory=dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Metrics:
        return cls(
            gc_cycles=d["gc_cycles"], gc_forced=d["gc_forced"],
            gc_pauses=RuntimeHistogram.from_dict(d["gc_pauses_seconds"]),
            sched_latencies=RuntimeHistogram.from_dict(d["sched_latencies_seconds"]),
            heap_live_bytes=d["heap_live_bytes"], heap_goal_bytes=d["heap_goal_bytes"],
            goroutines=d["goroutines"], gomaxprocs=d["gomaxprocs"], gc_percent=d["gc_percent"],
            memory_limit=d["memory_limit"], go_version=d["go_version"],
            taken_unix_ns=d["taken_unix_ns"], raw=d,
        )  # fmt: skip

    def __sub__(self, earlier: Metrics) -> Metrics:
        return Metrics(
            gc_cycles=self.gc_cycles - earlier.gc_cycles,
            gc_forced=self.gc_forced - earlier.gc_forced,
            gc_pauses=self.gc_pauses - earlier.gc_pauses,
            sched_latencies=self.sched_latencies - earlier.sched_latencies,
            heap_live_bytes=self.heap_live_bytes, heap_goal_bytes=self.heap_goal_bytes,
            goroutines=self.goroutines, gomaxprocs=self.gomaxprocs, gc_percent=self.gc_percent,
            memory_limit=self.memory_limit, go_version=self.go_version,
            taken_unix_ns=self.taken_unix_ns - earlier.taken_unix_ns,
        )  # fmt: skip


def metrics() -> Metrics:
    """A snapshot of the Go runtime's metrics (runtime/metrics)."""
    return Metrics.from_dict(_native.metrics())
