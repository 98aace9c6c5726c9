"""Value kinds: how one parameter (a run setting or a workload field) is checked, written as
text, read from text, and put into the document the core reads. Settings and workloads
declare each parameter once with one of these; every form (Python, text, document) comes
from that declaration, so the forms round-trip.

The unit rule (docs/api.md): in Python, durations are seconds unless the name ends in
``_ns`` / ``_us``; in text a value takes a unit (``10us``, ``2ms``) and a bare number in a
key named for a unit (``ns=2000``) means that unit. Durations are kept to whole
nanoseconds, so text and document forms are exact.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Iterable
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from .errors import ConfigError

_NS_PER = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
           "m": 60_000_000_000, "min": 60_000_000_000, "h": 3_600_000_000_000}  # fmt: skip
_BYTES_PER = {
    "": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3,
    "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}  # fmt: skip
_NUM = re.compile(r"^\s*([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Zµ]*)\s*$")
_NONE_WORDS = ("none", "null", "")
INT64_MAX = 2**63 - 1


def _is_number(v: object) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _is_whole(v: object) -> bool:
    """A whole number (an int, or a float with no fraction; never nan or inf)."""
    return _is_number(v) and (not isinstance(v, float) or v.is_integer())


def check_range(label: str, v: float, lo: float, hi: float, what: str = "") -> None:
    """Raise ConfigError naming ``label`` and the allowed range unless lo <= v <= hi."""
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        raise ConfigError(f"{label} must be a finite number, got {v!r}")
    if not lo <= v <= hi:
        if hi >= INT64_MAX and v < lo:
            raise ConfigError(f"{label} must be >= {_fmt_bound(lo, what)}, got "
                              f"{_fmt_bound(v, what)}")  # fmt: skip
        raise ConfigError(f"{label} must be in {_fmt_bound(lo, what)}..{_fmt_bound(hi, what)}, "
                          f"got {_fmt_bound(v, what)}")  # fmt: skip


def _fmt_bound(v: float, what: str) -> str:
    if what == "ns":
        return format_ns_text(int(v))
    if what == "bytes":
        return format_bytes_text(int(v))
    if float(v).is_integer() and abs(v) < 1e18:
        return str(int(v))
    return f"{v:g}"


# --- durations and sizes as exact text ---------------------------------------------------


def parse_ns(text: str, label: str, bare: str) -> int:
    """Text to whole ns; a bare number is in unit ``bare`` ("s" or "ns")."""
    m = _NUM.match(text) if isinstance(text, str) else None
    unit = m.group(2).lower() if m else ""
    if unit == "µs":
        unit = "us"
    if not m or (unit and unit not in _NS_PER):
        raise ConfigError(
            f"{label}: cannot read {text!r} as a duration (e.g. 500us, 2ms, 1.5s, 2m; a bare "
            f"number is {'seconds' if bare == 's' else 'nanoseconds'})"
        )
    ns = Fraction(m.group(1)) * _NS_PER[unit or bare]
    if abs(ns) > INT64_MAX:
        raise ConfigError(f"{label}: {text!r} is too long (at most ~292 years)")
    return round(ns)


def format_ns_text(ns: int) -> str:
    """Whole ns as the shortest exact text with a unit: 2000 -> '2us', 1_500_000_000 -> '1500ms'."""
    if ns == 0:
        return "0"  # zero in any unit
    for unit in ("h", "min", "s", "ms", "us"):
        if ns % _NS_PER[unit] == 0:
            return f"{ns // _NS_PER[unit]}{unit}"
    return f"{ns}ns"


def parse_bytes(text: str, label: str) -> int:
    m = _NUM.match(text) if isinstance(text, str) else None
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _BYTES_PER:
        raise ConfigError(f"{label}: cannot read {text!r} as a size (e.g. 4096, 1KiB, 256MiB, 2GB)")
    v = Fraction(m.group(1)) * _BYTES_PER[unit]
    if v.denominator != 1:
        raise ConfigError(f"{label}: {text!r} is not a whole number of bytes")
    return int(v)


def format_bytes_text(b: int) -> str:
    """Bytes as exact text: 1024 -> '1KiB', 1000 -> '1000'."""
    for unit in ("TiB", "GiB", "MiB", "KiB"):
        size = _BYTES_PER[unit.lower()]
        if b and b % size == 0:
            return f"{b // size}{unit}"
    return str(b)


# --- kinds -----------------------------------------------------------------------------


class Kind:
    """A kind of value. Subclasses define how a value is checked and normalised (Python),
    written and read as text, and put into / read from the core's document."""

    #: the document key is the parameter's name plus this (durations in seconds -> "_ns")
    wire_suffix = ""
    #: what the help text says the value is
    describe = "a value"

    def check(self, label: str, v: Any) -> Any:
        raise NotImplementedError

    def to_text(self, v: Any) -> str:
        return str(v)

    def from_text(self, label: str, text: str) -> Any:
        raise NotImplementedError

    def to_doc(self, v: Any) -> Any:
        return v

    def from_doc(self, label: str, d: Any) -> Any:
        return self.check(label, d)


