"""Results of a run: latency and service-time histograms, counters, GC activity, the
configuration and the environment.

Result JSON format ("golat-result"), version history:
  1 - first version (golat 0.1).
  2 - "timeline" (per-interval statistics and GC events, or null); "gc" gains
      runtime_cycles, controller_cycles, peak_heap_bytes, managed, threshold_bytes,
      controller_events and sched_latency_p99_ns. Version 1 files still read (timeline None).
  3 - "settings" (golat.RunSettings.to_dict(), or null) and "overload" (text, or null);
      "config" is the run document as the core echoed it (what ran). Versions 1 and 2
      still read (settings None); tests/data has a file of each.
  4 - "start_unix_ns" / "window_unix_ns": wall-clock start of the run and of its measured
      window (what aligns results from several hosts); the timeline keeps every worker's
      latency and service histograms per interval ("precision", "histograms", V2 text);
      "inputs": the results a merged result was made of (golat.merge), each a version 4
      result without workers or timeline, [] for a single run. Read strictly (an unknown key
      is an error). Versions 1 to 3 still read (no wall-clock times, no interval histograms,
      no inputs); tests/data has a version 3 file.
  5 - "tail": the slowest requests and what overlapped them (golat._outliers), or null:
      {"per_worker", "threshold_ns", "dropped", "gc_poll_ns", "marks_known", "gc_pauses",
      "outliers": {column: [values]}}. Versions 1 to 4 still read (no outliers);
      tests/data has a version 4 file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, TypeVar

import numpy as np

from . import _outliers, _slo, _units
from ._histogram import Histogram
from ._ramp import Knee, StepResult, knee
from ._render import render
from ._settings import RunSettings
from ._timeline import Timeline
from .errors import ConfigError, SLOViolation

FORMAT = "golat-result"
VERSION = 5
READS = (1, 2, 3, 4, 5)
OVERLOAD_FRACTION = 0.95  # below this share of the target rate a run is overloaded

T = TypeVar("T")

PERCENTILES = (50.0, 90.0, 99.0, 99.9, 99.99)


def stat_key(p: float) -> str:
    """50 -> 'p50', 99.9 -> 'p99_9' (the names used in tables and JSON)."""
    return "p" + f"{p:g}".replace(".", "_")


def summarize(h: Histogram) -> dict[str, float]:
    """Percentiles, max, mean and stddev of a histogram, in ns, keyed ``p50 ... max``.

    A percentile is HdrHistogram's (the top of the slot holding its rank, up to 1 % above
    the values in it) capped at the exact max, so no percentile reads above the max."""
    if h.count == 0:
        return {**{stat_key(p): float("nan") for p in PERCENTILES},
                "max": float("nan"), "mean": float("nan"), "stddev": float("nan")}  # fmt: skip
    vals = np.minimum(h.percentiles(list(PERCENTILES)), h.max)
    out = {stat_key(p): float(v) for p, v in zip(PERCENTILES, vals)}
    out.update(max=float(h.max), mean=float(h.mean), stddev=float(h.stddev))
    return out


def stat_value(h: Histogram, stat: str) -> float:
    """One statistic of ``h`` in ns (``"p99"``, ``"p99.9"``, ``"p99_9"``, ``"max"``, ``"min"``,
    ``"mean"``, ``"stddev"``); ConfigError names what is allowed. 0 for an empty histogram."""
    s = stat.lower() if isinstance(stat, str) else ""
    if s.startswith("p"):
        try:
            p = float(s[1:].replace("_", "."))
        except ValueError:
            raise ConfigError(f"unknown statistic {stat!r}") from None
        v = float(h.percentile(p))
        return min(v, float(h.max)) if h.count else v
    if s in ("max", "mean", "stddev", "min"):
        return float(getattr(h, s))
    raise ConfigError(f"unknown statistic {stat!r}; use pNN, max, min, mean or stddev")


@dataclass
class GCActivity:
    """What the Go collector did inside the measured window.

    ``cycles`` = ``runtime_cycles`` (started by the runtime: heap goal or memory limit) +
    ``controller_cycles`` (run by the managed-GC controller). ``peak_heap_bytes`` is the
    largest heap in use sampled during the run (by the managed-GC controller, 1 to 50 ms
    apart, and at every timeline tick, at most 50 ms apart). ``controller_events`` lists
    every collection the controller ran (warm-up included), with ``at_ns`` from the window's
    start, its duration, how long it waited for a gap and whether it found one (``in_gap``).
    ``sched_latency_p99_ns``: P99 of the runtime's scheduler latency (time goroutines
    spent runnable before running, /sched/latencies:seconds), in the window. It counts every
    goroutine, golat's own timeline sampler and GC controller included, and a worker that
    spins between requests is rarely scheduled: read it as the runtime's health, not as
    the requests' delay.
    """

    cycles: int = 0
    forced: int = 0
    max_pause_ns: int = 0
    pauses_ns: list[int] = field(default_factory=list)
    gc_percent: int = 100
    memory_limit: int = 0
    heap_live_bytes_end: int = 0
    runtime_cycles: int = 0
    controller_cycles: int = 0
    peak_heap_bytes: int = 0
    managed: bool = False
    threshold_bytes: int = 0
    controller_events: list[dict[str, Any]] = field(default_factory=list)
    sched_latency_p99_ns: float = float("nan")


@dataclass
class WorkerResult:
    id: int
    requests: int
    late_starts: int
    latency: Histogram
    service: Histogram
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    """One run's measurements. Latency is from each request's intended start (coordinated
    omission corrected); service time is from its actual start. All times are ns."""

    latency: Histogram
    service: Histogram
    start_delay: Histogram
    requests: int
    warmup_requests: int
    late_starts: int
    late_threshold_ns: int
    stalls: int
    measured_s: float
    achieved_rate: float
    interrupted: bool
    gc: GCActivity
    workers: list[WorkerResult]
    config: dict[str, Any]
    environment: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)
    timeline: Timeline | None = None
    settings: RunSettings | None = None
    start_unix_ns: int | None = None  # wall clock (ns since the epoch) of the first request
    window_unix_ns: int | None = None  # wall clock of the measured window's start
    inputs: list[Result] = field(default_factory=list)  # what golat.merge made this of
    steps: list[StepResult] | None = None
    queued: int = 0
    # The slowest requests (golat._outliers.DTYPE, slowest first) and how they were kept.
    outliers: np.ndarray = field(default_factory=lambda: _outliers.from_records(None),
                                 compare=False, repr=False)  # fmt: skip
    tail: dict[str, Any] | None = None

    # -- building -------------------------------------------------------------------
    @classmethod
    def from_core(cls, report: dict[str, Any], counts, config: dict[str, Any],
                  environment: dict[str, Any]) -> Result:  # fmt: skip
        """Assemble a Result from the core's report and its counts buffer."""
        n, prec = report["counts_len"], report["precision"]
        names = report["histograms"]
        blocks = []
        for i, name in enumerate(names):
            wr = report["workers"][i // 3]
            exact = {}
            if name in ("latency", "service") and wr["requests"]:
                # Go keeps the exact extremes; the counts hold them only to 1 % (or 0.1 %).
                exact = {"min": wr[f"{name}_min_ns"], "max": wr[f"{name}_max_ns"]}
            blocks.append(Histogram._from_counts(counts[i * n : (i + 1) * n], prec, **exact))
        merged: dict[str, Histogram] = {}
        per_worker: list[dict[str, Histogram]] = []
        for i, (name, h) in enumerate(zip(names, blocks)):
            w = i // 3
            if len(per_worker) <= w:
                per_worker.append({})
            per_worker[w][name] = h
            merged[name] = merged[name] + h if name in merged else h.copy()
        workers = [
            WorkerResult(
                id=wr["id"], requests=wr["requests"], late_starts=wr["late_starts"],
                latency=per_worker[i]["latency"], service=per_worker[i]["service"],
                extra={k: v for k, v in wr.items() if k not in ("id", "requests", "late_starts")},
            )
            for i, wr in enumerate(report["workers"])
        ]  # fmt: skip
        g = report["gc"]
        gc = GCActivity(
            cycles=g["cycles"], forced=g["forced"], max_pause_ns=g["max_pause_ns"],
            pauses_ns=list(g.get("pauses_ns") or []), gc_percent=g["gc_percent"],
            memory_limit=g["memory_limit"], heap_live_bytes_end=g["heap_live_bytes_end"],
            runtime_cycles=g.get("runtime_cycles", g["cycles"]),
            controller_cycles=g.get("controller_cycles", 0),
            peak_heap_bytes=g.get("peak_heap_bytes", 0), managed=g.get("managed", False),
            threshold_bytes=g.get("threshold_bytes", 0),
            controller_events=list(g.get("controller_events") or []),
            sched_latency_p99_ns=_runtime_p99_ns(g.get("sched_latencies_seconds")),
        )  # fmt: skip
        tl = Timeline.from_core(report["timeline"], prec) if report.get("timeline") else None
        steps = [StepResult.from_core(d, prec) for d in report.get("steps") or []] or None
        env = dict(environment, go_version=report["go_version"], gomaxprocs=report["gomaxprocs"])
        extra = {k: report[k] for k in report if k not in _CORE_KEYS}
        tail = dict(report["tail"]) if report.get("tail") else None
        outliers = _outliers.from_records(tail.pop("outliers") if tail else None)
        # What ran, as the core decoded it (falls back to what was sent).
        config = dict(report.get("config") or config)
        if report.get("workload"):
            config["workload"] = report["workload"]
        return cls(
            latency=merged["latency"], service=merged["service"], start_delay=merged["start_delay"],
            requests=report["requests"], warmup_requests=report["warmup_requests"],
            late_starts=report["late_starts"], late_threshold_ns=report["late_threshold_ns"],
            stalls=report["stalls"], measured_s=report["measured_ns"] / 1e9,
            achieved_rate=report["achieved_rate"], interrupted=report["interrupted"], gc=gc,
            workers=workers, config=config, environment=env, extra=extra, timeline=tl,
            start_unix_ns=report.get("start_unix_ns"), window_unix_ns=report.get("window_unix_ns"),
            steps=steps, queued=report.get("queued", 0), outliers=outliers, tail=tail,
        )  # fmt: skip

    # -- reading --------------------------------------------------------------------
    @property
    def workload(self) -> Any:
        """The :mod:`golat.workloads` workload that ran (as the core echoed it), or None
        for a Python callable (:func:`golat.measure`) or an unknown kind."""
        from .workloads import from_spec

        spec = self.config.get("workload")
        try:
            return from_spec(spec) if isinstance(spec, dict) else None
        except ConfigError:
            return None

    @property
    def target_rate(self) -> float:
        """The requested rate in requests/s (0: closed loop, or a ramp: see ``steps``)."""
        return float(self.config.get("rate") or 0.0)

    def knee(self, percentile: float = 99.0, factor: float = 3.0) -> Knee | None:
        """Where a ramp's tail broke (:class:`golat._ramp.Knee`: ``rate``, ``broken_at``,
        ``reason``), None for a run without a ramp. A step is broken when it achieved less
        than 95 % of its rate, or its P``percentile`` is more than ``factor`` times the
        lowest of the steps before it; the knee is the rate of the step before the first
        broken step that the next step confirms (docs/api.md, "Ramps and the knee")."""
        return knee(self.steps, percentile, factor) if self.steps else None

    @property
    def backlog_cut_s(self) -> float | None:
        """When this run stopped serving the backlog of its schedule, in s into the measured
        window, or None when it ran every request due. A timed open-loop run that is still
        behind its schedule ``max(1 s, duration / 10)`` after its window does not run the
        requests due in the window that it has not started by then: they are in no
        histogram (their latency would have been longer still)."""
        ns = self.extra.get("backlog_cut_ns")
        return ns / 1e9 if ns else None

    @property
    def overload(self) -> str | None:
        """Why this run is overloaded, or None: an open-loop run that achieved less than
        95 % of its target rate, or stopped serving its backlog (:attr:`backlog_cut_s`).
        Its requests queued behind each other, so its corrected latencies measure that
        backlog, not the system."""
        rate, cut = self.target_rate, self.backlog_cut_s
        if cut is None and (not rate or self.requests < 1
                            or self.achieved_rate >= OVERLOAD_FRACTION * rate):  # fmt: skip
            return None
        text = f"overloaded: achieved {self.achieved_rate:,.0f} req/s"
        if rate:
            text += f", {100 * self.achieved_rate / rate:.0f} % of the target {rate:,.0f} req/s"
        text += ("; requests queued behind each other, so the corrected latencies measure the "
                 "backlog, not the system (lower the rate, or add workers)")  # fmt: skip
        if cut is not None:
            due = round(rate * self.config.get("duration_ns", 0) / 1e9) if rate else 0
            # Poisson arrivals: rate x duration is the expected number due, not the count.
            of = "of ~" if self.config.get("arrivals") == "poisson" else "of the "
            unrun = "the requests due in the window"
            if due > self.requests:
                unrun = f"{due - self.requests:,} {of}{due:,} requests due in the window"
            text += (f". It stopped serving its backlog {cut:.2f} s into the window: {unrun} "
                     "never ran and are in no percentile")  # fmt: skip
        return text

    def causes(self, percentile: float = 99.9) -> _outliers.TailCauses | None:
        """What explains the requests at or above ``percentile``: their latency above the
        run's P50, split between causes (``stall``, ``managed_gc``, ``gc_pause``,
        ``queued.<root>``, ``switched``, ``gc_mark``, ``faulted``, ``unexplained``; see
        golat._outliers), from :attr:`outliers`. ``covered`` says how many of the tail's
        requests the record holds (the ``outliers`` slowest per worker are always exact).
        None when the run kept no outliers."""
        if not self.tail:
            return None
        exact = self.tail["per_worker"]
        if self.tail["threshold_ns"] > 0 and not self.tail["dropped"]:
            over = int((self.outliers["latency_ns"] >= self.tail["threshold_ns"]).sum())
            exact = max(exact, over)
        base = self.value("p50") if self.latency.count else 0.0
        return _outliers.causes(self.outliers, self.requests, percentile, base, exact)

    def summary(self, which: str = "latency") -> dict[str, float]:
        """``{"p50": ns, "p90": ..., "p99_99": ..., "max": ..., "mean": ..., "stddev": ...}``."""
        return summarize(self._hist(which))

    def _hist(self, which: str) -> Histogram:
        if which not in ("latency", "service", "start_delay"):
            raise ConfigError(f"which must be 'latency', 'service' or 'start_delay', got {which!r}")
        return getattr(self, which)

    def value(self, stat: str, which: str = "latency") -> float:
        """One statistic in ns: ``"p99"``, ``"p99.9"``, ``"max"``, ``"mean"``, ``"stddev"``."""
        return stat_value(self._hist(which), stat)

    def by_class(self) -> dict[str, Histogram]:
        """Latency (from intended start, ns) split by outcome class, for workloads whose
        requests have one: the HTTP workload's ``"200 GET /"``, ``"error GET /"`` ...
        Empty for workloads without classes."""
        prec = self.latency.precision
        return {
            c["label"]: Histogram._from_sparse(c["counts"], prec)
            for c in self.extra.get("classes") or []
        }

    def by_status(self) -> dict[int, Histogram]:
        """Latency split by HTTP status code (all paths merged); 0 counts requests that got
        no response. Empty for workloads other than HTTP."""
        out: dict[int, Histogram] = {}
        for label, h in self.by_class().items():
            head = label.split(" ", 1)[0]
            code = 0 if head == "error" else int(head) if head.isdigit() else None
            if code is not None:
                out[code] = out[code] + h if code in out else h
        return out

    def violations(self, slo: str) -> list[str]:
        """The bounds of ``slo`` this result breaks, each with the measured value."""
        out = []
        for b in _slo.parse(slo):
            v = self.value(b.stat)
            if not b.holds(v):
                out.append(f"{b} broken: measured {b.stat} = {_units.format_ns(v)}")
        return out

    def check(self, slo: str) -> Result:
        """Raise :class:`~golat.errors.SLOViolation` naming each broken bound of ``slo``
        (e.g. ``"p99<=1ms,max<=10ms"``); return self when every bound holds."""
        __tracebackhide__ = True  # pytest: show the test's line, not this one
        broken = self.violations(slo)
        if broken:
            raise SLOViolation("; ".join(broken))
        return self

    def plot(self, path: str, label: str = "run") -> Any:
        """Save the percentile distribution and the timeline as a PNG (``golat[plot]``)."""
        return render("plot_result", self, path, label)

    def table(self) -> str:
        """An aligned table of latency and service-time statistics with units; a merged
        result adds one row per input (see :func:`golat.merge`)."""
        return render("result_table", self)

    def to_hlog(self) -> str:
        """The timeline as an HdrHistogram interval log (format version 1.3, values in ns,
        the max column in ms): per interval, ``Tag=latency`` and ``Tag=service`` (all
        workers merged) and ``Tag=latency.wN`` / ``Tag=service.wN`` per worker, timestamps
        in seconds from ``#[BaseTime: ...]``, the measured window's wall-clock start.
        A result without interval histograms (no timeline, or read from a version 1 to 3
        file) gives one interval covering the whole measured window. Read it back with
        :func:`golat.read_hlog`, or with any HdrHistogram log reader."""
        return render("result_hlog", self)

    # -- JSON -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        h = lambda x: json.loads(x.to_json())  # noqa: E731
        return {
            "format": FORMAT, "version": VERSION,
            "config": self.config, "environment": self.environment,
            "requests": self.requests, "warmup_requests": self.warmup_requests,
            "late_starts": self.late_starts, "late_threshold_ns": self.late_threshold_ns,
            "stalls": self.stalls, "measured_s": self.measured_s,
            "achieved_rate": self.achieved_rate, "interrupted": self.interrupted,
            "overload": self.overload,
            "settings": self.settings.to_dict() if self.settings is not None else None,
            "summary": {"latency": self.summary(), "service": self.summary("service")},
            "gc": vars(self.gc),
            "histograms": {"latency": h(self.latency), "service": h(self.service),
                           "start_delay": h(self.start_delay)},
            "workers": [
                {"id": w.id, "requests": w.requests, "late_starts": w.late_starts,
                 "latency": h(w.latency), "service": h(w.service), **w.extra}
                for w in self.workers
            ],
            "extra": self.extra,
            "timeline": self.timeline.to_dict() if self.timeline is not None else None,
            "start_unix_ns": self.start_unix_ns, "window_unix_ns": self.window_unix_ns,
            "inputs": [r.to_dict() for r in self.inputs],
            "steps": [x.to_dict() for x in self.steps] if self.steps else None,
            "queued": self.queued,
            "tail": ({**self.tail, "outliers": _outliers.to_columns(self.outliers)}
                     if self.tail else None),
        }  # fmt: skip

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_json_default)

    @classmethod
    def from_json(cls, text: str) -> Result:
        """Read :meth:`to_json`'s output back (any version in ``READS``)."""
        return read_versioned(text, FORMAT, READS, "golat result", cls._from_dict)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Result:
        """Read :meth:`to_dict`'s output (any version in ``READS``); raises ConfigError."""
        return read_versioned(d, FORMAT, READS, "golat result", cls._from_dict)

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> Result:
        H = lambda x: Histogram.from_json(json.dumps(x))  # noqa: E731
        known = ("id", "requests", "late_starts", "latency", "service")
        workers = [
            WorkerResult(id=w["id"], requests=w["requests"], late_starts=w["late_starts"],
                         latency=H(w["latency"]), service=H(w["service"]),
                         extra={k: v for k, v in w.items() if k not in known})
            for w in d["workers"]
        ]  # fmt: skip
        r = cls(
            latency=H(d["histograms"]["latency"]), service=H(d["histograms"]["service"]),
            start_delay=H(d["histograms"]["start_delay"]), requests=d["requests"],
            warmup_requests=d["warmup_requests"], late_starts=d["late_starts"],
            late_threshold_ns=d["late_threshold_ns"], stalls=d["stalls"],
            measured_s=d["measured_s"], achieved_rate=d["achieved_rate"],
            interrupted=d["interrupted"], gc=GCActivity(**d["gc"]), workers=workers,
            config=d["config"], environment=d["environment"], extra=d.get("extra", {}),
            timeline=Timeline.from_dict(d["timeline"]) if d.get("timeline") else None,
            settings=RunSettings.from_dict(d["settings"]) if d.get("settings") else None,
            steps=[StepResult.from_dict(x) for x in d["steps"]] if d.get("steps") else None,
            queued=d.get("queued", 0),
            start_unix_ns=d.get("start_unix_ns"), window_unix_ns=d.get("window_unix_ns"),
            inputs=[cls.from_dict(x) for x in d.get("inputs") or []],
        )  # fmt: skip
        if d.get("tail"):
            tail = dict(d["tail"])
            r.outliers = _outliers.from_records(tail.pop("outliers"))
            r.tail = tail
        if d["version"] >= 4:
            _check_v4(d, r)
        return r

    def __repr__(self) -> str:
        s = self.summary()
        return (f"<golat.Result {self.requests} requests, p50={_units.format_ns(s['p50'])}, "
                f"p99={_units.format_ns(s['p99'])}, max={_units.format_ns(s['max'])}>")  # fmt: skip


