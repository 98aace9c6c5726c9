"""Comparisons as data: stages, trials and the comparison of stages side by side, with
their JSON form. Running them is golat._compare's job; rendering them, golat._format's and
golat._plot's.

Comparison JSON format ("golat-comparison"), version history:
  1 - first version (golat 0.1).
  2 - "settings" and each stage's "settings" are golat.RunSettings JSON (the same keys
      and units as version 1's golat.run keyword arguments, so version 1 still reads);
      trials carry "overload" (text or null). tests/data has a version 1 file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _gctrace, _outliers, _slo, _stats, _units
from ._render import render
from ._result import Result, _json_default, read_versioned
from ._settings import RunSettings
from .errors import ConfigError, SLOViolation

FORMAT = "golat-comparison"
VERSION = 2
READS = (1, 2)


@dataclass(frozen=True)
class Stage:
    """A configuration to compare: overrides of the comparison's :class:`RunSettings`, the
    child's start-up environment, and whether the workload runs as its non-allocating
    variant (:meth:`Workload.pooled`). The overrides are checked when the stage is made
    (ConfigError names an unknown setting or a bad value).

    Text form (``golat compare --stage``), ``NAME:key=value,...``: lower-case keys are run
    settings, ``pooled=1`` the non-allocating variant, UPPER_CASE keys the environment;
    ``str(stage)`` prints it and :meth:`parse` reads it back."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    pooled: bool = False
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if (
            not isinstance(self.name, str) or not self.name.strip() or "," in self.name
            or ":" in self.name
        ):  # fmt: skip
            raise ConfigError(
                f"a stage name must be non-empty text without ',' or ':', got {self.name!r}"
            )
        if not isinstance(self.settings, Mapping):
            raise ConfigError(
                f"stage {self.name!r}: settings must be a dict, got {self.settings!r}"
            )
        where = f"stage {self.name!r}"
        RunSettings.check_names(self.settings, where)
        checked = {k: RunSettings.kind_of(k).check(f"{where}: {k}", v)
                   for k, v in self.settings.items()}  # fmt: skip
        object.__setattr__(self, "settings", checked)
        if not isinstance(self.env, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) and k and k == k.upper()
            for k, v in self.env.items()
        ):
            raise ConfigError(
                f"stage {self.name!r}: env must map UPPER_CASE names to strings (e.g. "
                f"{{'GODEBUG': 'asyncpreemptoff=1'}}), got {self.env!r}"
            )
        object.__setattr__(self, "env", dict(self.env))
        if not isinstance(self.pooled, bool):
            raise ConfigError(f"stage {self.name!r}: pooled must be True or False")

    def __str__(self) -> str:
        parts = [f"{k}={RunSettings.kind_of(k).to_text(v)}" for k, v in self.settings.items()]
        if self.pooled:
            parts.append("pooled=1")
        parts += [f"{k}={v}" for k, v in self.env.items()]
        return f"{self.name}:{','.join(parts)}" if parts else self.name

    @classmethod
    def parse(cls, text: str) -> Stage:
        """``NAME:key=value,...`` (see the class docstring) -> a Stage."""
        from ._params import split_pairs

        name, _, rest = str(text).partition(":")
        where = f"stage {text!r}"
        settings: dict[str, Any] = {}
        env: dict[str, str] = {}
        pooled = False
        for key, value in split_pairs(rest, where, keys=[*RunSettings.names(), "pooled"],
                                      env=True):  # fmt: skip
            if key is None:
                raise ConfigError(f"{where}: write NAME:key=value,...; cannot read {value!r}")
            if key.isupper():
                env[key] = value
            elif key == "pooled":
                if value.lower() not in ("1", "0", "yes", "no", "true", "false"):
                    raise ConfigError(f"{where}: pooled must be 1 or 0, got {value!r}")
                pooled = value.lower() in ("1", "yes", "true")
            else:
                RunSettings.check_names([key], where)
                settings[key] = RunSettings.kind_of(key).from_text(key, value)
        return cls(name.strip(), settings, env, pooled=pooled, description=rest)

    def to_dict(self) -> dict[str, Any]:
        from ._settings import json_value

        return {
            "name": self.name,
            "settings": {
                k: json_value(RunSettings.kind_of(k), v) for k, v in self.settings.items()
            },
            "env": dict(self.env),
            "pooled": self.pooled,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Stage:
        from ._settings import from_json_value

        RunSettings.check_names(d["settings"], f"stage {d.get('name')!r}")
        settings = {
            k: from_json_value(RunSettings.kind_of(k), k, v) for k, v in d["settings"].items()
        }
        return cls(d["name"], settings, d["env"], pooled=d["pooled"],
                   description=d.get("description", ""))  # fmt: skip


# The article's chapter 5 stages. lock and numa use the worker-pool settings
# (lock_os_thread, cpus, numa).
DEFAULT_STAGES = (
    Stage("baseline", {"gc": "default"}, {"GOGC": "100"},
          description="GC default (GOGC=100), goroutines not locked, no pinning"),
    Stage("gc", {"gc": "managed"}, pooled=True,
          description="GC off the hot path (gc='managed') + the pooled, non-allocating workload"),
    Stage("lock", {"gc": "managed", "lock_os_thread": True, "cpus": "auto"}, pooled=True,
          description="+ each worker LockOSThread'ed and pinned to its own CPU (cpus='auto')"),
    Stage("numa", {"gc": "managed", "lock_os_thread": True, "cpus": "auto", "numa": "local"},
          pooled=True, description="+ worker memory bound to the workers' node (numa='local')"),
)  # fmt: skip
DEFAULT_STAGE_NAMES = tuple(s.name for s in DEFAULT_STAGES)


# (key, label, unit) of each per-trial figure; medians of these make the table.
METRICS = (
    ("p50_ns", "P50", "ns"), ("p90_ns", "P90", "ns"), ("p99_ns", "P99", "ns"),
    ("p99_9_ns", "P99.9", "ns"), ("p99_99_ns", "P99.99", "ns"), ("max_ns", "max", "ns"),
    ("mean_ns", "mean", "ns"), ("stddev_ns", "stddev (jitter)", "ns"),
    ("gc_cycles", "GC cycles", "count"), ("gc_max_pause_ns", "peak GC pause", "ns"),
    ("sched_latency_p99_ns", "sched latency P99", "ns"),
    ("nivcsw", "invol. switches (process)", "count"),
    ("worker_nivcsw", "invol. switches (workers)", "count"),
    ("peak_heap_bytes", "peak heap", "bytes"),
    ("achieved_rate", "achieved req/s", "rate"),
    # what explains P99.9 and above (Result.causes): each main cause's share of the time
    # those requests spent above the P50
    *((f"tail_{k}", f"P99.9+: {v}", "share") for k, v in _outliers.MAIN_LABELS.items()),
)  # fmt: skip
TAIL_KEYS = tuple(f"tail_{k}" for k in _outliers.MAIN)
# a cause gets its row in the text table when its median share reaches this in some stage
TAIL_ROW_SHARE = 0.05
# shown in the text table (the rest are in table() and JSON)
SHOWN = ("p50_ns", "p99_ns", "p99_9_ns", "p99_99_ns", "max_ns", "stddev_ns", "gc_cycles",
         "gc_max_pause_ns", "sched_latency_p99_ns", "nivcsw", "worker_nivcsw",
         "peak_heap_bytes")  # fmt: skip
# Involuntary context switches, two sources kept apart so stages compare like with like:
# nivcsw is the child process's getrusage() count over the whole run (every thread, warm-up
# and set-up included), in every trial; worker_nivcsw is the workers' own counters over the
# measured window, only where the run has them (locked workers), else NaN.


@dataclass
class Trial:
    """One stage x trial: its Result (None when it failed), the figures taken from it, the
    parsed runtime trace of its process, and its process's resource usage over the run."""

    stage: str
    index: int  # trial number within its stage, from 0
    order: int  # position in the interleaved sequence, from 0
    result: Result | None
    metrics: dict[str, float]
    trace: _gctrace.RuntimeTrace
    rusage: dict[str, int]
    wall_s: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.result is not None and self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage, "index": self.index, "order": self.order,
            "metrics": self.metrics, "rusage": self.rusage, "wall_s": self.wall_s,
            "error": self.error, "trace": self.trace.to_dict(),
            "result": self.result.to_dict() if self.result is not None else None,
        }  # fmt: skip


