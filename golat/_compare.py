"""golat.compare: tuning stages side by side, each trial in a fresh child process.

Every stage x trial runs in its own process (``golat._worker``, started with subprocess: a
new interpreter, never a fork of this one), with the stage's start-up environment (GOGC,
GOMAXPROCS, GODEBUG ...), in interleaved order (A B C D A B C D ...), so machine drift hits
every stage alike and one stage's heap, threads and start-up settings cannot leak into the
next. The child's stderr carries the runtime's trace lines (``GODEBUG=gctrace=1`` is on by
default), which are parsed and kept with the trial.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Callable, Union

from . import _env, _gctrace, _stats, _units
from ._comparison import (
    DEFAULT_STAGE_NAMES,
    DEFAULT_STAGES,
    Comparison,
    Stage,
    Trial,
    trial_metrics,
)
from ._result import Result
from ._run import prepare
from ._settings import RunSettings
from .errors import ComparisonInterrupted, ConfigError, OverloadWarning
from .workloads import Workload

StageLike = Union[Stage, str, tuple]
Progress = Callable[[int, int, Trial], None]  # (trials done, trials planned, the trial)
TRIAL_GRACE_S = 120.0  # a trial may run this much longer than planned before it is killed


# What `golat compare` and `golat fleet compare` run unless told otherwise. --quick
# allocates 4x as much per request: at 16 KiB a request the baseline's 1 s windows held 0 or
# 1 GC cycles (median; the GC step then showed as noise), at 64 KiB 2 or 3.
COMPARE_WORKLOAD = "alloc:size=1KiB,count=16,live_bytes=256MiB"
QUICK_COMPARE_WORKLOAD = "alloc:size=1KiB,count=64,live_bytes=256MiB"


def compare_preset(quick: bool) -> tuple[RunSettings, str]:
    """The settings (the declaration gives the rest) and the workload text that the
    compare commands use by default: 5 s trials after 1 s of warm-up at 10,000 req/s, or
    with ``quick`` 1 s after 0.3 s on the heavier-allocating workload."""
    if quick:
        return RunSettings(rate=10_000, duration=1.0, warmup=0.3), QUICK_COMPARE_WORKLOAD
    return RunSettings(rate=10_000, duration=5.0, warmup=1.0), COMPARE_WORKLOAD


def resolve_stages(stages: Iterable[StageLike] | str | None) -> list[Stage]:
    """Stages from: None (the four default stages), names of default stages (a list or
    comma-separated text), :class:`Stage` objects, ``NAME:key=value,...`` text
    (:meth:`Stage.parse`) or ``(name, settings[, env])`` tuples."""
    if stages is None:
        return list(DEFAULT_STAGES)
    if isinstance(stages, str):
        stages = [s.strip() for s in stages.split(",") if s.strip()]
    by_name = {s.name: s for s in DEFAULT_STAGES}
    out: list[Stage] = []
    for s in stages:
        if isinstance(s, Stage):
            out.append(s)
        elif isinstance(s, str) and ":" in s:
            out.append(Stage.parse(s))
        elif isinstance(s, str):
            if s not in by_name:
                known = ", ".join(DEFAULT_STAGE_NAMES)
                raise ConfigError(
                    f"unknown stage {s!r}; default stages: {known} (or NAME:key=value,... "
                    "text, or golat.Stage objects)"
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
    settings: RunSettings | None = None, baseline: str | None = None, trace: bool = True,
    alpha: float = _stats.ALPHA, progress: Progress | None = None, timeout: float | None = None,
    **overrides: Any,
) -> Comparison:  # fmt: skip
    """Run ``workload`` under each stage, ``trials`` times, interleaved, each trial in a
    fresh child process, and compare the stages.

    Args:
        workload: a :mod:`golat.workloads` workload; stages with ``pooled=True`` run
            ``workload.pooled()``.
        stages: None for the article's four (baseline, gc, lock, numa); names of those,
            :class:`Stage` objects, ``NAME:key=value,...`` text or ``(name, settings[,
            env])`` tuples. Every stage's settings are checked against the workload and
            this machine before the first trial starts (ConfigError).
        trials: trials per stage (>= 1; at least 4 are needed for a verdict at alpha 0.05).
        settings: the :class:`golat.RunSettings` every stage starts from; keyword
            ``overrides`` change it (``rate``, ``duration``, ``warmup``, ``workers`` ...); a
            stage's own settings win.
        baseline: the stage the others are compared with (default: the first).
        trace: add ``GODEBUG=gctrace=1`` to each child's environment (unless the stage sets
            gctrace itself) and keep the parsed GC trace with each trial.
        alpha: significance level of the verdicts (exact Mann-Whitney U, two-sided).
        progress: called after each trial with (trials done, trials planned, trial).
        timeout: seconds a trial may take before its process is killed (default: its
            planned duration plus 120 s).

    Returns:
        A :class:`Comparison`; ``comparison.failed`` lists trials that failed.

    Raises:
        ConfigError: bad arguments, or a stage's settings are refused.
        ComparisonInterrupted: on Ctrl-C, after stopping the running trial; its
            ``comparison`` holds what was measured so far (a KeyboardInterrupt subclass).

    Warns:
        OverloadWarning: trials that achieved less than 95 % of their rate.
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
    base = RunSettings.build(settings, overrides, "golat.compare")
    if "timeline" not in overrides and (settings is None or settings.timeline == 1.0):
        # about 20 points per trial for the latency-over-time plot, at most one a second
        planned = base.planned_duration or 5.0
        base = base.replace(timeline=round(max(0.01, min(1.0, planned / 20)), 3))
    for st in stage_list:  # every stage is checked before the first trial starts
        try:
            stage_wl = workload.pooled() if st.pooled else workload
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the child warns again, into its trial
                prepare(stage_wl, base.replace(**st.settings))
        except ConfigError as err:
            raise ConfigError(f"stage {st.name!r}: {err}") from None
    comp = Comparison(
        workload=str(workload), stages=stage_list, trials=[], trials_per_stage=int(trials),
        settings=base, baseline=baseline, alpha=float(alpha), environment=_env.collect(),
    )  # fmt: skip
    order = [(t, s) for t in range(int(trials)) for s in stage_list]
    try:
        for pos, (t, st) in enumerate(order):
            trial = run_trial(workload, st, comp.stage_settings(st), index=t, order=pos,
                              trace=trace, timeout=timeout)  # fmt: skip
            comp.trials.append(trial)
            if progress is not None:
                progress(pos + 1, len(order), trial)
    except KeyboardInterrupt:
        comp.interrupted = True
        raise ComparisonInterrupted(comp) from None
    for st in stage_list:
        over = comp.overloaded(st.name)
        if over:
            warnings.warn(OverloadWarning(
                f"stage {st.name!r}: {len(over)} of {len(comp.stage_trials(st.name))} trials "
                f"{over[0].result.overload}"), stacklevel=2)  # type: ignore[union-attr]  # fmt: skip
    return comp


