"""Workloads the Go core runs for each request.

Each workload is a small frozen dataclass whose parameters are declared once, with their
unit (:mod:`golat._params`). From that declaration come all of its forms, and they
round-trip exactly:

- Python: ``Spin(ns=10_000)``, ``Timer(interval=200e-6)`` (durations in seconds unless the
  name is ``ns`` or ends in ``_ns``; sizes in bytes);
- text, what the command line reads and what golat prints: ``str(w)`` and :func:`parse`,
  ``spin:ns=10us``, ``timer:interval=200us``; ``parse(str(w)) == w``;
- the document the core reads: ``w.spec()`` and :func:`from_spec`;
  ``from_spec(w.spec()) == w``; the core echoes the workload it ran in the same form.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._params import (
    Bytes,
    Choice,
    Int,
    Kind,
    Nanos,
    OrNone,
    Seconds,
    Text,
    split_pairs,
)  # fmt: skip
from .errors import ConfigError

__all__ = [
    "Workload", "Noop", "Spin", "Alloc", "PooledAlloc", "Syscall", "Timer", "Jitter", "MemChase",
    "HTTP", "parse", "from_spec", "kinds",
]  # fmt: skip


def param(kind: Kind, default: Any = dataclasses.MISSING, *, wire: str | None = None) -> Any:
    """Declare a workload parameter: its kind (unit, range) and default; ``wire`` names it in
    the core's document when that name is not the parameter's (plus the kind's suffix)."""
    return field(default=default, metadata={"kind": kind, "wire": wire})


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

    # -- the declaration --------------------------------------------------------------
    @classmethod
    def params(cls) -> list[tuple[str, Kind, str]]:
        """(name, kind, document key) of each parameter, in declaration order."""
        out = []
        for f in dataclasses.fields(cls):
            kind = f.metadata.get("kind")
            if kind is not None:
                out.append((f.name, kind, f.metadata.get("wire") or f.name + kind.wire_suffix))
        return out

    def __post_init__(self) -> None:
        for name, kind, _ in self.params():
            value = kind.check(f"{type(self).__name__}({name})", getattr(self, name))
            object.__setattr__(self, name, value)
        self._check()

    def _check(self) -> None:
        """Checks across parameters (ConfigError); default: none."""

    # -- forms ------------------------------------------------------------------------
    def spec(self) -> dict[str, Any]:
        """The document the Go core decodes: ``{"kind": ..., one key per parameter}``."""
        out: dict[str, Any] = {"kind": self.kind}
        for name, kind, wire in self.params():
            out[wire] = kind.to_doc(getattr(self, name))
        return out

    def __str__(self) -> str:
        """The text form, ``kind:key=value,...`` (every parameter that is not None);
        :func:`parse` reads it back to an equal workload."""
        args = [f"{name}={kind.to_text(getattr(self, name))}" for name, kind, _ in self.params()
                if getattr(self, name) is not None]  # fmt: skip
        return f"{self.kind}:{','.join(args)}" if args else self.kind

    # -- behaviour --------------------------------------------------------------------
    @property
    def wants_thread(self) -> bool:
        """Whether it measures something that needs its own locked OS thread."""
        return False

    def pooled(self) -> Workload:
        """The non-allocating variant of this workload (itself when it does not allocate)."""
        return self

    def check_run(self, *, workers: int) -> None:
        """Refuse run settings this workload cannot honour (ConfigError); default: none."""


@dataclass(frozen=True)
class Noop(Workload):
    """Does nothing: the harness floor (two clock reads and the loop)."""

    kind: ClassVar[str] = "noop"


@dataclass(frozen=True)
class Spin(Workload):
    """Busy-waits ``ns`` nanoseconds of wall time per request."""

    ns: int = param(Nanos(1, 60_000_000_000))
    kind: ClassVar[str] = "spin"


@dataclass(frozen=True)
class Alloc(Workload):
    """Allocates ``count`` buffers of ``size`` bytes per request and keeps ``live_bytes``
    of them alive (split across workers), so the collector has a real heap to mark."""

    size: int = param(Bytes(1, 1 << 30), 1024)
    count: int = param(Int(1, 1 << 20), 16)
    live_bytes: int = param(Bytes(0, 1 << 50), 0)
    kind: ClassVar[str] = "alloc"

    def _check(self) -> None:
        mem = _physical_memory()
        if self.live_bytes > mem // 2:
            raise ConfigError(
                f"{type(self).__name__}(live_bytes={self.live_bytes}) is more than half this "
                f"machine's memory ({mem} bytes); allowed: 0..{mem // 2}"
            )

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

    syscall: str = param(Choice(("getpid", "pipe")), "getpid")
    kind: ClassVar[str] = "syscall"


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

    interval: float = param(Seconds(1_000, 10_000_000_000))
    method: str = param(Choice(("clock_nanosleep", "go")), "clock_nanosleep")
    kind: ClassVar[str] = "timer"
    self_paced: ClassVar[bool] = True

    @property
    def wants_thread(self) -> bool:
        return self.method == "clock_nanosleep"


@dataclass(frozen=True)
class Jitter(Workload):
    """A busy loop that reads the clock back to back and records every gap between two
    reads (ns) in the latency histogram, as oslat does; a long gap is time the thread lost
    to an interrupt, a preemption or the hypervisor. Gaps above ``threshold`` seconds are
    counted (``workers[i].extra["workload"]["over_threshold"]``) and the first 64 kept with
    their offset into the window. Runs for the whole duration; leave ``rate`` unset.
    """

    threshold: float = param(Seconds(1, 60_000_000_000), 10e-6)
    kind: ClassVar[str] = "jitter"
    self_paced: ClassVar[bool] = True

    @property
    def wants_thread(self) -> bool:
        return True


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

    bytes: int = param(Bytes(128, 1 << 40))
    node: int | None = param(OrNone(Int(0, 1022), none_doc=-1), None)
    hops: int = param(Int(1, 1_000_000_000), 1000)
    kind: ClassVar[str] = "memchase"

    def _check(self) -> None:
        mem = _physical_memory()
        if self.bytes > mem // 2:
            raise ConfigError(
                f"MemChase(bytes={self.bytes}) is more than half this machine's memory "
                f"({mem} bytes); allowed: 128..{mem // 2}"
            )


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


class _NestedWorkload(Kind):
    """A workload inside a workload (the HTTP handler); in text its own commas become ``;``."""

    describe = "a workload, e.g. spin:ns=10us (inner commas written as ;)"

    def check(self, label: str, v: Any) -> Workload:
        if not isinstance(v, Workload) or type(v) is Workload:
            raise ConfigError(f"{label} must be a golat workload, got {v!r}")
        if isinstance(v, HTTP):
            raise ConfigError(f"{label} cannot itself be an HTTP workload")
        return v

    def to_text(self, v: Workload) -> str:
        return str(v).replace(",", ";")

    def from_text(self, label: str, text: str) -> Workload:
        return self.check(label, parse(text.replace(";", ",")))

    def to_doc(self, v: Workload) -> dict[str, Any]:
        return v.spec()

    def from_doc(self, label: str, d: Any) -> Workload:
        return self.check(label, from_spec(d))


class _Paths(Kind):
    """One URL path or a tuple of 1..64 (text: separated by ``;``; document: a list)."""

    describe = "a path, or paths separated by ;"

    def check(self, label: str, v: Any) -> str | tuple[str, ...]:
        paths = (v,) if isinstance(v, str) else tuple(v) if isinstance(v, (list, tuple)) else ()
        if not 1 <= len(paths) <= 64:
            raise ConfigError(f"{label} must be one path or 1..64 paths, got {v!r}")
        for p in paths:
            if (
                not isinstance(p, str) or not p.startswith("/") or ";" in p
                or any(c <= " " or c == "\x7f" for c in p)
            ):  # fmt: skip
                raise ConfigError(
                    f"{label} must start with '/' and have no spaces, ';' or control "
                    f"characters, got {p!r}"
                )
        return paths[0] if len(paths) == 1 else paths

    def to_text(self, v: str | tuple[str, ...]) -> str:
        return v if isinstance(v, str) else ";".join(v)

    def from_text(self, label: str, text: str) -> str | tuple[str, ...]:
        return self.check(label, tuple(text.split(";")))

    def to_doc(self, v: str | tuple[str, ...]) -> list[str]:
        return [v] if isinstance(v, str) else list(v)

    def from_doc(self, label: str, d: Any) -> str | tuple[str, ...]:
        if not isinstance(d, list):
            raise ConfigError(f"{label} must be a list of paths, got {d!r}")
        return self.check(label, tuple(d))


_TARGET = Text(r"(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.\-]+):[0-9]{1,5}", "host:port")


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

    path: str | tuple[str, ...] = param(_Paths(), "/", wire="paths")
    body_bytes: int = param(Bytes(0, 64 << 20), 0)
    handler: Workload = param(_NestedWorkload(), Noop())
    connections: int | None = param(OrNone(Int(1, 4096), none_doc=0), None)
    target: str | None = param(OrNone(_TARGET, none_doc=""), None)
    timeout: float = param(Seconds(1, 3_600_000_000_000), 10.0)
    kind: ClassVar[str] = "http"

    def _check(self) -> None:
        if self.target is not None:
            host = self.target.rpartition(":")[0]
            port = int(self.target.rpartition(":")[2])
            if not 1 <= port <= 65535:
                raise ConfigError(f"HTTP(target) port must be in 1..65535, got {self.target!r}")
            if not is_loopback(host):
                raise ConfigError(
                    f"HTTP(target) {self.target!r} is not a loopback address; golat only "
                    "drives servers on this machine (127.0.0.1, [::1], localhost)"
                )

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


_BY_NAME: dict[str, type[Workload]] = {
    cls.kind: cls
    for cls in (Noop, Spin, Alloc, PooledAlloc, Syscall, Timer, Jitter, MemChase, HTTP)
}


def kinds() -> dict[str, type[Workload]]:
    """The workload kinds :func:`parse` and :func:`from_spec` know, by name."""
    return dict(_BY_NAME)


def register(cls: type[Workload]) -> None:
    """Make ``cls`` reachable from :func:`parse`, :func:`from_spec` and the command line."""
    _BY_NAME[cls.kind] = cls


def _class_for(kind: object) -> type[Workload]:
    cls = _BY_NAME.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ConfigError(f"unknown workload {kind!r}; known: {', '.join(sorted(_BY_NAME))}")
    return cls


def from_spec(spec: dict[str, Any]) -> Workload:
    """The workload whose :meth:`Workload.spec` is ``spec`` (strict: an unknown or missing
    key is a ConfigError naming it)."""
    if not isinstance(spec, dict):
        raise ConfigError(f"a workload document must be a JSON object, got {spec!r}")
    cls = _class_for(spec.get("kind"))
    by_wire = {wire: (name, kind) for name, kind, wire in cls.params()}
    unknown = sorted(set(spec) - set(by_wire) - {"kind"})
    if unknown:
        raise ConfigError(f"{cls.kind} workload document: unknown key {unknown[0]!r}; "
                          f"allowed: {', '.join(['kind', *by_wire])}")  # fmt: skip
    kwargs = {}
    for wire, (name, kind) in by_wire.items():
        if wire in spec:
            kwargs[name] = kind.from_doc(f"{cls.kind}.{wire}", spec[wire])
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ConfigError(f"{cls.kind} workload document {spec!r}: {err}") from err


def parse(text: str) -> Workload:
    """Read a workload from its text form ``kind[:key=value,...]``.

    Examples: ``noop``, ``spin:ns=10us`` (or ``spin:10us``: the first parameter may be
    given without its name), ``alloc:size=1KiB,count=16,live_bytes=256MiB``,
    ``syscall:pipe``, ``timer:interval=200us,method=go``,
    ``http:path=/a;/b,handler=alloc:size=1KiB;count=16`` (a nested workload writes its own
    commas as ``;``). Durations take a unit (a bare number is seconds, or ns for ``ns``);
    sizes accept KiB/MiB/GiB. Raises ConfigError naming what is wrong and what is allowed.
    """
    if not isinstance(text, str):
        raise ConfigError(f"a workload text must be a string, got {text!r}")
    name, _, rest = text.strip().partition(":")
    cls = _class_for(name.strip())
    params = {p: kind for p, kind, _ in cls.params()}
    kwargs: dict[str, Any] = {}
    for key, value in split_pairs(rest, name):
        if key is None:
            if not params:
                raise ConfigError(f"{name} takes no parameters, got {rest!r}")
            key = next(iter(params))
        if key not in params:
            allowed = ", ".join(params) or "none"
            raise ConfigError(f"{name}: unknown parameter {key!r}; allowed: {allowed}")
        if key in kwargs:
            raise ConfigError(f"{name}: parameter {key!r} given twice in {text!r}")
        kwargs[key] = params[key].from_text(f"{name}({key})", value)
    try:
        return cls(**kwargs)
    except TypeError as err:
        missing = [p for p in params if p not in kwargs]
        raise ConfigError(f"{name}: missing parameter(s) {', '.join(missing)} in {text!r}; "
                          f"e.g. {EXAMPLES.get(name, name)}") from err  # fmt: skip


EXAMPLES = {
    "noop": "noop", "spin": "spin:ns=10us", "alloc": "alloc:size=1KiB,count=16,live_bytes=256MiB",
    "pooled_alloc": "pooled_alloc:size=1KiB,count=16,live_bytes=256MiB",
    "syscall": "syscall:pipe", "timer": "timer:interval=200us,method=go",
    "jitter": "jitter:threshold=10us", "memchase": "memchase:bytes=256MiB,node=0",
    "http": "http:path=/,handler=spin:ns=10us,connections=4",
}  # fmt: skip