def trial_metrics(result: Result, rusage: Mapping[str, int]) -> dict[str, float]:
    """The figures a comparison keeps from one trial (ns, counts, bytes, req/s)."""
    s = result.summary()
    out = {f"{k}_ns": float(s[k]) for k in ("p50", "p90", "p99", "p99_9", "p99_99", "max",
                                             "mean", "stddev")}  # fmt: skip
    g = result.gc
    nivcsw = float(rusage.get("nivcsw", float("nan")))
    per_worker = [(w.extra.get("counters") or {}).get("involuntary_switches", -1)
                  for w in result.workers]  # fmt: skip
    worker_nivcsw = float(sum(per_worker)) if per_worker and min(per_worker) >= 0 else math.nan
    out.update(
        gc_cycles=float(g.cycles), gc_max_pause_ns=float(g.max_pause_ns),
        sched_latency_p99_ns=float(g.sched_latency_p99_ns), nivcsw=nivcsw,
        worker_nivcsw=worker_nivcsw,
        peak_heap_bytes=float(g.peak_heap_bytes), achieved_rate=float(result.achieved_rate),
        controller_cycles=float(g.controller_cycles), runtime_cycles=float(g.runtime_cycles),
    )  # fmt: skip
    c = result.causes(99.9)
    shares = c.main_shares() if c is not None and c.excess_ns > 0 else None
    for k in _outliers.MAIN:
        out[f"tail_{k}"] = shares.get(k, 0.0) if shares is not None else math.nan
    return out