@dataclass(frozen=True)
class Seconds(Kind):
    """A duration in seconds (Python float, whole ns); text with a unit, a bare number is
    seconds; the document has it in ns under ``NAME_ns``."""

    lo_ns: int = 0
    hi_ns: int = 3_600_000_000_000
    quantum_ns: int = 1  # the value must be a whole number of these (1000: whole µs)
    wire_suffix = "_ns"
    describe = "a duration (500us, 2ms, 1.5s; a bare number is seconds)"

    def check(self, label: str, v: Any) -> float:
        if not _is_number(v):
            raise ConfigError(f"{label} must be a number of seconds, got {v!r}")
        if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
            raise ConfigError(f"{label} must be a finite number of seconds, got {v!r}")
        ns = round(Fraction(v) * 1_000_000_000)
        check_range(label, ns, self.lo_ns, self.hi_ns, "ns")
        if ns % self.quantum_ns:
            raise ConfigError(f"{label} must be a whole number of "
                              f"{format_ns_text(self.quantum_ns)[1:]}, got {v!r} s")  # fmt: skip
        return ns / 1e9

    def to_text(self, v: float) -> str:
        return format_ns_text(round(v * 1e9))

    def from_text(self, label: str, text: str) -> float:
        return self.check(label, parse_ns(text, label, "s") / 1e9)

    def to_doc(self, v: float) -> int:
        return round(v * 1e9)

    def from_doc(self, label: str, d: Any) -> float:
        if not isinstance(d, int) or isinstance(d, bool):
            raise ConfigError(f"{label}_ns must be a whole number of ns, got {d!r}")
        return self.check(label, d / 1e9)


@dataclass(frozen=True)
class Nanos(Kind):
    """A duration in whole ns (a name ending in ``_ns``, or ``ns``); text with a unit, a
    bare number is ns."""

    lo: int = 0
    hi: int = 3_600_000_000_000
    describe = "a duration (10us, 2ms; a bare number is ns)"

    def check(self, label: str, v: Any) -> int:
        if not _is_whole(v):
            raise ConfigError(f"{label} must be a whole number of ns, got {v!r}")
        v = int(v)
        check_range(label, v, self.lo, self.hi, "ns")
        return v

    def to_text(self, v: int) -> str:
        return format_ns_text(v)

    def from_text(self, label: str, text: str) -> int:
        return self.check(label, parse_ns(text, label, "ns"))