_CORE_KEYS = {
    "requests", "warmup_requests", "late_starts", "late_threshold_ns", "stalls", "measured_ns",
    "achieved_rate", "interrupted", "workers", "gc", "histograms", "counts_len", "precision",
    "gomaxprocs", "go_version", "error", "timeline", "workload", "config", "start_unix_ns",
    "window_unix_ns", "steps", "queued", "tail",
}  # fmt: skip


def read_versioned(text: str | dict[str, Any], fmt: str, reads: tuple[int, ...], what: str,
                   build: Callable[[dict[str, Any]], T]) -> T:  # fmt: skip
    """Decode a versioned JSON document (``{"format": fmt, "version": v, ...}``, as text or
    already parsed) with ``build``; anything wrong with it (not JSON, another format, a
    version not in ``reads``, a missing or ill-typed field) is a ConfigError that says which."""
    try:
        d = text if isinstance(text, dict) else json.loads(text)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"not a {what}: {err}") from err
    if not isinstance(d, dict) or d.get("format") != fmt:
        raise ConfigError(f"not a {what} (no 'format': '{fmt}')")
    if d.get("version") not in reads:
        raise ConfigError(f"{what} version {d.get('version')!r} is not supported "
                          f"(this golat reads versions {reads})")  # fmt: skip
    try:
        return build(d)
    except ConfigError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
        raise ConfigError(f"{what} is malformed: {type(err).__name__} {err}") from err


