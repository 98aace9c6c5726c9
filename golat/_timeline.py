"""A run's timeline: latency percentiles, GC cycles and heap per interval of the measured
window (default 1 s), and every GC event with its time and pause.

Times are seconds from the start of the measured window (GC events in the warm-up are
negative); latencies and pauses are ns; heap is bytes.

Each interval also keeps every worker's latency and service-time histogram (what an
HdrHistogram interval log carries, see :meth:`golat.Result.to_hlog`); in JSON they travel as
HdrHistogram's compressed V2 encoding, ``histograms: {"latency": [[base64 per worker] per
interval], "service": ...}``, beside ``precision``. Timelines read from result format 2 or 3
files have none (``has_histograms`` is False).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._histogram import Histogram, _encode_sparse
from .errors import ConfigError

WHICH = ("latency", "service")

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
        precision: significant digits of the interval histograms (2 or 3).
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
    precision: int = 2
    # {"latency"|"service": [interval][worker] -> (n, 2) int64 [index, count] pairs}, or None
    sparse: dict[str, list[list[np.ndarray]]] | None = field(default=None, repr=False)

    @property
    def has_histograms(self) -> bool:
        """Whether each interval keeps its workers' histograms (golat results version >= 3)."""
        return self.sparse is not None

    @property
    def workers(self) -> int:
        """Number of workers whose interval histograms are kept (0 when none are)."""
        if not self.sparse or not self.sparse["latency"]:
            return 0
        return len(self.sparse["latency"][0])

    def histogram(self, k: int, which: str = "latency", worker: int | None = None) -> Histogram:
        """Interval ``k``'s histogram (ns) of ``which`` ("latency" or "service"), of one
        worker or, with ``worker=None``, all merged. Raises ConfigError when this timeline
        keeps no histograms or an argument is out of range."""
        if which not in WHICH:
            raise ConfigError(f"which must be 'latency' or 'service', got {which!r}")
        if self.sparse is None:
            raise ConfigError("this timeline keeps no interval histograms (read from a file "
                              "older than result format 4); re-run with this golat")  # fmt: skip
        if not 0 <= k < len(self):
            raise ConfigError(f"interval {k} is out of range 0..{len(self) - 1}")
        rows = self.sparse[which][k]
        if worker is not None and not 0 <= worker < len(rows):
            raise ConfigError(f"worker {worker} is out of range 0..{len(rows) - 1}")
        picked = rows if worker is None else [rows[worker]]
        return _histogram_of(picked, self.precision)

    @classmethod
    def from_core(cls, doc: dict[str, Any], precision: int = 2) -> Timeline:
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
        sparse = None
        if all("workers" in r for r in rows):
            sparse = {which: [[_pairs(w[which]) for w in r["workers"]] for r in rows]
                      for which in WHICH}  # fmt: skip
        return cls(interval_s=iv, start_s=start, **arrays,
                   gc_max_pause_ns=_max_per_interval(at, pause, len(rows), iv),
                   gc_event_s=at, gc_event_pause_ns=pause, gc_event_controller=ctl,
                   precision=precision, sparse=sparse)  # fmt: skip

    def __len__(self) -> int:
        return len(self.start_s)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``interval_s``, one list per array, and (when kept) ``precision`` and
        the interval histograms in HdrHistogram's V2 encoding."""
        out: dict[str, Any] = {"interval_s": self.interval_s}
        for name in self._arrays():
            out[name] = getattr(self, name).tolist()
        if self.sparse is not None:
            out["precision"] = self.precision
            out["histograms"] = {
                which: [[_encode_sparse(p[:, 0].tolist(), p[:, 1].tolist(), self.precision)
                         for p in row]
                        for row in self.sparse[which]]
                for which in WHICH
            }  # fmt: skip
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Timeline:
        """Read :meth:`to_dict`'s output; raises ConfigError for malformed histograms."""
        kinds = {name: dt for name, _, dt in _INTERVAL_FIELDS}
        kinds.update(start_s=np.float64, gc_max_pause_ns=np.int64, gc_event_s=np.float64,
                     gc_event_pause_ns=np.int64, gc_event_controller=bool)  # fmt: skip
        tl = cls(interval_s=float(d["interval_s"]),
                 **{k: np.array(d.get(k, []), dtype=dt) for k, dt in kinds.items()})  # fmt: skip
        if "histograms" in d:
            tl.precision, tl.sparse = _decode_histograms(d, len(tl))
        return tl

    @staticmethod
    def _arrays() -> list[str]:
        return [f for f in Timeline.__dataclass_fields__
                if f not in ("interval_s", "precision", "sparse")]  # fmt: skip

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


def _pairs(pairs: Any) -> np.ndarray:
    """[[index, count], ...] as an (n, 2) int64 array (the core's sparse form)."""
    return np.asarray(pairs if pairs else np.zeros((0, 2)), dtype=np.int64).reshape(-1, 2)


def sparse_of(h: Histogram) -> np.ndarray:
    """A histogram's non-empty slots as (n, 2) [index, count] pairs."""
    counts = h.counts
    nz = np.flatnonzero(counts)
    return np.stack([nz, counts[nz]], axis=1).astype(np.int64)


def _histogram_of(rows: list[np.ndarray], precision: int) -> Histogram:
    h = Histogram(precision)
    if any(len(r) for r in rows):
        counts = h.counts
        for r in rows:
            np.add.at(counts, r[:, 0], r[:, 1])
        h = Histogram._from_counts(counts, precision)
    return h


def _decode_histograms(d: dict[str, Any], n: int) -> tuple[int, dict[str, list[list[np.ndarray]]]]:
    """The ``histograms`` of a timeline dict: every interval has the same workers for both
    kinds, every histogram is V2 of the timeline's precision. Raises ConfigError."""
    precision = d.get("precision")
    hs = d["histograms"]
    if not isinstance(hs, dict) or sorted(hs) != sorted(WHICH):
        raise ConfigError(f"timeline histograms must have exactly the keys {list(WHICH)}, "
                          f"got {sorted(hs) if isinstance(hs, dict) else hs!r}")  # fmt: skip
    out: dict[str, list[list[np.ndarray]]] = {}
    for which in WHICH:
        rows = hs[which]
        if not isinstance(rows, list) or len(rows) != n:
            raise ConfigError(f"timeline {which} histograms: want one list per interval ({n})")
        widths = {len(r) if isinstance(r, list) else -1 for r in rows}
        if len(widths) > 1 or -1 in widths:
            raise ConfigError(f"timeline {which} histograms: every interval needs one "
                              "histogram per worker")  # fmt: skip
        decoded = []
        for k, row in enumerate(rows):
            cells = []
            for w, text in enumerate(row):
                where = f"timeline {which} histogram of interval {k}, worker {w}"
                if not isinstance(text, str):
                    raise ConfigError(f"{where}: want V2 base64 text, got {text!r}")
                try:
                    h = Histogram.decode(text)
                except ConfigError as err:
                    raise ConfigError(f"{where}: {err}") from err
                if h.precision != precision:
                    raise ConfigError(f"{where}: precision {h.precision}, the timeline's is "
                                      f"{precision!r}")  # fmt: skip
                cells.append(sparse_of(h))
            decoded.append(cells)
        out[which] = decoded
    if {len(r) for r in out["latency"]} != {len(r) for r in out["service"]}:
        raise ConfigError("timeline latency and service histograms have different workers")
    return int(precision), out
