"""HdrHistogram interval logs (``.hlog``): the text format HdrHistogram's tools read
(HistogramLogProcessor, HdrHistogramVisualizer, the Java/C/Go/Rust/Python log readers).

A log is text lines. ``#`` lines are comments, except the headers
``#[Histogram log format version V]``, ``#[StartTime: S (seconds since epoch), ...]`` and
``#[BaseTime: S (seconds since epoch)]``; the legend line starts with ``"StartTimestamp"``.
Every other line is one interval: ``[Tag=T,]start,length,max,<compressed V2 histogram>``,
start and length in seconds, max in the writer's unit. With a BaseTime, starts are seconds
from it; without one, HdrHistogram's readers take a start more than a year before the
StartTime as relative to the StartTime, and any other as seconds since the epoch.

golat writes format version 1.3: a comment naming golat and the tags, the version,
StartTime and BaseTime (both the measured window's wall-clock start), the legend, then per
interval ``Tag=latency``, ``Tag=service`` (all workers merged) and ``Tag=latency.wN``,
``Tag=service.wN`` per worker. Values are ns; the max column is ms (HdrHistogram's
default ratio, 1e6); times are written to the ns (9 decimals).

:meth:`IntervalLog.from_text` is strict: a line that is none of the above is an error naming
its line number and what is wrong. ``IntervalLog.from_text(log.to_text()) == log``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING

from ._histogram import Histogram
from ._render import renderer
from .errors import ConfigError

if TYPE_CHECKING:
    from ._result import Result

__all__ = ["IntervalLog", "LogInterval", "read_hlog"]

FORMAT_VERSION = "1.3"
LEGEND = '"StartTimestamp","Interval_Length","Interval_Max","Interval_Compressed_Histogram"'
MAX_UNIT_RATIO = 1e6  # the max column: ns -> ms, as HdrHistogram's writers default to
_YEAR_NS = 365 * 24 * 3600 * 10**9

_VERSION_RE = re.compile(r"#\[Histogram log format version (\d+\.\d+)\]$")
_START_RE = re.compile(r"#\[StartTime: ([0-9.]+) \(seconds since epoch\)(, [^\]]*)?\]$")
_BASE_RE = re.compile(r"#\[BaseTime: ([0-9.]+) \(seconds since epoch\)\]$")
_SECONDS_RE = re.compile(r"\d+(\.\d*)?|\.\d+")
_TAG_RE = re.compile(r"[^\s,]+")


@dataclass(frozen=True)
class LogInterval:
    """One interval line: its tag (None when untagged), start and length in ns (the start
    as written: from the log's BaseTime when it has one), the max column as written (golat
    writes ms) and the histogram (values in ns)."""

    tag: str | None
    start_ns: int
    length_ns: int
    max_value: float
    histogram: Histogram = field(compare=True)

    def __post_init__(self) -> None:
        if self.tag is not None and not _TAG_RE.fullmatch(self.tag):
            raise ConfigError(
                f"an hlog tag must be non-empty with no comma or space, got {self.tag!r}"
            )
        for name in ("start_ns", "length_ns"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ConfigError(f"{name} must be an int >= 0 (ns), got {v!r}")
        if not (self.max_value >= 0 and self.max_value != float("inf")):
            raise ConfigError(f"max_value must be a finite number >= 0, got {self.max_value!r}")


@dataclass
class IntervalLog:
    """An HdrHistogram interval log: header times (ns since the epoch, None when absent),
    comment lines (without their ``#``) and the intervals in file order."""

    intervals: list[LogInterval] = field(default_factory=list)
    start_time_ns: int | None = None
    base_time_ns: int | None = None
    comments: list[str] = field(default_factory=list)
    version: str = FORMAT_VERSION

    # -- reading ----------------------------------------------------------------------
    def tags(self) -> list[str | None]:
        """The tags present, in order of first appearance (None for untagged lines)."""
        seen: dict[str | None, None] = {}
        for iv in self.intervals:
            seen.setdefault(iv.tag, None)
        return list(seen)

    def histogram(self, tag: str | None = None) -> Histogram:
        """All intervals of ``tag`` (None: the untagged ones) added up. Raises ConfigError
        when there are none, or their precisions differ."""
        picked = [iv.histogram for iv in self.intervals if iv.tag == tag]
        if not picked:
            raise ConfigError(f"no interval tagged {tag!r}; tags here: {self.tags()}")
        total = picked[0].copy()
        for h in picked[1:]:
            total.merge(h)
        return total

    def absolute_start_ns(self, interval: LogInterval) -> int:
        """An interval's start in ns since the epoch, read as HdrHistogram's readers do."""
        if self.base_time_ns is not None:
            return self.base_time_ns + interval.start_ns
        if self.start_time_ns is not None and interval.start_ns < self.start_time_ns - _YEAR_NS:
            return self.start_time_ns + interval.start_ns
        return interval.start_ns

    # -- text -------------------------------------------------------------------------
    def to_text(self) -> str:
        """The log as text (comments, version, StartTime, BaseTime, legend, intervals)."""
        lines = [f"#{c}" for c in self.comments]
        lines.append(f"#[Histogram log format version {self.version}]")
        if self.start_time_ns is not None:
            when = datetime.fromtimestamp(self.start_time_ns // 10**9, tz=timezone.utc)
            lines.append(
                f"#[StartTime: {_seconds(self.start_time_ns)} (seconds since epoch), "
                f"{when.strftime('%a %b %d %H:%M:%S UTC %Y')}]"
            )
        if self.base_time_ns is not None:
            lines.append(f"#[BaseTime: {_seconds(self.base_time_ns)} (seconds since epoch)]")
        lines.append(LEGEND)
        for iv in self.intervals:
            tag = f"Tag={iv.tag}," if iv.tag is not None else ""
            lines.append(
                f"{tag}{_seconds(iv.start_ns)},{_seconds(iv.length_ns)},"
                f"{iv.max_value:.3f},{iv.histogram.encode()}"
            )
        return "\n".join(lines) + "\n"

    @classmethod
    def from_text(cls, text: str) -> IntervalLog:
        """Parse an interval log. Raises ConfigError naming the line and what is wrong."""
        if not isinstance(text, str):
            raise ConfigError(f"an interval log is text, got {type(text).__name__}")
        log = cls(version="")
        for n, line in enumerate(text.splitlines(), 1):
            line = line.rstrip("\r")
            try:
                log._read_line(line)
            except ConfigError as err:
                raise ConfigError(f"hlog line {n}: {err}") from None
        if not log.version:
            log.version = FORMAT_VERSION if not log.intervals else "1.0"
        return log

    def _read_line(self, line: str) -> None:
        if not line.strip():
            return
        if line.startswith("#"):
            if line.startswith("#[Histogram log format version"):
                m = _VERSION_RE.match(line)
                if not m:
                    raise ConfigError(f"cannot read the version header {line!r}")
                self.version = m.group(1)
            elif line.startswith("#[StartTime:"):
                m = _START_RE.match(line)
                if not m:
                    raise ConfigError(
                        f"cannot read {line!r}: want '#[StartTime: SECONDS (seconds since "
                        "epoch), DATE]'"
                    )
                self.start_time_ns = _parse_seconds(m.group(1), "StartTime")
            elif line.startswith("#[BaseTime:"):
                m = _BASE_RE.match(line)
                if not m:
                    raise ConfigError(
                        f"cannot read {line!r}: want '#[BaseTime: SECONDS (seconds since epoch)]'"
                    )
                self.base_time_ns = _parse_seconds(m.group(1), "BaseTime")
            else:
                self.comments.append(line[1:])
            return
        if line.startswith('"StartTimestamp"'):
            return
        tag = None
        if line.startswith("Tag="):
            tag, sep, line = line[4:].partition(",")
            if not sep or not _TAG_RE.fullmatch(tag):
                raise ConfigError(f"bad tag {tag!r}: want Tag=NAME, (no comma or space)")
        fields = line.split(",")
        if len(fields) != 4:
            raise ConfigError(
                f"an interval line has 4 fields (start,length,max,histogram) after an optional "
                f"Tag=NAME, got {len(fields)}"
            )
        start = _parse_seconds(fields[0], "start")
        length = _parse_seconds(fields[1], "length")
        try:
            max_value = float(Decimal(fields[2]))
        except InvalidOperation:
            raise ConfigError(f"max {fields[2]!r} is not a number") from None
        if not max_value >= 0 or max_value == float("inf"):
            raise ConfigError(f"max {fields[2]!r} must be a finite number >= 0")
        try:
            h = Histogram.decode(fields[3])
        except ConfigError as err:
            raise ConfigError(f"histogram: {err}") from None
        self.intervals.append(LogInterval(tag, start, length, max_value, h))

    # -- from a result ----------------------------------------------------------------
    @classmethod
    def from_result(cls, r: Result) -> IntervalLog:
        """The log of a result's timeline (see :meth:`golat.Result.to_hlog`)."""
        from ._version import __version__

        window = r.window_unix_ns
        tl = r.timeline
        comments = [
            f"golat {__version__} interval log: values in ns, Interval_Max in ms; tags latency "
            "and service (all workers merged), latency.wN and service.wN (worker N)",
        ]
        for i, w in enumerate(r.workers):
            src = w.extra.get("input")
            if src is not None and r.inputs:
                label = r.inputs[src].extra.get("label") or f"input {src}"
                comments.append(f"worker {i}: {label}, its worker {w.extra.get('input_worker')}")
        if window is None:
            comments.append(
                "the result has no wall-clock start time (golat result format < 4):"
                " timestamps are seconds from the measured window's start"
            )
        log = cls(start_time_ns=window, base_time_ns=window, comments=comments)
        measured_ns = round(r.measured_s * 1e9)
        if tl is not None and tl.has_histograms and len(tl):
            iv_ns = round(tl.interval_s * 1e9)
            for k in range(len(tl)):
                start = k * iv_ns
                length = max(0, min(iv_ns, measured_ns - start)) if measured_ns else iv_ns
                for which in ("latency", "service"):
                    log._add(which, start, length, tl.histogram(k, which))
                for w in range(tl.workers):
                    for which in ("latency", "service"):
                        log._add(f"{which}.w{w}", start, length, tl.histogram(k, which, w))
        else:
            log._add("latency", 0, measured_ns, r.latency)
            log._add("service", 0, measured_ns, r.service)
            for i, w in enumerate(r.workers):
                log._add(f"latency.w{i}", 0, measured_ns, w.latency)
                log._add(f"service.w{i}", 0, measured_ns, w.service)
        return log

    def _add(self, tag: str, start_ns: int, length_ns: int, h: Histogram) -> None:
        top = h.percentile(100) if h.count else 0  # HdrHistogram's max: its slot's top
        max_ms = float(f"{top / MAX_UNIT_RATIO:.3f}")
        self.intervals.append(LogInterval(tag, start_ns, length_ns, max_ms, h))


def read_hlog(path: str | Path) -> IntervalLog:
    """Read an HdrHistogram interval log file (golat's, or any HdrHistogram writer's).

    Returns an :class:`IntervalLog`: ``.intervals`` (each with ``tag``, ``start_ns``,
    ``length_ns``, ``max_value`` and ``histogram``), ``.start_time_ns``, ``.base_time_ns``,
    ``.histogram(tag)`` for a tag's intervals added up. Raises ConfigError for a malformed
    log (naming the line), OSError when the file cannot be read.
    """
    return IntervalLog.from_text(Path(path).read_text(encoding="utf-8"))


def _seconds(ns: int) -> str:
    """ns as seconds with 9 decimals, exactly (no float on the way)."""
    return f"{ns // 10**9}.{ns % 10**9:09d}"


def _parse_seconds(text: str, what: str) -> int:
    """Decimal seconds (no sign, no exponent) -> ns, rounded to the nearest ns."""
    if not _SECONDS_RE.fullmatch(text):
        raise ConfigError(f"{what} {text!r} is not a number of seconds >= 0")
    ns = Decimal(text) * 10**9
    if ns > 10**20:
        raise ConfigError(f"{what} {text!r} is out of range")
    return int(ns.to_integral_value())


@renderer("result_hlog")
def result_hlog(r: Result) -> str:
    """:meth:`golat.Result.to_hlog` (registered, so that Result needs no import of this
    module)."""
    return IntervalLog.from_result(r).to_text()
