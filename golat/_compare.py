"""golat.compare: tuning stages side by side, each trial in a fresh child process.

Every stage x trial runs in its own process (``python -m golat._worker``, started with
subprocess: a new interpreter, never a fork of this one), with the stage's start-up
environment (GOGC, GOMAXPROCS, GODEBUG ...), in interleaved order (A B C D A B C D ...), so
machine drift hits every stage alike and one stage's heap, threads and start-up settings
cannot leak into the next. The child's stderr carries the runtime's trace lines
(``GODEBUG=gctrace=1`` is on by default), which are parsed and kept with the trial.

Comparison JSON format ("golat-comparison"), version history:
  1 - first version (golat 0.1).
"""

from __future__ import annotations

import inspect
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Union

from . import _env, _gctrace, _slo, _stats, _units
from ._result import Result
from .errors import ComparisonInterrupted, ConfigError, SLOViolation
from .workloads import Workload

FORMAT = "golat-comparison"
VERSION = 1


@dataclass(frozen=True)
class Stage:
    """A configuration to compare: :func:`golat.run` settings, the child's start-up
    environment, and whether the workload runs as its non-allocating variant
    (:meth:`Workload.pooled`). Stage settings override the comparison's run settings."""

    name: str
    settings: Mapping[str, Any] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    pooled: bool = False
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip() or "," in self.name:
            raise ConfigError(
                f"a stage name must be non-empty text without commas, got {self.name!r}"
            )
        if not isinstance(self.settings, Mapping):
            raise ConfigError(
                f"stage {self.name!r}: settings must be a dict, got {self.settings!r}"
            )
        if not isinstance(self.env, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in self.env.items()
        ):
            raise ConfigError(
                f"stage {self.name!r}: env must map names to strings (e.g. "
                f"{{'GODEBUG': 'asyncpreemptoff=1'}}), got {self.env!r}"
            )
        if "progress" in self.settings:
            raise ConfigError(f"stage {self.name!r}: 'progress' is not a run setting for a stage")


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

StageLike = Union[Stage, str, tuple]

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
)  # fmt: skip
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
    return out


@dataclass
class Comparison:
    """Stages measured side by side. ``table()`` has the medians, spreads, ratios to the
    baseline and verdicts; ``trials`` every trial in the order it ran."""

    workload: str
    stages: list[Stage]
    trials: list[Trial]
    trials_per_stage: int
    settings: dict[str, Any]
    baseline: str
    skipped: dict[str, str] = field(default_factory=dict)
    interrupted: bool = False
    alpha: float = _stats.ALPHA
    environment: dict[str, Any] = field(default_factory=dict)

    # -- reading --------------------------------------------------------------------
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
        """The chapter-5 table: one row per metric, one column per stage with its median,
        its ratio to the baseline and the verdict, then the spread across trials."""
        from ._format import comparison_text

        return comparison_text(self)

    def markdown(self) -> str:
        from ._format import comparison_markdown

        return comparison_markdown(self)

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Save the percentile distribution of every stage (x axis 1/(1-p), log, as the
        HdrHistogram plotter draws it) and latency over time as one PNG; needs
        ``golat[plot]`` (matplotlib)."""
        from ._plot import plot_comparison

        return plot_comparison(self, path)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "version": VERSION, "workload": self.workload,
            "stages": [{"name": s.name, "settings": dict(s.settings), "env": dict(s.env),
                        "pooled": s.pooled, "description": s.description} for s in self.stages],
            "trials_per_stage": self.trials_per_stage, "settings": self.settings,
            "baseline": self.baseline, "skipped": self.skipped, "interrupted": self.interrupted,
            "alpha": self.alpha, "environment": self.environment, "table": self.table(),
            "trials": [t.to_dict() for t in self.trials],
        }  # fmt: skip

    def to_json(self, indent: int | None = None) -> str:
        from ._result import _json_default

        return json.dumps(self.to_dict(), indent=indent, default=_json_default)

    @classmethod
    def from_json(cls, text: str) -> Comparison:
        """Read :meth:`to_json`'s output back (results, traces and all)."""
        try:
            d = json.loads(text)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"not a golat comparison: {err}") from err
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise ConfigError("not a golat comparison (no 'format': 'golat-comparison')")
        if d.get("version") != VERSION:
            raise ConfigError(f"golat comparison version {d.get('version')!r} is not supported")
        try:
            return cls._from_dict(d)
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as err:
            raise ConfigError(f"golat comparison is malformed: {type(err).__name__} {err}") from err

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
            workload=d["workload"], stages=[Stage(**s) for s in d["stages"]], trials=trials,
            trials_per_stage=d["trials_per_stage"], settings=d["settings"],
            baseline=d["baseline"], skipped=d["skipped"], interrupted=d["interrupted"],
            alpha=d["alpha"], environment=d["environment"],
        )  # fmt: skip

    def __repr__(self) -> str:
        return (f"<golat.Comparison {len(self.stages)} stages, {len(self.trials)} trials"
                f"{', interrupted' if self.interrupted else ''}>")  # fmt: skip


