"""Ramps: a rate that changes in steps during a run, what each step measured, and the
knee, the highest rate whose tail held.

A :class:`Ramp` is one or more segments, taken in turn. A segment holds one rate
(``1000/10s``) or climbs from one rate to another in equal steps (``1000..20000/30s``, one
step a second unless ``xN`` gives the count: ``1000..20000x5/30s``). Its text form is the
segments joined by commas and reads back exactly; its JSON form is a list of
``{"from", "to", "duration", "steps"}``; the core gets the expanded steps
(``rate_steps``: rate and duration of each).

The knee (:func:`knee`), precisely: step *k* is **broken** when its achieved rate (the
requests that completed within the step, per second) is below 95 % of its offered rate
(the overload rule of a whole run), or when its P99 latency is more than 3x the *base*,
the smallest P99 among the steps before it. The knee is the offered rate of the last step
before the first broken step that the next step confirms (it is broken too, or it is the
last step): one stray slow step that the next step recovers from is not a knee. No knee
when no step is broken (the tail held up to the top rate) or the first step is (the
tail broke at once: start lower).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Union

from ._histogram import Histogram
from ._params import Float, Kind, Seconds, format_ns_text, parse_ns
from .errors import ConfigError

MAX_STEPS = 1000  # as go_core/internal/sched: each step has its own histograms
STEP_S = 1.0  # a climbing segment's default step length
KNEE_FACTOR = 3.0
KNEE_PERCENTILE = 99.0
OVERLOAD_FRACTION = 0.95  # as golat.Result.overload

_RATE = Float(1 / 3600, 1e9)
_DURATION = Seconds(1_000_000, 3_600_000_000_000)
_SEGMENT = re.compile(
    r"^\s*(?P<a>[^./x][^/x]*?)(?:\.\.(?P<b>[^/x]+?))?(?:x(?P<n>[0-9]+))?\s*/\s*(?P<d>\S+)\s*$"
)


@dataclass(frozen=True)
class Segment:
    """``rate`` req/s climbing to ``to`` (equal to ``rate`` for a held rate) over
    ``duration`` seconds, in ``steps`` equal steps whose rates run evenly from ``rate``
    to ``to``."""

    rate: float
    to: float
    duration: float
    steps: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "rate", _RATE.check("ramp rate", self.rate))
        object.__setattr__(self, "to", _RATE.check("ramp rate", self.to))
        object.__setattr__(self, "duration", _DURATION.check("ramp duration", self.duration))
        if isinstance(self.steps, bool) or not isinstance(self.steps, int) or not (
            1 <= self.steps <= MAX_STEPS
        ):  # fmt: skip
            raise ConfigError(f"a ramp segment has 1..{MAX_STEPS} steps, got {self.steps!r}")
        if round(self.duration * 1e9) < self.steps * 1_000_000:
            raise ConfigError(f"ramp segment {self}: each of its {self.steps} steps would be "
                              "shorter than 1 ms")  # fmt: skip

    def expand(self) -> list[tuple[float, int]]:
        """(rate req/s, duration ns) of each step; the durations add up to the segment's."""
        total, n = round(self.duration * 1e9), self.steps
        bounds = [total * k // n for k in range(n + 1)]
        rates = [self.rate if n == 1 else self.rate + (self.to - self.rate) * k / (n - 1)
                 for k in range(n)]  # fmt: skip
        return [(r, bounds[k + 1] - bounds[k]) for k, r in enumerate(rates)]

    def __str__(self) -> str:
        d = format_ns_text(round(self.duration * 1e9))
        if self.rate == self.to and self.steps == 1:
            return f"{_RATE.to_text(self.rate)}/{d}"
        n = "" if self.steps == default_steps(self.duration) else f"x{self.steps}"
        return f"{_RATE.to_text(self.rate)}..{_RATE.to_text(self.to)}{n}/{d}"


def default_steps(duration: float) -> int:
    """Steps of a climbing segment without ``xN``: one a second (at least one, at most
    MAX_STEPS)."""
    return max(1, min(MAX_STEPS, round(duration / STEP_S)))


@dataclass(frozen=True)
class Ramp:
    """A rate that changes during the run: segments taken in turn (see the module's
    docstring). ``Ramp.parse("1000..20000/30s")``, ``Ramp.steps_of([(1000, 10), (2000,
    10)])``; ``golat.run(..., rate="1000..20000/30s")`` reads the text itself. The run's
    duration is the ramp's; warm-up runs at its first rate."""

    segments: tuple[Segment, ...]

    def __post_init__(self) -> None:
        segs = tuple(self.segments) if isinstance(self.segments, (list, tuple)) else ()
        if not segs or not all(isinstance(s, Segment) for s in segs):
            raise ConfigError(f"a Ramp needs one or more segments, got {self.segments!r}")
        object.__setattr__(self, "segments", segs)
        n = sum(s.steps for s in segs)
        if n > MAX_STEPS:
            raise ConfigError(f"a ramp has at most {MAX_STEPS} steps in all, got {n}")
        if self.duration_ns > 3_600_000_000_000:
            raise ConfigError(f"a ramp lasts at most 1h, got {format_ns_text(self.duration_ns)}")

    @classmethod
    def parse(cls, text: str, label: str = "rate") -> Ramp:
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(f"{label}: cannot read {text!r} as a ramp")
        return cls(tuple(_parse_segment(part, label) for part in text.split(",")))

    @classmethod
    def steps_of(cls, steps: Any, label: str = "rate") -> Ramp:
        """A ramp of held rates from ``[(rate req/s, duration s), ...]``."""
        try:
            return cls(tuple(Segment(r, r, d, 1) for r, d in steps))
        except (TypeError, ValueError):
            raise ConfigError(f"{label} steps must be (rate req/s, duration s) pairs, got "
                              f"{steps!r}") from None  # fmt: skip

    def __str__(self) -> str:
        return ",".join(map(str, self.segments))

    def steps(self) -> list[tuple[float, int]]:
        """(rate req/s, duration ns) of every step, in order."""
        return [step for seg in self.segments for step in seg.expand()]

    @property
    def duration_ns(self) -> int:
        return sum(round(s.duration * 1e9) for s in self.segments)

    @property
    def duration(self) -> float:
        """Total seconds."""
        return self.duration_ns / 1e9

    @property
    def mean_rate(self) -> float:
        """Requests/s the whole ramp offers on average."""
        return sum(r * d for r, d in self.steps()) / self.duration_ns

    @property
    def peak_rate(self) -> float:
        return max(r for r, _ in self.steps())

    def __truediv__(self, n: float) -> Ramp:
        """Every rate divided by ``n`` (a fleet's share of a ramp per host)."""
        return Ramp(tuple(Segment(s.rate / n, s.to / n, s.duration, s.steps)
                          for s in self.segments))  # fmt: skip

    def to_json(self) -> list[dict[str, Any]]:
        return [{"from": s.rate, "to": s.to, "duration": s.duration, "steps": s.steps}
                for s in self.segments]  # fmt: skip

    @classmethod
    def from_json(cls, j: Any, label: str = "rate") -> Ramp:
        if not isinstance(j, list) or not all(
            isinstance(s, dict) and set(s) == {"from", "to", "duration", "steps"} for s in j
        ):  # fmt: skip
            raise ConfigError(f"{label} must be a number, null or a list of "
                              f"{{'from', 'to', 'duration', 'steps'}}, got {j!r}")  # fmt: skip
        return cls(tuple(Segment(s["from"], s["to"], s["duration"], s["steps"]) for s in j))

    def doc_steps(self) -> list[dict[str, Any]]:
        """The run document's ``rate_steps``."""
        return [{"rate": r, "duration_ns": d} for r, d in self.steps()]


def _parse_segment(part: str, label: str) -> Segment:
    m = _SEGMENT.match(part)
    if not m:
        raise ConfigError(f"{label}: cannot read {part.strip()!r}; write RATE/DURATION (1000/10s) "
                          "or FROM..TO/DURATION (1000..20000/30s, 1000..20000x5/30s), "
                          "segments separated by commas")  # fmt: skip
    a = _RATE.from_text(f"{label} rate", m["a"])
    b = _RATE.from_text(f"{label} rate", m["b"]) if m["b"] else a
    d = parse_ns(m["d"], f"{label} duration", "s") / 1e9
    if m["n"]:
        n = int(m["n"])
    else:
        n = default_steps(d) if m["b"] else 1
    return Segment(a, b, d, n)


Rate = Union[None, float, Ramp]


class RateKind(Kind):
    """The ``rate`` setting: none (closed loop), requests/s, or a :class:`Ramp`."""

    describe = ("a number of requests/s, a ramp (1000..20000/30s; steps 1000/10s,2000/10s), "
                "or none")  # fmt: skip

    def check(self, label: str, v: Any) -> Rate:
        if v is None or isinstance(v, Ramp):
            return v
        if isinstance(v, str):
            return self.from_text(label, v)
        if isinstance(v, (list, tuple)):
            return Ramp.steps_of(v, label)
        return _RATE.check(label, v)

    def to_text(self, v: Rate) -> str:
        if v is None:
            return "none"
        return str(v) if isinstance(v, Ramp) else _RATE.to_text(v)

    def from_text(self, label: str, text: str) -> Rate:
        t = text.strip()
        if t.lower() in ("none", ""):
            return None
        if "/" in t or ".." in t:
            return Ramp.parse(t, label)
        return _RATE.from_text(label, t)

    def to_json(self, v: Rate) -> Any:
        return v.to_json() if isinstance(v, Ramp) else v

    def from_json(self, label: str, j: Any) -> Rate:
        if isinstance(j, list):
            return Ramp.from_json(j, label)
        return self.check(label, j)


# --- what a ramp measured ---------------------------------------------------------------


@dataclass
class StepResult:
    """One step of a ramp as measured. ``requests``: measured requests whose intended
    start fell in the step, with their ``latency`` (ns, from the intended start);
    ``completed``: requests that completed within the step's time; ``achieved_rate`` =
    completed / duration; ``late_starts``, ``queued`` as for a run."""

    rate: float
    start_s: float
    duration_s: float
    requests: int
    completed: int
    late_starts: int
    queued: int
    latency: Histogram

    @property
    def achieved_rate(self) -> float:
        return self.completed / self.duration_s if self.duration_s else 0.0

    def percentile(self, p: float) -> float:
        """Latency percentile in ns (capped at the step's max; nan when it has none)."""
        if not self.latency.count:
            return math.nan
        return min(float(self.latency.percentile(p)), float(self.latency.max))

    @classmethod
    def from_core(cls, d: dict[str, Any], precision: int) -> StepResult:
        return cls(
            rate=d["rate"], start_s=d["start_ns"] / 1e9, duration_s=d["duration_ns"] / 1e9,
            requests=d["requests"], completed=d["completed"], late_starts=d["late_starts"],
            queued=d["queued"], latency=Histogram._from_sparse(d["counts"], precision),
        )  # fmt: skip

    def to_dict(self) -> dict[str, Any]:
        import json

        return {"rate": self.rate, "start_s": self.start_s, "duration_s": self.duration_s,
                "requests": self.requests, "completed": self.completed,
                "late_starts": self.late_starts, "queued": self.queued,
                "latency": json.loads(self.latency.to_json())}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepResult:
        import json

        return cls(**{**d, "latency": Histogram.from_json(json.dumps(d["latency"]))})


@dataclass(frozen=True)
class Knee:
    """Where the tail broke: ``rate`` (req/s) is the knee, the offered rate of the last
    step before the break, or None (see ``reason``); ``broken_at`` is the index of the
    first broken step the next one confirmed (None when none was); ``reason`` says why
    in words."""

    rate: float | None
    broken_at: int | None
    reason: str


def broken(steps: list[StepResult], k: int, percentile: float = KNEE_PERCENTILE,
           factor: float = KNEE_FACTOR) -> str | None:  # fmt: skip
    """Why step ``k`` is broken (see the module's docstring), or None."""
    s = steps[k]
    if s.achieved_rate < OVERLOAD_FRACTION * s.rate:
        return (f"achieved {s.achieved_rate:,.0f} req/s, below {OVERLOAD_FRACTION:.0%} of "
                f"its {s.rate:,.0f}")  # fmt: skip
    before = [x.percentile(percentile) for x in steps[:k] if x.latency.count]
    base = min(before) if before else math.nan
    p = s.percentile(percentile)
    if base == base and p == p and p > factor * base:
        from ._units import format_ns

        return (f"P{percentile:g} {format_ns(p)}, over {factor:g}x the lowest before it "
                f"({format_ns(base)})")  # fmt: skip
    return None


def knee(steps: list[StepResult], percentile: float = KNEE_PERCENTILE,
         factor: float = KNEE_FACTOR) -> Knee:  # fmt: skip
    """The knee of a ramp's steps (see the module's docstring for the definition)."""
    if not steps:
        return Knee(None, None, "no steps")
    why = [broken(steps, k, percentile, factor) for k in range(len(steps))]
    for k, w in enumerate(why):
        if w is None or (k + 1 < len(steps) and why[k + 1] is None):
            continue
        if k == 0:
            return Knee(None, 0, f"the first step ({steps[0].rate:,.0f} req/s) is already "
                        f"broken: {w}; start the ramp lower")  # fmt: skip
        return Knee(steps[k - 1].rate, k, f"step {k + 1} ({steps[k].rate:,.0f} req/s) broke: "
                    f"{w}")  # fmt: skip
    top = max(s.rate for s in steps)
    return Knee(None, None, f"no knee: the tail held up to {top:,.0f} req/s")