def child_env(stage: Stage, trace: bool) -> dict[str, str]:
    """The environment a stage's child starts with: ours, then the stage's, gctrace added."""
    env = dict(os.environ)
    env.update(stage.env)
    if trace and "gctrace=" not in env.get("GODEBUG", ""):
        env["GODEBUG"] = ",".join(filter(None, [env.get("GODEBUG", ""), "gctrace=1"]))
    return env


def child_command() -> list[str]:
    """The command that starts a trial's process. It imports this very golat whatever the
    working directory: ``python -m`` would put the current directory first on sys.path,
    and in a source checkout that is the unbuilt source tree, not the installed package."""
    here = str(Path(__file__).resolve().parent.parent)
    code = (f"import sys; sys.path[0] = {here!r}; from golat._worker import main; "
            "sys.exit(main())")  # fmt: skip
    return [sys.executable, "-c", code]


def run_trial(
    workload: Workload, stage: Stage, settings: RunSettings, *, index: int = 0,
    order: int = 0, trace: bool = True, timeout: float | None = None,
) -> Trial:  # fmt: skip
    """Run one trial of ``stage`` in a fresh child process and collect it.

    Raises ConfigError when the child rejected the settings; KeyboardInterrupt after
    stopping the child (SIGINT, then SIGKILL if it has not ended within 10 s).
    """
    wl = workload.pooled() if stage.pooled else workload
    planned = settings.planned_duration
    if timeout is None and planned is not None:
        timeout = planned + settings.warmup + TRIAL_GRACE_S
    with tempfile.TemporaryDirectory(prefix="golat-trial-") as tmp:
        out = Path(tmp) / "trial.json"
        job = {"workload": wl.spec(), "settings": settings.to_dict(), "out": str(out)}
        t0 = time.monotonic()
        proc = subprocess.Popen(
            child_command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=child_env(stage, trace), text=True,
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
