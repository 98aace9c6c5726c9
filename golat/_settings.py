"""The run model: every setting of a run, declared once.

:class:`RunSettings` is a frozen dataclass, validated when it is made, with one default per
setting. Every entry point builds one and hands it on: :func:`golat.run`,
:meth:`golat.Pool.run` (the thread settings belong to the pool), :func:`golat.measure`,
:func:`golat.compare` (a stage is a set of overrides), the command line (its flags are
generated from the declarations below) and ``golat serve`` (the settings that apply to a
server). Adding a setting means adding one field here, plus the Go field that reads it
when the core uses it.

Forms, all from the declarations, all round-tripping exactly:

- Python: ``RunSettings(rate=20_000, duration=5, gc="managed")`` (durations in seconds,
  unless the name ends in ``_ns`` / ``_us``; sizes in bytes or text like ``"2GiB"``);
- text: ``str(s)`` / :meth:`RunSettings.parse`, ``rate=20000,duration=5s,gc=managed``
  (what a ``golat compare --stage`` takes), and :meth:`RunSettings.to_args`, the
  equivalent command-line flags (``--rate 20000 --duration 5s --gc managed``);
- JSON: :meth:`RunSettings.to_dict` / :meth:`RunSettings.from_dict` (strict: an unknown key
  is a ConfigError naming it), how settings travel to a child process or a fleet worker;
- the run document the Go core reads (:meth:`RunSettings.core_doc`): only settings the core
  uses travel there; the others are applied in Python.
"""

from __future__ import annotations

import dataclasses
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Union

from ._params import (
    INT64_MAX,
    Bytes,
    Choice,
    Flag,
    Int,
    Kind,
    OrNone,
    Seconds,
    Text,
    format_ns_text,
    parse_ns,
    split_pairs,
)  # fmt: skip
from ._ramp import Ramp, RateKind
from .errors import ConfigError

DEFAULT_DURATION_S = 5.0
CONFIG_VERSION = 1  # of the run document (go_core/internal/loop/config.go)

# Which entry points take a setting.
RUN = "run"  # a run's own setting: golat.run, Pool.run, measure, compare stages
THREAD = "thread"  # set on the workers' threads: golat.run, Pool(...), measure, stages
SERVE = "serve"  # also a setting of `golat serve` / golat.Server

GCSetting = Union[None, int, str]
CPUs = Union[None, str, "tuple[int, ...]", "list[int]"]


@dataclass(frozen=True)
class Stall:
    """Fault injection: the worker pauses ``duration`` seconds inside the request it is
    serving, once every ``every`` seconds. Every request queued behind a stall shows it in
    corrected latency; service time shows it once. A server (``golat serve``) stops
    answering instead: every request that comes while a stall is on waits for its end.
    Text form ``EVERY:DURATION`` (``1s:20ms``)."""

    every: float
    duration: float

    def __post_init__(self) -> None:
        sec = Seconds(1, 3_600_000_000_000)
        object.__setattr__(self, "every", sec.check("Stall(every)", self.every))
        object.__setattr__(self, "duration", sec.check("Stall(duration)", self.duration))

    def __str__(self) -> str:
        every, duration = (format_ns_text(round(x * 1e9)) for x in (self.every, self.duration))
        return f"{every}:{duration}"

    @classmethod
    def parse(cls, text: str, label: str = "stall") -> Stall:
        every, sep, dur = str(text).partition(":")
        if not sep:
            raise ConfigError(f"{label} must be EVERY:DURATION like 1s:20ms, got {text!r}")
        return cls(
            parse_ns(every, f"{label} every", "s") / 1e9,
            parse_ns(dur, f"{label} duration", "s") / 1e9,
        )

    def spec(self) -> dict[str, int]:
        return {"every_ns": round(self.every * 1e9), "duration_ns": round(self.duration * 1e9)}


# --- kinds of the settings that are not plain numbers -------------------------------------