Progress = Callable[[int, int, Trial], None]  # (trials done, trials planned, the trial)


def _run_parameters() -> set[str]:
    from ._run import run

    return set(inspect.signature(run).parameters) - {"workload", "progress"}


def resolve_stages(stages: Iterable[StageLike] | str | None) -> list[Stage]:
    """Stages from: None (the four default stages), names of default stages (a list or
    comma-separated text), :class:`Stage` objects, or ``(name, settings[, env])`` tuples."""
    if stages is None:
        return list(DEFAULT_STAGES)
    if isinstance(stages, str):
        stages = [s.strip() for s in stages.split(",") if s.strip()]
    by_name = {s.name: s for s in DEFAULT_STAGES}
    out: list[Stage] = []
    for s in stages:
        if isinstance(s, Stage):
            out.append(s)
        elif isinstance(s, str):
            if s not in by_name:
                known = ", ".join(DEFAULT_STAGE_NAMES)
                raise ConfigError(
                    f"unknown stage {s!r}; default stages: {known} (or pass golat.Stage objects)"
                )
            out.append(by_name[s])
        elif isinstance(s, tuple) and 2 <= len(s) <= 3:
            out.append(Stage(s[0], dict(s[1]), dict(s[2]) if len(s) == 3 else {}))
        else:
            raise ConfigError(f"a stage must be a golat.Stage, a default stage name or a "
                              f"(name, settings[, env]) tuple, got {s!r}")  # fmt: skip
    if not out:
        raise ConfigError("compare needs at least one stage")
    names = [s.name for s in out]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"stage names must be unique, repeated: {dup}")
    return out


def compare(
    workload: Workload, stages: Iterable[StageLike] | str | None = None, trials: int = 5, *,
    baseline: str | None = None, trace: bool = True, alpha: float = _stats.ALPHA,
    progress: Progress | None = None, timeout: float | None = None, **run_settings: Any,
) -> Comparison:  # fmt: skip
    """Run ``workload`` under each stage, ``trials`` times, interleaved, each trial in a
    fresh child process, and compare the stages.

    Args:
        workload: a :mod:`golat.workloads` workload; stages with ``pooled=True`` run
            ``workload.pooled()``.
        stages: None for the article's four (baseline, gc, lock, numa); names of those,
            :class:`Stage` objects or ``(name, settings[, env])`` tuples. A stage whose
            settings :func:`golat.run` does not accept raises ConfigError.
        trials: trials per stage (>= 1; at least 4 are needed for a verdict at alpha 0.05).
        baseline: the stage the others are compared with (default: the first).
        trace: add ``GODEBUG=gctrace=1`` to each child's environment (unless the stage sets
            gctrace itself) and keep the parsed GC trace with each trial.
        alpha: significance level of the verdicts (exact Mann-Whitney U, two-sided).
        progress: called after each trial with (trials done, trials planned, trial).
        timeout: seconds a trial may take before its process is killed (default: its
            planned duration plus 120 s).
        **run_settings: :func:`golat.run` settings shared by every stage (rate, duration,
            warmup, workers ...); a stage's own settings win.

    Returns:
        A :class:`Comparison`.

    Raises:
        ConfigError: bad arguments, or a trial rejected its settings.
        ComparisonInterrupted: on Ctrl-C, after stopping the running trial; its
            ``comparison`` holds what was measured so far (a KeyboardInterrupt subclass).
    """
    if not isinstance(workload, Workload) or type(workload) is Workload:
        raise ConfigError(f"workload must be a golat.workloads workload, got {workload!r}")
    stage_list = resolve_stages(stages)
    _units.number("trials", trials, minimum=1, strict_min=False, maximum=1000, integer=True)
    _units.number("alpha", alpha, maximum=0.5)
    names = [s.name for s in stage_list]
    baseline = names[0] if baseline is None else baseline
    if baseline not in names:
        raise ConfigError(f"baseline {baseline!r} is not one of the stages {names}")
    accepted = _run_parameters()
    unknown = sorted(set(run_settings) - accepted)
    if unknown:
        raise ConfigError(f"unknown run settings {unknown}; golat.run takes {sorted(accepted)}")
    skipped: dict[str, str] = {}
    for st in stage_list:
        missing = sorted(set(st.settings) - accepted)
        if missing:
            raise ConfigError(
                f"stage {st.name!r} sets {', '.join(missing)}, which golat.run does not take; "
                f"allowed: {sorted(accepted)}"
            )
    comp = Comparison(
        workload=str(workload), stages=stage_list, trials=[], trials_per_stage=int(trials),
        settings=dict(run_settings), baseline=baseline, skipped=skipped, alpha=float(alpha),
        environment=_env.collect(),
    )  # fmt: skip
    if "timeline" not in run_settings:
        # about 20 points per trial for the latency-over-time plot, at most one a second
        planned = run_settings.get("duration") or 5.0
        run_settings["timeline"] = max(0.01, min(1.0, float(planned) / 20))
    runnable = [s for s in stage_list if s.name not in skipped]
    order = [(t, s) for t in range(int(trials)) for s in runnable]
    try:
        for pos, (t, st) in enumerate(order):
            settings = {**run_settings, **st.settings}
            trial = run_trial(workload, st, settings, index=t, order=pos, trace=trace,
                              timeout=timeout)  # fmt: skip
            comp.trials.append(trial)
            if progress is not None:
                progress(pos + 1, len(order), trial)
    except KeyboardInterrupt:
        comp.interrupted = True
        raise ComparisonInterrupted(comp) from None
    return comp