@dataclass(frozen=True)
class Micros(Kind):
    """A duration in whole µs (a name ending in ``_us``); a bare number is µs."""

    lo: int = 0
    hi: int = 2_000_000_000
    describe = "a duration (0us, 20us; a bare number is µs)"

    def check(self, label: str, v: Any) -> int:
        if not _is_whole(v):
            raise ConfigError(f"{label} must be a whole number of µs, got {v!r}")
        v = int(v)
        check_range(label, v, self.lo, self.hi)
        return v

    def to_text(self, v: int) -> str:
        return f"{v}us"

    def from_text(self, label: str, text: str) -> int:
        ns = parse_ns(text, label, "us")
        if ns % 1000:
            raise ConfigError(f"{label}: {text!r} is not a whole number of µs")
        return self.check(label, ns // 1000)


@dataclass(frozen=True)
class Bytes(Kind):
    """A size in bytes (int); text accepts KiB/MiB/GiB (and kB/MB/GB)."""

    lo: int = 0
    hi: int = 1 << 50
    describe = "a size (4096, 1KiB, 256MiB)"

    def check(self, label: str, v: Any) -> int:
        if isinstance(v, str):
            v = parse_bytes(v, label)
        if not _is_whole(v):
            raise ConfigError(f"{label} must be a whole number of bytes (or text like 1KiB), "
                              f"got {v!r}")  # fmt: skip
        v = int(v)
        check_range(label, v, self.lo, self.hi, "bytes")
        return v

    def to_text(self, v: int) -> str:
        return format_bytes_text(v)

    def from_text(self, label: str, text: str) -> int:
        return self.check(label, parse_bytes(text, label))


@dataclass(frozen=True)
class Int(Kind):
    lo: int = 0
    hi: int = INT64_MAX
    describe = "a whole number"

    def check(self, label: str, v: Any) -> int:
        if not _is_number(v) or (isinstance(v, float) and not v.is_integer()):
            raise ConfigError(f"{label} must be a whole number, got {v!r}")
        v = int(v)
        check_range(label, v, self.lo, self.hi)
        return v

    def from_text(self, label: str, text: str) -> int:
        try:
            return self.check(label, int(text.strip().replace("_", "")))
        except ValueError:
            raise ConfigError(f"{label} must be a whole number, got {text!r}") from None


@dataclass(frozen=True)
class Float(Kind):
    lo: float = 0.0
    hi: float = math.inf
    lo_open: bool = False  # True: lo itself is not allowed
    describe = "a number"

    def check(self, label: str, v: Any) -> float:
        if not _is_number(v):
            raise ConfigError(f"{label} must be a number, got {v!r}")
        v = float(v)
        if self.lo_open and v == self.lo:
            raise ConfigError(f"{label} must be > {self.lo:g}, got {v!r}")
        check_range(label, v, self.lo, self.hi)
        return v

    def to_text(self, v: float) -> str:
        return f"{int(v)}" if v.is_integer() and abs(v) < 1e15 else repr(v)

    def from_text(self, label: str, text: str) -> float:
        t = text.strip().lower().replace("_", "")
        scale = {"k": 1e3, "m": 1e6}.get(t[-1:], 1.0) if t else 1.0
        try:
            return self.check(label, float(t[:-1] if scale != 1.0 else t) * scale)
        except ValueError:
            raise ConfigError(f"{label} must be a number, got {text!r}") from None


@dataclass(frozen=True)
class Choice(Kind):
    options: tuple[str, ...] = ()

    @property
    def describe(self) -> str:  # type: ignore[override]
        return " or ".join(self.options)

    def check(self, label: str, v: Any) -> str:
        if v not in self.options:
            raise ConfigError(f"{label} must be one of {', '.join(map(repr, self.options))}, "
                              f"got {v!r}")  # fmt: skip
        return str(v)

    def from_text(self, label: str, text: str) -> str:
        return self.check(label, text.strip())


@dataclass(frozen=True)
class Flag(Kind):
    describe = "yes or no"

    def check(self, label: str, v: Any) -> bool:
        if not isinstance(v, bool):
            raise ConfigError(f"{label} must be True or False, got {v!r}")
        return v

    def to_text(self, v: bool) -> str:
        return "yes" if v else "no"

    def from_text(self, label: str, text: str) -> bool:
        t = text.strip().lower()
        if t in ("yes", "true", "1", "on"):
            return True
        if t in ("no", "false", "0", "off"):
            return False
        raise ConfigError(f"{label} must be yes or no, got {text!r}")


@dataclass(frozen=True)
class Text(Kind):
    """Free text checked by a pattern (the check names what is allowed)."""

    pattern: str = r".*"
    allowed: str = "text"

    @property
    def describe(self) -> str:  # type: ignore[override]
        return self.allowed

    def check(self, label: str, v: Any) -> str:
        if not isinstance(v, str) or not re.fullmatch(self.pattern, v):
            raise ConfigError(f"{label} must be {self.allowed}, got {v!r}")
        return v

    def from_text(self, label: str, text: str) -> str:
        return self.check(label, text.strip())


@dataclass(frozen=True)
class OrNone(Kind):
    """``None`` or a value of ``inner``; text ``none``; in the document ``none_doc``."""

    inner: Kind = Int()
    none_doc: Any = None

    @property
    def wire_suffix(self) -> str:  # type: ignore[override]
        return self.inner.wire_suffix

    @property
    def describe(self) -> str:  # type: ignore[override]
        return f"{self.inner.describe}, or none"

    def check(self, label: str, v: Any) -> Any:
        return None if v is None else self.inner.check(label, v)

    def to_text(self, v: Any) -> str:
        return "none" if v is None else self.inner.to_text(v)

    def from_text(self, label: str, text: str) -> Any:
        return None if text.strip().lower() in _NONE_WORDS else self.inner.from_text(label, text)

    def to_doc(self, v: Any) -> Any:
        return self.none_doc if v is None else self.inner.to_doc(v)

    def from_doc(self, label: str, d: Any) -> Any:
        return None if d == self.none_doc else self.inner.from_doc(label, d)


# --- key=value lists ---------------------------------------------------------------------


def split_pairs(text: str, label: str, keys: Iterable[str] | None = None,
                env: bool = False) -> list[tuple[str | None, str]]:  # fmt: skip
    """``"a=1,b=2,3"`` -> [("a", "1"), ("b", "2,3")]: a comma starts a new pair only when a
    key of ``keys`` (any word when None; also an UPPER_CASE word with ``env``) and ``=``
    follow, so values may hold commas (``cpus=0,2``, ``GODEBUG=gctrace=1,schedtrace=1000``).
    A leading value without ``key=`` is positional: ``"10us,n=1"`` -> [(None, "10us"), ...]."""
    words = r"[A-Za-z_][A-Za-z0-9_]*" if keys is None else "|".join(map(re.escape, keys))
    if env:
        words = rf"{words}|[A-Z][A-Z0-9_]*" if words else r"[A-Z][A-Z0-9_]*"
    out: list[tuple[str | None, str]] = []
    if not text.strip():
        return out
    parts = re.split(rf",(?=\s*(?:{words})\s*=)", text) if words else [text]
    for i, part in enumerate(parts):
        key, eq, value = part.partition("=")
        if not eq:
            if i:
                raise ConfigError(f"{label}: cannot read {part!r}; write key=value")
            out.append((None, part.strip()))
            continue
        if not key.strip():
            raise ConfigError(f"{label}: cannot read {part!r}; write key=value")
        out.append((key.strip(), value.strip()))
    return out
