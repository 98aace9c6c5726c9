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
    "HTTP", "parse", "from_spec",
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

    def check_run(self, *, workers: int) -> None:
        """Refuse run settings this workload cannot honour (ConfigError); default: none."""

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


_LOOPBACK_NAMES = ("localhost",)


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback IP literal or ``localhost`` (no name is resolved)."""
    import ipaddress

    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class HTTP(Workload):
    """One HTTP/1.1 GET per request over keep-alive connections to a loopback server.

    By default golat starts an in-process ``net/http`` server on 127.0.0.1 (port chosen by
    the kernel) for the run and closes it at the end; its handler runs ``handler`` (any
    golat workload, e.g. ``Spin(ns=20_000)``) and answers with ``body_bytes`` bytes, status
    200 on every path except ``/status/NNN``, which answers NNN (200..599) after the same
    work. ``path`` is one path or a tuple of paths that requests cycle through. With
    ``target="127.0.0.1:PORT"`` the requests go to a server already running on this
    machine instead (``golat serve``, nginx ...); only loopback targets are allowed.

    Connections and workers: a worker runs one request at a time, so a run has at most
    ``workers`` requests in flight. ``connections`` (default: one per worker) keep-alive
    connections form a pool; a request takes one, does one round trip and gives it back.
    With fewer connections than workers, workers wait for a connection and the wait is in
    their latency; more connections than workers is refused (they could never be busy).

    Latency is from each request's intended start as usual, and the result splits it by
    path and status code: :meth:`golat.Result.by_class` (``"200 GET /"``) and
    :meth:`golat.Result.by_status` (status 0 = no response: refused, reset, timed out).
    ``timeout`` (s) bounds each round trip.
    """

    path: str | tuple[str, ...] = "/"
    body_bytes: int = 0
    handler: Workload = Noop()
    connections: int | None = None
    target: str | None = None
    timeout: float = 10.0
    kind: ClassVar[str] = "http"

    def __post_init__(self) -> None:
        paths = (self.path,) if isinstance(self.path, str) else tuple(self.path)
        if not 1 <= len(paths) <= 64:
            raise ConfigError(f"HTTP(path) must be one path or 1..64 paths, got {self.path!r}")
        for p in paths:
            if (
                not isinstance(p, str)
                or not p.startswith("/")
                or any(c <= " " or c == "\x7f" for c in p)
            ):
                raise ConfigError(
                    f"HTTP(path) must start with '/' and have no spaces or control "
                    f"characters, got {p!r}"
                )
        object.__setattr__(self, "path", paths[0] if len(paths) == 1 else paths)
        _units.number("HTTP(body_bytes)", self.body_bytes, strict_min=False, maximum=64 << 20,
                      integer=True)  # fmt: skip
        object.__setattr__(self, "body_bytes", int(self.body_bytes))
        if not isinstance(self.handler, Workload) or type(self.handler) is Workload:
            raise ConfigError(f"HTTP(handler) must be a golat workload, got {self.handler!r}")
        if isinstance(self.handler, HTTP):
            raise ConfigError("HTTP(handler) cannot itself be an HTTP workload")
        if self.connections is not None:
            _units.number("HTTP(connections)", self.connections, minimum=1, strict_min=False,
                          maximum=4096, integer=True)  # fmt: skip
            object.__setattr__(self, "connections", int(self.connections))
        if self.target is not None:
            host, sep, port = str(self.target).rpartition(":")
            if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ConfigError(f"HTTP(target) must be host:port, got {self.target!r}")
            if not is_loopback(host):
                raise ConfigError(
                    f"HTTP(target) {self.target!r} is not a loopback address; golat only "
                    "drives servers on this machine (127.0.0.1, [::1], localhost)"
                )
        _units.number("HTTP(timeout) (s)", self.timeout, maximum=3600)

    def check_run(self, *, workers: int) -> None:
        if self.connections is not None and self.connections > workers:
            raise ConfigError(
                f"HTTP(connections={self.connections}) > workers={workers}: a worker has one "
                f"request in flight, so at most {workers} connections could be busy; "
                f"use workers={self.connections}"
            )

    @property
    def paths(self) -> tuple[str, ...]:
        """The request paths, in the order requests cycle through them."""
        return (self.path,) if isinstance(self.path, str) else self.path

    def spec(self) -> dict[str, Any]:
        return {
            "kind": self.kind, "paths": list(self.paths), "body_bytes": self.body_bytes,
            "handler": self.handler.spec(), "connections": self.connections or 0,
            "target": self.target or "",
            "timeout_ns": round(self.timeout * 1e9),
        }  # fmt: skip

    def __str__(self) -> str:
        parts = [f"path={';'.join(self.paths)}"]
        if self.body_bytes:
            parts.append(f"body_bytes={self.body_bytes}")
        if not isinstance(self.handler, Noop):
            parts.append(f"handler={self.handler}")
        if self.connections is not None:
            parts.append(f"connections={self.connections}")
        if self.target:
            parts.append(f"target={self.target}")
        return "http:" + ",".join(parts)


_BY_NAME: dict[str, type[Workload]] = {
    "noop": Noop, "spin": Spin, "alloc": Alloc, "pooled_alloc": PooledAlloc, "syscall": Syscall,
    "timer": Timer, "jitter": Jitter, "memchase": MemChase, "http": HTTP,
}  # fmt: skip
_DURATION_FIELDS = {"ns"}  # parsed to ns
_SECONDS_FIELDS = {"interval", "threshold", "timeout"}  # parsed to seconds
_SIZE_FIELDS = {"size", "live_bytes", "bytes", "body_bytes"}
_INT_FIELDS = {"node", "hops"}


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
    ``syscall:pipe``, ``http:path=/,handler=spin:10us,connections=4`` (a handler with several
    parameters separates them with ``;``: ``handler=alloc:size=1KiB;count=16``). Durations
    accept units (``ns`` fields), sizes accept KiB/MiB/GiB.
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
        elif key == "path" and ";" in value:
            kwargs[key] = tuple(value.split(";"))
        elif key == "handler":
            kwargs[key] = parse(value.replace(";", ","))
        elif key == "connections":
            kwargs[key] = _units.parse_size(value, f"{kind}({key})")
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"{kind}: {err}") from err
