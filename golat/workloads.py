"""Workloads the Go core runs for each request. Each is a small frozen dataclass that
validates its arguments and turns into the JSON spec the core reads.

Units: ``ns`` parameters are nanoseconds, sizes are bytes.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

from . import _units
from .errors import ConfigError

__all__ = [
    "Workload", "Noop", "Spin", "Alloc", "PooledAlloc", "Syscall", "Timer", "Jitter", "MemChase",
    "parse",
]  # fmt: skip


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError):  # not knowable: do not refuse on this ground
        return 1 << 50


@dataclass(frozen=True)
class Workload:
    """Base class; use one of the concrete workloads."""

    kind: ClassVar[str] = ""
    #: The workload keeps its own schedule or runs back to back for the whole run, so a
    #: ``rate`` makes no sense with it (Timer, Jitter).
    self_paced: ClassVar[bool] = False

    @property
    def wants_thread(self) -> bool:
        """Whether it measures something that needs its own locked OS thread."""
        return False

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


@dataclass(frozen=True)
class Timer(Workload):
    """Wake-up latency against absolute deadlines every ``interval`` seconds, as cyclictest
    measures it.

    Each worker's wake-ups are due on a fixed grid (``t0 + k * interval``). With
    ``method="clock_nanosleep"`` the worker's locked thread sleeps with
    ``clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME)``; with ``"go"`` the goroutine sleeps
    on the Go timer (``time.Sleep``), which wakes through the runtime's scheduler. The
    request does nothing: each "request" is one wake-up, its start delay is the lateness
    (actual wake - deadline, ns) and its latency the same plus a few ns of bookkeeping. A
    wake-up that overruns later deadlines shows in each of them (coordinated omission
    stays corrected), where cyclictest would count overruns. Leave ``rate`` unset.
    """

    interval: float
    method: str = "clock_nanosleep"
    kind: ClassVar[str] = "timer"
    self_paced: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _units.number("Timer(interval) (s)", self.interval, minimum=1e-6, strict_min=False,
                      maximum=10)  # fmt: skip
        if self.method not in ("clock_nanosleep", "go"):
            raise ConfigError(
                f"Timer(method) must be 'clock_nanosleep' or 'go', got {self.method!r}"
            )

    @property
    def wants_thread(self) -> bool:
        return self.method == "clock_nanosleep"

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "interval_ns": round(self.interval * 1e9), "method": self.method}


@dataclass(frozen=True)
class Jitter(Workload):
    """A busy loop that reads the clock back to back and records every gap between two
    reads (ns) in the latency histogram, as oslat does; a long gap is time the thread lost
    to an interrupt, a preemption or the hypervisor. Gaps above ``threshold`` seconds are
    counted (``workers[i].extra["workload"]["over_threshold"]``) and the first 64 kept with
    their offset into the window. Runs for the whole duration; leave ``rate`` unset.
    """

    threshold: float = 10e-6
    kind: ClassVar[str] = "jitter"
    self_paced: ClassVar[bool] = True

    def __post_init__(self) -> None:
        _units.number("Jitter(threshold) (s)", self.threshold, minimum=1e-9, strict_min=False,
                      maximum=60)  # fmt: skip

    @property
    def wants_thread(self) -> bool:
        return True

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "threshold_ns": max(1, round(self.threshold * 1e9))}


@dataclass(frozen=True)
class MemChase(Workload):
    """A dependent pointer chase through a buffer of ``bytes`` bytes: ``hops`` loads per
    request, each address read from the previous load, over a random cycle through every
    64-byte line (so caches and prefetchers do not hide memory latency once the buffer is
    larger than the last-level cache). Each worker's buffer is mmap'ed outside the Go
    heap and bound to NUMA ``node`` (``mbind``) or, with ``node=None``, placed by the
    worker thread's memory policy (first touch); where its pages really are is reported
    per worker (``extra["placement"]``). ns per load = service time / hops.
    """

    bytes: int
    node: int | None = None
    hops: int = 1000
    kind: ClassVar[str] = "memchase"

    def __post_init__(self) -> None:
        _units.number("MemChase(bytes)", self.bytes, minimum=128, strict_min=False,
                      maximum=1 << 40, integer=True)  # fmt: skip
        mem = _physical_memory()
        if self.bytes > mem // 2:
            raise ConfigError(
                f"MemChase(bytes={self.bytes}) is more than half this machine's memory "
                f"({mem} bytes); allowed: 128..{mem // 2}"
            )
        if self.node is not None:
            _units.number("MemChase(node)", self.node, strict_min=False, maximum=1022,
                          integer=True)  # fmt: skip
        _units.number("MemChase(hops)", self.hops, minimum=1, strict_min=False, maximum=1e9,
                      integer=True)  # fmt: skip
        object.__setattr__(self, "bytes", int(self.bytes))
        object.__setattr__(self, "hops", int(self.hops))
        if self.node is not None:
            object.__setattr__(self, "node", int(self.node))

    def spec(self) -> dict[str, Any]:
        return {"kind": self.kind, "bytes": self.bytes, "hops": self.hops,
                "node": -1 if self.node is None else self.node}  # fmt: skip


_BY_NAME: dict[str, type[Workload]] = {
    "noop": Noop, "spin": Spin, "alloc": Alloc, "pooled_alloc": PooledAlloc, "syscall": Syscall,
    "timer": Timer, "jitter": Jitter, "memchase": MemChase,
}  # fmt: skip
_DURATION_FIELDS = {"ns"}  # parsed to ns
_SECONDS_FIELDS = {"interval", "threshold"}  # parsed to seconds
_SIZE_FIELDS = {"size", "live_bytes", "bytes"}
_INT_FIELDS = {"node", "hops"}


def register(name: str, cls: type[Workload]) -> None:
    """Make ``cls`` reachable from :func:`parse` (and the command line) as ``name``."""
    _BY_NAME[name] = cls


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
    fields = [f.name for f in dataclasses.fields(cls)]
    for i, a in enumerate(args):
        if i >= len(fields):
            raise ConfigError(f"{kind}: too many positional values in {text!r}")
        kwargs.setdefault(fields[i], a)
    for key, value in list(kwargs.items()):
        if key not in fields:
            raise ConfigError(f"{kind}: unknown parameter {key!r}; allowed: {', '.join(fields)}")
        if key in _DURATION_FIELDS:
            kwargs[key] = round(_units.parse_duration(value, f"{kind}({key})") * 1e9)
        elif key in _SECONDS_FIELDS:
            kwargs[key] = _units.parse_duration(value, f"{kind}({key})")
        elif key in _INT_FIELDS:
            try:
                kwargs[key] = int(value)
            except ValueError:
                raise ConfigError(f"{kind}({key}) must be a whole number, got {value!r}") from None
        elif key in _SIZE_FIELDS or key == "count":
            kwargs[key] = _units.parse_size(value, f"{kind}({key})")
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"{kind}: {err}") from err