class _StallKind(Kind):
    describe = "EVERY:DURATION, e.g. 1s:20ms"

    def check(self, label: str, v: Any) -> Stall | None:
        if v is None or isinstance(v, Stall):
            return v
        if isinstance(v, str):
            return Stall.parse(v, label)
        raise ConfigError(f"{label} must be golat.Stall(every=s, duration=s) or text like "
                          f"'1s:20ms', got {v!r}")  # fmt: skip

    def to_text(self, v: Stall | None) -> str:
        return "none" if v is None else str(v)

    def from_text(self, label: str, text: str) -> Stall | None:
        return None if text.strip().lower() in ("none", "") else Stall.parse(text, label)

    def to_json(self, v: Stall | None) -> Any:
        return None if v is None else {"every": v.every, "duration": v.duration}

    def from_json(self, label: str, j: Any) -> Stall | None:
        if j is None:
            return None
        if not isinstance(j, dict) or set(j) != {"every", "duration"}:
            raise ConfigError(f"{label} must be null or {{'every': s, 'duration': s}}, got {j!r}")
        return Stall(j["every"], j["duration"])


GC_CHOICES = "None, a percent >= 0, -1, 'off', 'default' or 'managed'"


class _GCKind(Kind):
    describe = "a percent, off, default (100) or managed"

    def check(self, label: str, v: Any) -> GCSetting:
        if v is None or v in ("off", "default", "managed"):
            return v
        if isinstance(v, str) or isinstance(v, bool):
            raise ConfigError(f"{label} must be {GC_CHOICES}, got {v!r}")
        return Int(-1, INT64_MAX).check(label, v)

    def to_text(self, v: GCSetting) -> str:
        return "none" if v is None else str(v)

    def from_text(self, label: str, text: str) -> GCSetting:
        t = text.strip().lower()
        if t in ("none", ""):
            return None
        if t in ("off", "default", "managed"):
            return t
        try:
            return self.check(label, int(t))
        except ValueError:
            raise ConfigError(f"{label} must be {GC_CHOICES}, got {text!r}") from None


def gc_percent_for(gc: GCSetting) -> int | None:
    """``None`` (leave as is), a percent >= 0, ``"off"`` / ``"managed"`` (-1) or
    ``"default"`` (100)."""
    if gc is None:
        return None
    if gc in ("off", "managed"):
        return -1
    if gc == "default":
        return 100
    return int(gc)


class _CPUsKind(Kind):
    describe = "auto, node:K, or CPU ids like 2,3 or 4-7 (one per worker)"

    def check(self, label: str, v: Any) -> CPUs:
        if v is None:
            return None
        if isinstance(v, str):
            t = v.strip().lower()
            if t == "auto":
                return "auto"
            if t.startswith("node:"):
                return f"node:{Int(0, 1 << 20).from_text(label + ' node', t[5:])}"
            return self.check(label, self._ids(label, t))
        if not isinstance(v, (list, tuple)) or not v:
            raise ConfigError(f"{label} must be None, 'auto', 'node:K' or a non-empty list of "
                              f"CPU ids, got {v!r}")  # fmt: skip
        for c in v:
            if isinstance(c, bool) or not isinstance(c, int) or c < 0:
                raise ConfigError(f"{label} must hold CPU ids (ints >= 0), got {c!r} in {v!r}")
        dup = sorted({c for c in v if list(v).count(c) > 1})
        if dup:
            raise ConfigError(f"{label} lists CPU {dup[0]} twice; each pinned worker needs its "
                              "own CPU")  # fmt: skip
        return tuple(int(c) for c in v)

    @staticmethod
    def _ids(label: str, text: str) -> tuple[int, ...]:
        from ._topology import parse_cpulist

        out: list[int] = []
        for part in text.split(","):
            out.extend(parse_cpulist(part) if part.strip() else ())
        if not out:
            raise ConfigError(f"{label}: cannot read {text!r} as CPU ids (e.g. 2,3 or 4-7)")
        return tuple(out)

    def to_text(self, v: CPUs) -> str:
        if v is None:
            return "none"
        return v if isinstance(v, str) else ",".join(map(str, v))

    def from_text(self, label: str, text: str) -> CPUs:
        return None if text.strip().lower() in ("none", "") else self.check(label, text)

    def to_json(self, v: CPUs) -> Any:
        return list(v) if isinstance(v, tuple) else v

    def from_json(self, label: str, j: Any) -> CPUs:
        return self.check(label, j)