def child_env(stage: Stage, trace: bool) -> dict[str, str]:
    """The environment a stage's child starts with: ours, then the stage's, gctrace added."""
    env = dict(os.environ)
    env.update(stage.env)
    if trace and "gctrace=" not in env.get("GODEBUG", ""):
        env["GODEBUG"] = ",".join(filter(None, [env.get("GODEBUG", ""), "gctrace=1"]))
    # The child must import this very golat, wherever it was imported from.
    here = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH", "")]))
    return env


def _planned_s(settings: Mapping[str, Any]) -> float | None:
    d = settings.get("duration")
    if d is None and settings.get("requests") is not None:
        return None
    return float(d if d is not None else 5.0) + float(settings.get("warmup") or 0.0)


def run_trial(
    workload: Workload, stage: Stage, settings: Mapping[str, Any], *, index: int = 0,
    order: int = 0, trace: bool = True, timeout: float | None = None,
) -> Trial:  # fmt: skip
    """Run one trial of ``stage`` in a fresh child process and collect it.

    Raises ConfigError when the child rejected the settings; KeyboardInterrupt after
    stopping the child (SIGINT, then SIGKILL if it has not ended within 10 s).
    """
    from ._worker import encode_settings

    wl = workload.pooled() if stage.pooled else workload
    planned = _planned_s(settings)
    if timeout is None and planned is not None:
        timeout = planned + 120.0
    with tempfile.TemporaryDirectory(prefix="golat-trial-") as tmp:
        out = Path(tmp) / "trial.json"
        job = {"workload": wl.spec(), "settings": encode_settings(dict(settings)), "out": str(out)}
        t0 = time.monotonic()
        proc = subprocess.Popen(
            [sys.executable, "-m", "golat._worker"], stdin=subprocess.PIPE,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=child_env(stage, trace),
            text=True,
        )  # fmt: skip
        error = None
        try:
            _, stderr = proc.communicate(json.dumps(job), timeout=timeout)
        except KeyboardInterrupt:
            _stop(proc)
            raise
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
            error = f"trial timed out after {timeout:.0f} s and was killed"
        wall = time.monotonic() - t0
        doc: dict[str, Any] = {}
        if out.exists():
            try:
                doc = json.loads(out.read_text())
            except ValueError:
                doc = {}
    parsed = _gctrace.parse(stderr or "")
    if doc.get("error_type") == "ConfigError":
        raise ConfigError(f"stage {stage.name!r}: {doc['error']}")
    if error is None and doc.get("error"):
        error = f"{doc.get('error_type')}: {doc['error']}"
    if error is None and "result" not in doc:
        tail = "\n".join(parsed.other[-5:])
        error = f"the trial's process ended with status {proc.returncode} and no result: {tail}"
    result = metrics = None
    if error is None:
        result = Result.from_json(json.dumps(doc["result"]))
        metrics = trial_metrics(result, doc.get("rusage", {}))
    return Trial(stage=stage.name, index=index, order=order, result=result,
                 metrics=metrics or {}, trace=parsed, rusage=doc.get("rusage", {}), wall_s=wall,
                 error=error)  # fmt: skip


def _stop(proc: subprocess.Popen) -> None:
    """Stop a trial's child: SIGINT (it stops its run cleanly), then SIGKILL after 10 s."""
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGINT)
            proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
        except KeyboardInterrupt:  # a second Ctrl-C: do not wait
            proc.kill()
            proc.communicate()


def stage_names(stages: Sequence[Stage]) -> str:
    return " ".join(s.name for s in stages)
