"""SLO bounds such as ``"p99<=200us,p99.99<=2ms,max<5ms"`` and checking them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from . import _units
from .errors import ConfigError

_BOUND = re.compile(r"^\s*(p[0-9.]+|max|mean|stddev)\s*(<=|<)\s*(.+?)\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class Bound:
    stat: str  # "p99", "p99.99", "max", "mean", "stddev"
    op: str  # "<=" or "<"
    limit_ns: float

    def holds(self, value_ns: float) -> bool:
        return value_ns <= self.limit_ns if self.op == "<=" else value_ns < self.limit_ns

    def __str__(self) -> str:
        return f"{self.stat}{self.op}{_units.format_ns(self.limit_ns)}"


def parse(text: str) -> list[Bound]:
    """Parse comma-separated bounds; percentiles are ``pNN`` with NN in (0, 100]."""
    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"an SLO must be text like 'p99<=200us,max<=5ms', got {text!r}")
    out = []
    for part in text.split(","):
        m = _BOUND.match(part)
        if not m:
            raise ConfigError(
                f"cannot read SLO bound {part.strip()!r}: write STAT<=DURATION, STAT one of "
                "pNN (e.g. p99, p99.9), max, mean, stddev; e.g. 'p99<=200us'"
            )
        stat = m.group(1).lower()
        if stat.startswith("p"):
            try:
                p = float(stat[1:])
            except ValueError:
                raise ConfigError(
                    f"SLO bound {part.strip()!r}: {stat!r} is not a percentile"
                ) from None
            if not 0 < p <= 100:
                raise ConfigError(f"SLO bound {part.strip()!r}: percentile must be in (0, 100]")
        limit = _units.parse_duration(m.group(3), f"SLO bound {part.strip()!r}") * 1e9
        out.append(Bound(stat, m.group(2), limit))
    return out