class _TimelineKind(OrNone):
    """None or an interval; ``0`` in text means none."""

    def from_text(self, label: str, text: str) -> float | None:
        t = text.strip().lower()
        if t in ("none", "", "0", "0s"):
            return None
        return self.inner.from_text(label, text)


# --- the declaration ----------------------------------------------------------------------


def setting(kind: Kind, default: Any, help: str, *, scope: tuple[str, ...] = (RUN,),
            core: str = "direct", aliases: tuple[str, ...] = (),
            serve_help: str | None = None) -> Any:  # fmt: skip
    """Declare a run setting: its kind (unit, range), its one default, its help text, which
    entry points take it (``scope``), and how the core gets it: ``"direct"`` (the document
    key is the name plus the kind's suffix), ``"custom"`` (:meth:`RunSettings.core_doc`
    places it) or ``"python"`` (applied in Python, never sent). ``serve_help`` says what
    the setting does to a server, where that differs from a run (golat/_serve.py)."""
    meta = {"kind": kind, "help": help, "scope": scope, "core": core, "aliases": aliases,
            "serve_help": serve_help}  # fmt: skip
    return field(default=default, metadata=meta)


_DURATION_1H = Seconds(0, 3_600_000_000_000)


@dataclass(frozen=True)
class RunSettings:
    """Every setting of a run, validated on construction (ConfigError names the setting
    and what is allowed). Units: durations in seconds, sizes in bytes (text such as
    ``"2GiB"`` is read too), rates in requests/s."""

    rate: float | Ramp | None = setting(
        RateKind(), None,
        "requests/s, open loop (each request has an intended start); a ramp of rates in "
        "steps (1000..20000/30s: one step a second, or 1000/10s,5000/10s; see golat.Ramp), "
        "whose duration is the run's; none: closed loop, back to back",
        core="custom")  # fmt: skip
    duration: float | None = setting(
        OrNone(Seconds(1, 3_600_000_000_000)), None,
        f"measured time after warm-up; default {DEFAULT_DURATION_S:g} s unless requests is given",
        core="custom")  # fmt: skip
    requests: int | None = setting(
        OrNone(Int(1, 1 << 62)), None, "stop after this many measured requests", core="custom"
    )
    warmup: float = setting(_DURATION_1H, 0.0, "time served first and left out of the statistics")
    arrivals: str = setting(Choice(("constant", "poisson")), "constant",
                            "spacing of the arrivals at the rate")  # fmt: skip
    stall: Stall | None = setting(
        _StallKind(), None, "inject a stall: EVERY:DURATION (1s:20ms)", scope=(RUN, SERVE),
        core="custom", serve_help="every request that comes while a stall is on waits for "
        "its end")  # fmt: skip
    gc: GCSetting = setting(
        _GCKind(), None,
        "GC during the run: a percent, off, default (100) or managed (GC off, collected by "
        "golat's controller in request gaps past gc_threshold); none leaves it as it is; "
        "restored after", scope=(RUN, SERVE), core="custom",
        serve_help="managed collects past gc_threshold when no request is in flight (waiting "
        "up to 100 ms for one)")  # fmt: skip
    memory_limit: int | None = setting(
        OrNone(Bytes(1, (1 << 63) - 1)), None,
        "soft memory limit during the run (e.g. 2GiB); with GC off, default half the memory "
        "available; restored after", scope=(RUN, SERVE), core="custom")  # fmt: skip
    gc_threshold: int | None = setting(
        OrNone(Bytes(1, 1 << 50)), None,
        "gc=managed only: heap size at which the controller collects (default: twice the heap "
        "in use at the start, at least +64MiB, at most 3/4 of the memory limit)",
        scope=(RUN, SERVE), core="custom")  # fmt: skip
    workers: int | None = setting(
        OrNone(Int(1, 4096)), None,
        "request loops, each with its share of the rate and its own histograms (default: one "
        "per CPU in cpus, else 1; a server's default is the CPU count, or the number of its "
        "cpus)",
        scope=(THREAD, SERVE), core="custom")  # fmt: skip
    cpus: CPUs = setting(
        _CPUsKind(), None,
        "pin each worker's thread to its own CPU: auto (CPUs on one node, or spread over the "
        "nearest nodes when none has enough; CPU 0 last), node:K, "
        "or a list of CPU ids", scope=(THREAD, SERVE), core="custom",
        serve_help="every thread of the server's process runs on these CPUs, as taskset "
        "would (a list or range; auto and node:K choose one CPU); restored when it "
        "stops")  # fmt: skip
    lock_os_thread: bool | None = setting(
        OrNone(Flag()), None,
        "lock each worker goroutine to its own OS thread (default: when cpus, policy or numa "
        "is set or the workload needs it)", scope=(THREAD, SERVE), core="custom",
        aliases=("--lock",), serve_help="the handler workload runs on workers threads, each "
        "locked to its goroutine; net/http's goroutine hands each request to a free one "
        "(default off)")  # fmt: skip
    policy: str | None = setting(
        OrNone(Text(r"(fifo|rr):[0-9]{1,2}", "'fifo:P' or 'rr:P' with P in 1..99")), None,
        "real-time policy of the workers' threads: fifo:P or rr:P (needs CAP_SYS_NICE or "
        "RLIMIT_RTPRIO, and a duration)", scope=(THREAD,), core="custom")  # fmt: skip
    mlock: bool = setting(Flag(), False, "lock the process's memory (mlockall) for the run",
                          scope=(THREAD,), core="custom")  # fmt: skip
    numa: str | None = setting(
        OrNone(Text(r"local|interleave|bind:[0-9]+", "'local', 'bind:K' or 'interleave'")), None,
        "the workers' memory policy: local, bind:K or interleave", scope=(THREAD,),
        core="custom")  # fmt: skip
    gomaxprocs: int | None = setting(
        OrNone(Int(1, 1 << 16)), None,
        "GOMAXPROCS during the run (default with locked workers: max(workers + 1, allowed "
        "CPUs)); restored after", scope=(THREAD, SERVE), core="custom",
        serve_help="default with cpus: their number")  # fmt: skip
    precision: int = setting(Int(2, 3), 2,
                             "histogram significant digits: 2 (1 % error) or 3 (0.1 %)",
                             scope=(RUN, SERVE))  # fmt: skip
    seed: int = setting(Int(0, (1 << 64) - 1), 0, "seed of the Poisson arrivals")
    timeline: float | None = setting(
        _TimelineKind(Seconds(1_000_000, 3_600_000_000_000)), 1.0,
        "interval of the per-interval record (Result.timeline); 0 or none keeps none",
        core="custom")  # fmt: skip
    late_threshold: float = setting(
        _DURATION_1H, 10e-6, "a request starting later than this after its intended start is "
        "counted as a late start")  # fmt: skip
    outliers: int = setting(
        Int(0, 100_000), 100,
        "slowest requests each worker keeps with what overlapped them (GC pause or mark, "
        "managed GC, stall, backlog, thread switches and faults): Result.outliers and the "
        "cause summary; 0 keeps none")  # fmt: skip
    outlier_threshold: float | None = setting(
        OrNone(Seconds(1, 3_600_000_000_000), none_doc=0), None,
        "also keep every request at least this slow (up to 10,000 per worker)")  # fmt: skip
    cpu_dma_latency: float | None = setting(
        OrNone(Seconds(0, 2_000_000_000_000, quantum_ns=1000)), None,
        "hold /dev/cpu_dma_latency at this bound during the run (0: no deep idle states, as "
        "cyclictest does by default; needs root)", core="python")  # fmt: skip

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            kind: Kind = f.metadata["kind"]
            object.__setattr__(self, f.name, kind.check(f.name, getattr(self, f.name)))
        if self.gc_threshold is not None and self.gc != "managed":
            raise ConfigError(f"gc_threshold is only for gc='managed', got gc={self.gc!r}")
        if self.policy is not None:
            prio = int(self.policy.partition(":")[2])
            if not 1 <= prio <= 99:
                raise ConfigError(f"policy {self.policy!r}: priority {prio} out of range 1..99")
            if self.duration is None and self.requests is not None:
                raise ConfigError(
                    f"a real-time ({self.policy}) run needs a bounded duration: give duration= "
                    "(seconds), not only requests="
                )
        if isinstance(self.rate, Ramp):
            if self.duration is not None and round(self.duration * 1e9) != self.rate.duration_ns:
                got = format_ns_text(round(self.duration * 1e9))
                raise ConfigError(
                    f"rate {self.rate} lasts {format_ns_text(self.rate.duration_ns)}: leave "
                    f"duration unset or give that (got {got})"
                )
            if self.requests is not None:
                raise ConfigError(f"rate {self.rate} sets the run's duration: leave requests unset")
        if self.lock_os_thread is False and (self.cpus or self.policy or self.numa):
            raise ConfigError(
                "cpus, policy and numa are set on each worker's OS thread, so they need "
                "lock_os_thread=True (or None)"
            )

    # -- the declaration, read ------------------------------------------------------------
    @classmethod
    def names(cls, scope: str | None = None) -> list[str]:
        """The settings' names in declaration order (only those of ``scope`` if given)."""
        return [f.name for f in dataclasses.fields(cls)
                if scope is None or scope in f.metadata["scope"]]  # fmt: skip

    @classmethod
    def kind_of(cls, name: str) -> Kind:
        return cls._fields()[name].metadata["kind"]

    @classmethod
    def _fields(cls) -> dict[str, dataclasses.Field]:
        return {f.name: f for f in dataclasses.fields(cls)}

    @classmethod
    def check_names(cls, names: object, where: str, scope: str | None = None) -> None:
        """ConfigError naming the first unknown setting (of ``scope``, if given)."""
        allowed = cls.names(scope)
        unknown = [n for n in names if n not in allowed]  # type: ignore[union-attr]
        if unknown:
            raise ConfigError(f"{where}: unknown setting {unknown[0]!r}; allowed: "
                              f"{', '.join(allowed)}")  # fmt: skip

    def replace(self, **overrides: Any) -> RunSettings:
        """A copy with ``overrides`` applied, validated (ConfigError names an unknown key)."""
        self.check_names(overrides, "settings")
        return dataclasses.replace(self, **overrides)

    def changed(self) -> dict[str, Any]:
        """The settings that differ from their default, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if getattr(self, f.name) != f.default}  # fmt: skip

    @classmethod
    def build(cls, settings: RunSettings | None, overrides: Mapping[str, Any],
              where: str = "settings") -> RunSettings:  # fmt: skip
        """``settings`` (or the defaults) with keyword ``overrides`` applied: what every
        entry point does with its ``settings=None, **overrides`` arguments."""
        if settings is not None and not isinstance(settings, RunSettings):
            raise ConfigError(f"settings must be a golat.RunSettings, got {settings!r}")
        cls.check_names(overrides, where)
        base = settings if settings is not None else cls()
        return dataclasses.replace(base, **overrides) if overrides else base

    # -- text ------------------------------------------------------------------------------
    def __str__(self) -> str:
        """``key=value,...`` for every setting that differs from its default;
        :meth:`parse` reads it back."""
        return ",".join(f"{k}={self.kind_of(k).to_text(v)}" for k, v in self.changed().items())

    @classmethod
    def parse_overrides(cls, text: str, where: str = "settings") -> dict[str, Any]:
        """``"gc=off,workers=2"`` -> ``{"gc": "off", "workers": 2}``, each value read and
        checked by its setting's kind (ConfigError names an unknown key or a bad value)."""
        out: dict[str, Any] = {}
        for key, value in split_pairs(text, where):
            if key is None:
                raise ConfigError(f"{where}: cannot read {value!r}; write key=value")
            cls.check_names([key], where)
            if key in out:
                raise ConfigError(f"{where}: {key!r} given twice")
            out[key] = cls.kind_of(key).from_text(key, value)
        return out

    @classmethod
    def parse(cls, text: str) -> RunSettings:
        """The settings :meth:`__str__` printed."""
        return cls(**cls.parse_overrides(text))

    def to_args(self) -> list[str]:
        """The command-line flags that give these settings (``["--rate", "20000", ...]``)."""
        out = []
        for k, v in self.changed().items():
            flag = "--" + k.replace("_", "-")
            out += [flag] if isinstance(v, bool) and v and k == "mlock" else [
                flag, self.kind_of(k).to_text(v)]  # fmt: skip
        return out

    def args_text(self) -> str:
        return " ".join(shlex.quote(a) for a in self.to_args())

    # -- JSON ------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every setting, JSON-ready (seconds, bytes, lists)."""
        return {f.name: json_value(f.metadata["kind"], getattr(self, f.name))
                for f in dataclasses.fields(self)}  # fmt: skip

    @classmethod
    def from_dict(cls, d: Any) -> RunSettings:
        """Strict: an unknown key is a ConfigError naming it; absent keys take defaults."""
        if not isinstance(d, dict):
            raise ConfigError(f"run settings must be a JSON object, got {d!r}")
        cls.check_names(d, "run settings document")
        return cls(**{k: from_json_value(cls.kind_of(k), k, v) for k, v in d.items()})

    # -- the core's document ---------------------------------------------------------------
    @property
    def planned_duration(self) -> float | None:
        """Measured seconds the run is planned for (None: until ``requests``)."""
        if isinstance(self.rate, Ramp):
            return self.rate.duration
        if self.duration is None and self.requests is not None:
            return None
        return self.duration if self.duration is not None else DEFAULT_DURATION_S

    def core_doc(self, workload_spec: dict[str, Any], threads: Any,
                 default_memory_limit: int) -> dict[str, Any]:  # fmt: skip
        """The run document the Go core reads (go_core/internal/loop/config.go): only
        settings the core uses. ``threads`` is the resolved thread plan (``.workers`` and
        ``.doc()``); ``default_memory_limit`` is the limit used with GC off when none is
        given (GC off is never unbounded)."""
        doc: dict[str, Any] = {"version": CONFIG_VERSION, "workload": workload_spec}
        for f in dataclasses.fields(self):
            if f.metadata["core"] == "direct":
                kind: Kind = f.metadata["kind"]
                doc[f.name + kind.wire_suffix] = kind.to_doc(getattr(self, f.name))
        ramp = isinstance(self.rate, Ramp)
        doc["rate"] = 0.0 if self.rate is None or ramp else self.rate
        doc["rate_steps"] = self.rate.doc_steps() if ramp else None
        planned = self.planned_duration
        doc["duration_ns"] = self.rate.duration_ns if ramp else (
            round(planned * 1e9) if planned is not None else 0)  # fmt: skip
        doc["requests"] = self.requests or 0
        doc["stall"] = self.stall.spec() if self.stall else None
        doc["timeline_ns"] = round(self.timeline * 1e9) if self.timeline else 0
        doc["gc"] = self.gc_doc(default_memory_limit)
        doc["managed_gc"] = self._managed_doc(threads.workers) if self.gc == "managed" else None
        doc["workers"] = threads.workers
        doc.update(threads.doc())
        return doc

    def gc_doc(self, default_memory_limit: int) -> dict[str, int]:
        """The collector's settings as the core reads them (a run's and a server's "gc"):
        the GC percent of ``gc`` and the memory limit, ``default_memory_limit`` with the
        collector off when none is given (GC off is never unbounded)."""
        gc: dict[str, int] = {}
        p = gc_percent_for(self.gc)
        if p is not None:
            gc["gc_percent"] = p
        if self.memory_limit is not None:
            gc["memory_limit"] = self.memory_limit
        elif p == -1:
            gc["memory_limit"] = default_memory_limit
        return gc

    def _managed_doc(self, workers: int) -> dict[str, int]:
        """The managed-GC controller's settings: heap read 1 ms to 50 ms apart (more often as
        the heap, at its recent growth rate, nears the threshold); once the heap passes the
        threshold, wait up to 100 ms for every worker to be idle with its next request at
        least ``min_gap`` away, then collect (at once in a closed loop, which has no gaps).
        ``min_gap`` is half a worker's arrival period, kept within 10..200 µs."""
        spec = {"threshold_bytes": self.gc_threshold or 0, "sample_ns": 1_000_000,
                "min_gap_ns": 0, "max_wait_ns": 0}  # fmt: skip
        if self.rate:
            peak = self.rate.peak_rate if isinstance(self.rate, Ramp) else self.rate
            period_ns = workers * 1e9 / peak
            spec["min_gap_ns"] = round(min(max(period_ns / 2, 10_000), 200_000))
            spec["max_wait_ns"] = 100_000_000
        return spec