_V4_KEYS = {
    "format", "version", "config", "environment", "requests", "warmup_requests", "late_starts",
    "late_threshold_ns", "stalls", "measured_s", "achieved_rate", "interrupted", "summary", "gc",
    "histograms", "workers", "extra", "timeline", "start_unix_ns", "window_unix_ns", "inputs",
    "overload", "settings", "steps", "queued",
}  # fmt: skip


_V5_KEYS = _V4_KEYS | {"tail"}


def _check_v4(d: dict[str, Any], r: Result) -> None:
    """A version 4 or 5 document is read strictly: no unknown key, wall-clock times are
    ints or null, a merged result's histograms are the sums of its inputs'. Raises
    ConfigError."""
    keys = _V5_KEYS if d["version"] >= 5 else _V4_KEYS
    unknown = sorted(set(d) - keys)
    if unknown:
        raise ConfigError(
            f"golat result: unknown key(s) {unknown}; version {d['version']} has {sorted(keys)}"
        )
    for key in ("start_unix_ns", "window_unix_ns"):
        v = d.get(key)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or v < 0):
            raise ConfigError(f"golat result: {key} must be null or an int >= 0 (ns), got {v!r}")
    tl = r.timeline
    if tl is not None and tl.has_histograms and len(tl) and tl.workers != len(r.workers):
        raise ConfigError(f"golat result: the timeline keeps {tl.workers} workers' histograms "
                          f"per interval, the result has {len(r.workers)} workers")  # fmt: skip
    if not isinstance(d.get("inputs"), list):
        raise ConfigError("golat result: 'inputs' must be a list ([] for a single run)")
    if r.inputs:
        for i, x in enumerate(r.inputs):
            if x.inputs or x.workers or x.timeline is not None:
                raise ConfigError(
                    f"golat result: input {i} must have no inputs, workers or timeline of its "
                    "own (they live in the merged result)"
                )
        for which in ("latency", "service", "start_delay"):
            total = Histogram(r.latency.precision)
            for x in r.inputs:
                total.merge(getattr(x, which))
            if total != getattr(r, which):
                raise ConfigError(f"golat result: the merged {which} histogram is not the sum of "
                                  "its inputs'")  # fmt: skip
        tagged = [w.extra.get("input") for w in r.workers]
        if any(not isinstance(t, int) or not 0 <= t < len(r.inputs) for t in tagged):
            raise ConfigError("golat result: every worker of a merged result needs an 'input' "
                              f"index in 0..{len(r.inputs) - 1}")  # fmt: skip


def _runtime_p99_ns(h: dict[str, Any] | None) -> float:
    """P99 in ns of a runtime/metrics histogram from the core (nan when empty or absent)."""
    if not h or not h.get("counts"):
        return float("nan")
    from .runtime import RuntimeHistogram

    rh = RuntimeHistogram.from_dict(h)
    if int(sum(rh.counts)) == 0:
        return float("nan")
    return rh.percentile(99) * 1e9


def _json_default(o: Any) -> Any:
    try:
        import numpy as np

        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
    except ImportError:  # pragma: no cover
        pass
    raise TypeError(f"cannot encode {type(o).__name__} as JSON")