@dataclass
class Comparison:
    """Stages measured side by side. ``table()`` has the medians, spreads, ratios to the
    baseline and verdicts; ``trials`` every trial in the order it ran."""

    workload: str
    stages: list[Stage]
    trials: list[Trial]
    trials_per_stage: int
    settings: RunSettings
    baseline: str
    skipped: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    alpha: float = _stats.ALPHA
    environment: dict[str, Any] = field(default_factory=dict)

    # -- reading --------------------------------------------------------------------
    @property
    def failed(self) -> list[Trial]:
        """The trials that failed (no result), in the order they ran."""
        return [t for t in self.trials if not t.ok]

    def overloaded(self, name: str) -> list[Trial]:
        """The successful trials of stage ``name`` that fell short of their rate
        (:attr:`golat.Result.overload`)."""
        return [t for t in self.stage_trials(name) if t.result is not None and t.result.overload]

    def stage_settings(self, stage: Stage) -> RunSettings:
        """The settings a stage's trials ran with: the comparison's, with its overrides."""
        return self.settings.replace(**stage.settings)

    def stage_trials(self, name: str) -> list[Trial]:
        """The successful trials of stage ``name``."""
        return [t for t in self.trials if t.stage == name and t.ok]

    def results(self, name: str) -> list[Result]:
        return [t.result for t in self.stage_trials(name) if t.result is not None]

    def values(self, name: str, key: str) -> list[float]:
        """The per-trial figures ``key`` (a :data:`METRICS` key) of stage ``name``."""
        return [t.metrics.get(key, float("nan")) for t in self.stage_trials(name)]

    def table(self) -> list[dict[str, Any]]:
        """One dict per stage: ``stage``, ``trials`` (successful), ``skipped`` / ``errors``,
        and for every metric key K (``p50_ns``, ``p99_ns``, ``p99_9_ns``, ``p99_99_ns``,
        ``max_ns``, ``mean_ns``, ``stddev_ns``, ``gc_cycles``, ``gc_max_pause_ns``,
        ``sched_latency_p99_ns``, ``nivcsw``, ``worker_nivcsw``, ``peak_heap_bytes``,
        ``achieved_rate``): K is the
        median across trials, ``K_min`` / ``K_max`` its spread, ``K_ratio`` the median over
        the baseline's, ``K_verdict`` ("lower", "higher", "no difference", "too few
        trials", "n/a") and ``K_p`` the exact Mann-Whitney p-value against the baseline."""
        rows = []
        for st in self.stages:
            ok = self.stage_trials(st.name)
            row: dict[str, Any] = {
                "stage": st.name, "description": st.description, "trials": len(ok),
                "skipped": self.skipped.get(st.name),
                "errors": [t.error for t in self.trials if t.stage == st.name and t.error],
            }  # fmt: skip
            for key, _, _ in METRICS:
                vals = self.values(st.name, key)
                base = self.values(self.baseline, key)
                med = _stats.median(vals)
                bmed = _stats.median(base)
                finite = [v for v in vals if v == v]
                row[key] = med
                row[f"{key}_min"] = min(finite) if finite else float("nan")
                row[f"{key}_max"] = max(finite) if finite else float("nan")
                row[f"{key}_ratio"] = med / bmed if bmed and bmed == bmed else float("nan")
                v, p = _stats.verdict(vals, base, self.alpha)
                row[f"{key}_verdict"], row[f"{key}_p"] = v, p
            rows.append(row)
        return rows

    def value(self, stage: str, stat: str) -> float:
        """Median across the stage's trials of one statistic (``"p99"``, ``"p99.9"``,
        ``"max"``, ``"mean"``, ``"stddev"``), in ns."""
        vals = [r.value(stat) for r in self.results(stage)]
        return _stats.median(vals)

    def violations(self, slo: str, stage: str | None = None) -> list[str]:
        """Bounds of ``slo`` broken by the median of ``stage`` (default: the last stage that
        ran), each named with the measured value; ``stage="all"`` checks every stage."""
        bounds = _slo.parse(slo)
        names = self._ran()
        if stage == "all":
            targets = names
        elif stage is None:
            targets = names[-1:]
        elif stage in names:
            targets = [stage]
        else:
            raise ConfigError(f"stage {stage!r} has no results; stages with results: {names}")
        out = []
        for name in targets:
            for b in bounds:
                v = self.value(name, b.stat)
                if not b.holds(v):
                    out.append(f"{name}: {b} broken: median {b.stat} = {_units.format_ns(v)}")
        return out

    def check(self, slo: str, stage: str | None = None) -> Comparison:
        """Raise :class:`~golat.errors.SLOViolation` naming each broken bound (see
        :meth:`violations`); return self when all hold."""
        broken = self.violations(slo, stage)
        if broken:
            raise SLOViolation("; ".join(broken))
        return self

    def _ran(self) -> list[str]:
        return [s.name for s in self.stages if self.stage_trials(s.name)]

    # -- output ---------------------------------------------------------------------
    def format(self) -> str:
        """The chapter-5 table: one line per stage saying what it bought, then one row per
        metric, one column per stage with its median, its ratio to the baseline and the
        verdict, the spread across trials, and a legend."""
        return render("comparison_text", self)

    def markdown(self) -> str:
        return render("comparison_markdown", self)

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Save the percentile distribution of every stage (x axis 1/(1-p), log, as the
        HdrHistogram plotter draws it) and latency over time as one PNG; needs
        ``golat[plot]`` (matplotlib)."""
        return render("plot_comparison", self, path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION, "workload": self.workload,
            "stages": [s.to_dict() for s in self.stages],
            "trials_per_stage": self.trials_per_stage, "settings": self.settings.to_dict(),
            "baseline": self.baseline, "skipped": self.skipped, "interrupted": self.interrupted,
            "alpha": self.alpha, "environment": self.environment, "table": self.table(),
            "trials": [t.to_dict() for t in self.trials],
        }  # fmt: skip

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_json_default)

    @classmethod
    def from_json(cls, text: str) -> Comparison:
        """Read :meth:`to_json`'s output back (results, traces and all)."""
        return read_versioned(text, FORMAT, READS, "golat comparison", cls._from_dict)

    @classmethod
    def _from_dict(cls, d: dict[str, Any]) -> Comparison:
        trials = [
            Trial(stage=t["stage"], index=t["index"], order=t["order"],
                  result=Result.from_json(json.dumps(t["result"])) if t["result"] else None,
                  metrics=t["metrics"], trace=_gctrace.RuntimeTrace.from_dict(t["trace"]),
                  rusage=t["rusage"], wall_s=t["wall_s"], error=t["error"])
            for t in d["trials"]
        ]  # fmt: skip
        return cls(
            workload=d["workload"], stages=[Stage.from_dict(s) for s in d["stages"]],
            trials=trials, trials_per_stage=d["trials_per_stage"],
            settings=RunSettings.from_dict(d["settings"]),
            baseline=d["baseline"], skipped=d["skipped"], interrupted=d["interrupted"],
            alpha=d["alpha"], environment=d["environment"],
        )  # fmt: skip

    def __repr__(self) -> str:
        return (f"<golat.Comparison {len(self.stages)} stages, {len(self.trials)} trials"
                f"{', interrupted' if self.interrupted else ''}>")  # fmt: skip