def json_value(kind: Kind, v: Any) -> Any:
    to_json = getattr(kind, "to_json", None)
    return to_json(v) if to_json is not None else v


def from_json_value(kind: Kind, label: str, j: Any) -> Any:
    from_json = getattr(kind, "from_json", None)
    return from_json(label, j) if from_json is not None else kind.check(label, j)


def flag_names(name: str) -> list[str]:
    """The command-line flags of a setting: ``--name-with-dashes`` and its aliases."""
    f = RunSettings._fields()[name]
    return ["--" + name.replace("_", "-"), *f.metadata["aliases"]]


def add_flags(parser: Any, scopes: tuple[str, ...], defaults: RunSettings | None = None) -> None:
    """Add one flag per setting of ``scopes`` to an argparse parser; each is read by its
    setting's kind (see :func:`from_flags`). ``defaults`` shows a command's own presets."""
    group = parser.add_argument_group("run settings (text as in `key=value`, units allowed)")
    for f in dataclasses.fields(RunSettings):
        if not set(f.metadata["scope"]) & set(scopes):
            continue
        kind: Kind = f.metadata["kind"]
        shown = getattr(defaults, f.name) if defaults is not None else f.default
        default = "" if shown is None else f" (default {kind.to_text(shown)})"
        if scopes == (SERVE,) and f.metadata["serve_help"]:
            default += f"; a server: {f.metadata['serve_help']}"
        if f.name == "mlock":
            group.add_argument(*flag_names(f.name), dest=f.name, action="store_const",
                               const=True, default=None, help=f.metadata["help"])  # fmt: skip
            continue
        group.add_argument(*flag_names(f.name), dest=f.name, default=None, metavar="VALUE",
                           help=f"{f.metadata['help']}{default}".replace("%", "%%"))  # fmt: skip


def from_flags(args: Any, scopes: tuple[str, ...]) -> dict[str, Any]:
    """The overrides given on the command line (flags added by :func:`add_flags`)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(RunSettings):
        if not set(f.metadata["scope"]) & set(scopes):
            continue
        v = getattr(args, f.name, None)
        if v is None:
            continue
        out[f.name] = v if isinstance(v, bool) else f.metadata["kind"].from_text(
            flag_names(f.name)[0], v)  # fmt: skip
    return out
