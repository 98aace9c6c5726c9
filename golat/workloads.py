"""Workloads the Go core runs for each request. Each is a small frozen dataclass that
validates its arguments and turns into the JSON spec the core reads.

Units: ``ns`` parameters are nanoseconds, sizes are bytes.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from . import _units
from .errors import ConfigError

__all__ = ["Workload", "Noop", "Spin", "Alloc", "PooledAlloc", "Syscall", "parse", "from_spec"]


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # not knowable: do not refuse on this ground
        return 1 << 50


@dataclass(frozen=True)
class Workload:
    """Base class; use one of the concrete workloads."""

    kind: ClassVar[str] = ""

    def spec(self) -> dict[str, Any]:
        """The JSON document the Go core decodes."""
        return {"kind": self.kind, **asdict(self)}

    def pooled(self) -> Workload:
        """The non-allocating variant of this workload (itself when it does not allocate)."""
        return self

    def __str__(self) -> str:
        args = ",".join(f"{k}={v}" for k, v in asdict(self).items())
        return f"{self.kind}:{args}" if args else self.kind


@dataclass(frozen=True)
class Noop(Workload):
    """Does nothing: the harness floor (two clock reads and the loop)."""

    kind: ClassVar[str] = "noop"


@dataclass(frozen=True)
class Spin(Workload):
    """Busy-waits ``ns`` nanoseconds of wall time per request."""

    ns: int
    kind: ClassVar[str] = "spin"

    def __post_init__(self) -> None:
        _units.number("Spin(ns)", self.ns, minimum=1, strict_min=False, maximum=60e9, integer=True)
        object.__setattr__(self, "ns", int(self.ns))


@dataclass(frozen=True)
class Alloc(Workload):
    """Allocates ``count`` buffers of ``size`` bytes per request and keeps ``live_bytes``
    of them alive (split across workers), so the collector has a real heap to mark."""

    size: int = 1024
    count: int = 16
    live_bytes: int = 0
    kind: ClassVar[str] = "alloc"

    def __post_init__(self) -> None:
        n = type(self).__name__
        _units.number(f"{n}(size)", self.size, minimum=1, strict_min=False, maximum=1 << 30,
                      integer=True)  # fmt: skip
        _units.number(f"{n}(count)", self.count, minimum=1, strict_min=False, maximum=1 << 20,
                      integer=True)  # fmt: skip
        _units.number(f"{n}(live_bytes)", self.live_bytes, strict_min=False, integer=True)
        mem = _physical_memory()
        if self.live_bytes > mem // 2:
            raise ConfigError(
                f"{n}(live_bytes={self.live_bytes}) is more than half this machine's memory "
                f"({mem} bytes); allowed: 0..{mem // 2}"
            )
        for f in ("size", "count", "live_bytes"):
            object.__setattr__(self, f, int(getattr(self, f)))

    def pooled(self) -> Workload:
        return PooledAlloc(self.size, self.count, self.live_bytes)


@dataclass(frozen=True)
class PooledAlloc(Alloc):
    """The same work as :class:`Alloc` from per-worker pools: no allocation per request."""

    kind: ClassVar[str] = "pooled_alloc"

    def pooled(self) -> Workload:
        return self


@dataclass(frozen=True)
class Syscall(Workload):
    """One system call per request: ``"getpid"``, or ``"pipe"`` (1-byte write and read)."""

    syscall: str = "getpid"
    kind: ClassVar[str] = "syscall"

    def __post_init__(self) -> None:
        if self.syscall not in ("getpid", "pipe"):
            raise ConfigError(f"Syscall kind must be 'getpid' or 'pipe', got {self.syscall!r}")


_BY_NAME: dict[str, type[Workload]] = {
    "noop": Noop, "spin": Spin, "alloc": Alloc, "pooled_alloc": PooledAlloc, "syscall": Syscall,
}  # fmt: skip
_DURATION_FIELDS = {"ns"}
_SIZE_FIELDS = {"size", "live_bytes"}


def register(name: str, cls: type[Workload]) -> None:
    """Make ``cls`` reachable from :func:`parse` (and the command line) as ``name``."""
    _BY_NAME[name] = cls


def from_spec(spec: dict[str, Any]) -> Workload:
    """The workload whose :meth:`Workload.spec` is ``spec`` (how a child process gets it)."""
    kinds = {cls.kind: cls for cls in _BY_NAME.values()}
    cls = kinds.get(spec.get("kind", "")) if isinstance(spec, dict) else None
    if cls is None:
        raise ConfigError(
            f"unknown workload spec {spec!r}; known kinds: {', '.join(sorted(kinds))}"
        )
    try:
        return cls(**{k: v for k, v in spec.items() if k != "kind"})
    except TypeError as err:
        raise ConfigError(f"workload spec {spec!r}: {err}") from err


def parse(text: str) -> Workload:
    """Read a workload from the command-line form ``kind[:key=value,...]``.

    Examples: ``noop``, ``spin:ns=10us``, ``alloc:size=1KiB,count=16,live_bytes=256MiB``,
    ``syscall:pipe``. Durations accept units (``ns`` fields), sizes accept KiB/MiB/GiB.
    """
    kind, _, rest = text.partition(":")
    cls = _BY_NAME.get(kind.strip())
    if cls is None:
        raise ConfigError(f"unknown workload {kind!r}; known: {', '.join(sorted(_BY_NAME))}")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for part in filter(None, (p.strip() for p in rest.split(","))):
        key, eq, value = part.partition("=")
        if not eq:
            args.append(key)  # positional, e.g. syscall:pipe or spin:10us
            continue
        kwargs[key.strip()] = value.strip()
    fields = [f for f in cls.__dataclass_fields__ if f != "kind"]
    for i, a in enumerate(args):
        if i >= len(fields):
            raise ConfigError(f"{kind}: too many positional values in {text!r}")
        kwargs.setdefault(fields[i], a)
    for key, value in list(kwargs.items()):
        if key not in fields:
            raise ConfigError(f"{kind}: unknown parameter {key!r}; allowed: {', '.join(fields)}")
        if key in _DURATION_FIELDS:
            kwargs[key] = round(_units.parse_duration(value, f"{kind}({key})") * 1e9)
        elif key in _SIZE_FIELDS or key == "count":
            kwargs[key] = _units.parse_size(value, f"{kind}({key})")
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"{kind}: {err}") from err
