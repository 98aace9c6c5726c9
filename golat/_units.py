"""Parsing and printing durations, sizes and rates, strictly (bad text raises ConfigError)."""

from __future__ import annotations

import math
import numbers
import re

from .errors import ConfigError

_DURATION = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "min": 60.0}
_SIZE = {
    "": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3,
    "gb": 1000**3, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4,
}  # fmt: skip
_NUM = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-zA-Zµ]*)\s*$")


def number(name: str, value: object, *, minimum: float = 0.0, strict_min: bool = True,
           maximum: float = math.inf, integer: bool = False) -> float:  # fmt: skip
    """Validate a number argument; raise ConfigError naming `name` and the allowed range."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ConfigError(f"{name} must be a number, got {type(value).__name__} {value!r}")
    # Compare ints as ints: float(2**63 - 1) rounds up past an int64 maximum.
    v = value if isinstance(value, numbers.Integral) else float(value)
    if math.isnan(v) or math.isinf(v):
        raise ConfigError(f"{name} must be a finite number, got {value!r}")
    if integer and v != int(v):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    low_ok = v > minimum if strict_min else v >= minimum
    if not low_ok or v > maximum:
        lo = f"> {minimum:g}" if strict_min else f">= {minimum:g}"
        hi = "" if math.isinf(maximum) else f" and <= {maximum:g}"
        raise ConfigError(f"{name} must be {lo}{hi}, got {value!r}")
    return float(v)


def parse_duration(text: str | float | int, name: str = "duration") -> float:
    """'200us', '2ms', '1.5s', '2m' or a number of seconds -> seconds."""
    if not isinstance(text, str):
        return number(name, text, strict_min=False)
    m = _NUM.match(text)
    unit = m.group(2).lower() if m else ""
    if not m or (unit and unit not in _DURATION):
        raise ConfigError(
            f"{name}: cannot read {text!r} as a duration (e.g. 500us, 2ms, 1.5s, 2m; "
            "a bare number is seconds)"
        )
    return float(m.group(1)) * _DURATION.get(unit, 1.0)


def parse_size(text: str | int, name: str = "size") -> int:
    """'4096', '1KiB', '256MiB', '2G' -> bytes."""
    if not isinstance(text, str):
        number(name, text, strict_min=False, integer=True)
        return int(text)
    m = _NUM.match(text)
    unit = m.group(2).lower() if m else ""
    if not m or unit not in _SIZE:
        raise ConfigError(f"{name}: cannot read {text!r} as a size (e.g. 4096, 1KiB, 256MiB, 2GB)")
    v = float(m.group(1)) * _SIZE[unit]
    if v != int(v):
        raise ConfigError(f"{name}: {text!r} is not a whole number of bytes")
    return int(v)


def format_ns(ns: float) -> str:
    """A duration in ns as a short human string with its unit: '812 ns', '12.3 µs', '4.56 ms'."""
    if ns is None or (isinstance(ns, float) and math.isnan(ns)):
        return "-"
    a = abs(ns)
    for div, unit in ((1e9, "s"), (1e6, "ms"), (1e3, "µs")):
        if a >= div:
            v = ns / div
            return f"{v:.3g} {unit}" if abs(v) < 100 else f"{v:.0f} {unit}"
    return f"{ns:.0f} ns"


def format_bytes(b: float) -> str:
    for div, unit in ((1 << 40, "TiB"), (1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if abs(b) >= div:
            return f"{b / div:.3g} {unit}"
    return f"{b:.0f} B"
