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
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ._params import (
    Bytes,
    Choice,
    Flag,
    Float,
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


def param(kind: Kind, default: Any = dataclasses.MISSING, *, wire: str | None = None,
          quiet: bool = False, flag: bool = False) -> Any:  # fmt: skip
    """Declare a workload parameter: its kind (unit, range) and default; ``wire`` names it in
    the core's document when that name is not the parameter's (plus the kind's suffix);
    ``quiet``: left out of the text form while it has its default (a parameter added to a
    kind later, so the text golat printed before stays the same); ``flag``: ``golat run``
    and ``golat compare`` also take it as a flag (``--connections 1000``), applied to a
    workload that has it."""
    return field(default=default, metadata={"kind": kind, "wire": wire, "quiet": quiet,
                                            "flag": flag})  # fmt: skip


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
        """The text form, ``kind:key=value,...`` (every parameter that is not None, nor a
        quiet one at its default); :func:`parse` reads it back to an equal workload."""
        quiet = {f.name: f.default for f in dataclasses.fields(self) if f.metadata.get("quiet")}
        args = [f"{name}={kind.to_text(v)}" for name, kind, _ in self.params()
                if (v := getattr(self, name)) is not None
                and not (name in quiet and v == quiet[name])]  # fmt: skip
        return f"{self.kind}:{','.join(args)}" if args else self.kind

    # -- behaviour --------------------------------------------------------------------
    @property
    def wants_thread(self) -> bool:
        """Whether it measures something that needs its own locked OS thread."""
        return False

    def pooled(self) -> Workload:
        """The non-allocating variant of this workload (itself when it does not allocate)."""
        return self

    def check_run(self, *, workers: int, settings: Any = None) -> None:
        """Refuse run settings this workload cannot honour (ConfigError); default: none.
        ``settings``: the run's :class:`golat.RunSettings`."""


@dataclass(frozen=True)
class Noop(Workload):
    """Does nothing: the harness floor (two clock reads and the loop)."""

    kind: ClassVar[str] = "noop"


@dataclass(frozen=True)
class Spin(Workload):
    """Busy-waits a service time of wall time per request: ``ns`` nanoseconds each time
    (``dist="const"``), or drawn with mean ``ns`` from an exponential (``"exp"``) or a
    lognormal distribution (``"lognormal"``, ``sigma`` the standard deviation of its log),
    each worker from its own generator seeded with ``seed``: with Poisson arrivals and
    ``dist="exp"`` a run is an M/M/1 queue, whose mean latency is E[S] / (1 - ρ)."""

    ns: int = param(Nanos(1, 60_000_000_000))
    dist: str = param(Choice(("const", "exp", "lognormal")), "const", quiet=True)
    sigma: float = param(Float(0.01, 4.0), 1.0, quiet=True)
    seed: int = param(Int(0, (1 << 64) - 1), 0, quiet=True)
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
    per worker (``extra["placement"]``). ns per load = service time / hops. The cycle's
    order is drawn from ``seed`` and the worker's index, so a run can be repeated exactly.
    """

    bytes: int = param(Bytes(128, 1 << 40))
    node: int | None = param(OrNone(Int(0, 1022), none_doc=-1), None)
    hops: int = param(Int(1, 1_000_000_000), 1000)
    seed: int = param(Int(), 0)
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


def _escape(text: str, chars: str = "%;,") -> str:
    """Percent-escape ``chars`` (and controls, spaces at the ends) for the text form."""
    out = []
    for i, c in enumerate(text):
        edge = c == " " and (i == 0 or i == len(text) - 1)
        out.append(f"%{ord(c):02X}" if c in chars or ord(c) < 0x20 or edge else c)
    return "".join(out)


def _unescape(text: str, label: str) -> str:
    from urllib.parse import unquote

    if re.search(r"%(?![0-9A-Fa-f]{2})", text):
        raise ConfigError(f"{label}: a % must start an escape like %3B, in {text!r}")
    return unquote(text, errors="strict")


class _Seq(Kind):
    """One item or a tuple of 1..64 (text: separated by ``;``; document: a list). The
    item's own ``;`` and ``,`` are percent-escaped in text."""

    noun = "item"
    escaped = True

    def item(self, label: str, v: Any) -> str:
        raise NotImplementedError

    def check(self, label: str, v: Any) -> Any:
        items = (v,) if isinstance(v, str) else tuple(v) if isinstance(v, (list, tuple)) else ()
        if not 1 <= len(items) <= 64:
            raise ConfigError(f"{label} must be one {self.noun} or 1..64 {self.noun}s, got {v!r}")
        items = tuple(self.item(label, x) for x in items)
        self.across(label, items)
        return items[0] if len(items) == 1 else items

    def across(self, label: str, items: tuple[str, ...]) -> None:
        """Checks across the items (ConfigError)."""

    def to_text(self, v: Any) -> str:
        items = (v,) if isinstance(v, str) else v
        return ";".join(_escape(x) if self.escaped else x for x in items)

    def from_text(self, label: str, text: str) -> Any:
        parts = text.split(";")
        return self.check(label, tuple(_unescape(p, label) if self.escaped else p for p in parts))

    def to_doc(self, v: Any) -> list[str]:
        return [v] if isinstance(v, str) else list(v)

    def from_doc(self, label: str, d: Any) -> Any:
        if not isinstance(d, list):
            raise ConfigError(f"{label} must be a list, got {d!r}")
        return self.check(label, tuple(d))


def _check_path(label: str, p: str) -> str:
    if not isinstance(p, str) or not p.startswith("/") or any(c <= " " or c == "\x7f" for c in p):
        raise ConfigError(f"{label}: a path must start with '/' and have no spaces or control "
                          f"characters, got {p!r}")  # fmt: skip
    if _BAD_ESCAPE.search(p):
        raise ConfigError(f"{label}: a '%' in a path starts an escape of two hex digits "
                          f"(write '%' itself as %25), got {p!r}")  # fmt: skip
    return p


_BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


class _URLs(_Seq):
    """Where requests go: absolute ``http://`` / ``https://`` URLs of one origin (later ones
    may be paths on the first's origin), or paths only, for the in-process server."""

    noun = "url"
    escaped = False
    describe = "a URL or a path, or several separated by ;"

    def item(self, label: str, u: Any) -> str:
        if not isinstance(u, str) or ";" in u or "," in u:
            raise ConfigError(f"{label}: {u!r} must be a URL or path without ';' or ',' (write "
                              "them as %3B and %2C)")  # fmt: skip
        if u.startswith("/"):
            return _check_path(label, u)
        from urllib.parse import urlsplit

        try:
            p = urlsplit(u)
            p.port  # noqa: B018 - raises ValueError for a bad port
        except ValueError as err:
            raise ConfigError(f"{label}: cannot read {u!r} as a URL: {err}") from None
        if p.scheme not in ("http", "https") or not p.hostname or p.username or p.fragment:
            raise ConfigError(f"{label} must be http://host[:port]/path or https://..., or a "
                              f"path, got {u!r}")  # fmt: skip
        if p.port == 0:
            raise ConfigError(f"{label}: port must be 1..65535, got {u!r}")
        _check_path(label, (p.path or "/") + (f"?{p.query}" if p.query else ""))
        return u

    def across(self, label: str, items: tuple[str, ...]) -> None:
        from urllib.parse import urlsplit

        if items[0].startswith("/"):
            if any(not u.startswith("/") for u in items):
                raise ConfigError(f"{label}: paths for the in-process server, or a URL first; got "
                                  f"{items!r}")  # fmt: skip
            return
        first = urlsplit(items[0])
        for u in items[1:]:
            p = urlsplit(u)
            if not u.startswith("/") and (p.scheme, p.netloc) != (first.scheme, first.netloc):
                raise ConfigError(f"{label}: every URL must have the first's scheme and host:port "
                                  f"({first.scheme}://{first.netloc}), got {u!r}")  # fmt: skip


class _Headers(Kind):
    """Request headers, ``"Name: value"`` each (text: separated by ``;``, with ``;``, ``,``
    and ``%`` in values percent-escaped)."""

    describe = "headers 'Name: value', separated by ;"

    def check(self, label: str, v: Any) -> tuple[str, ...]:
        items = (v,) if isinstance(v, str) else tuple(v) if isinstance(v, (list, tuple)) else None
        if items is None or len(items) > 64:
            raise ConfigError(f"{label} must be 'Name: value' strings (at most 64), got {v!r}")
        out = []
        for h in items:
            name, sep, value = h.partition(":") if isinstance(h, str) else ("", "", "")
            value = value.strip(" \t")
            if not sep or not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
                raise ConfigError(f"{label}: a header must be 'Name: value' with a token name, "
                                  f"got {h!r}")  # fmt: skip
            if any((c < " " and c != "\t") or c == "\x7f" for c in value):
                raise ConfigError(f"{label}: header {h!r} has a control character")
            if name.lower() in ("content-length", "transfer-encoding"):
                raise ConfigError(f"{label}: {name} is set by golat from the body")
            out.append(f"{name}: {value}")
        return tuple(out)

    def to_text(self, v: tuple[str, ...]) -> str:
        return ";".join(_escape(h) for h in v)

    def from_text(self, label: str, text: str) -> tuple[str, ...]:
        if not text.strip():
            return ()
        return self.check(label, tuple(_unescape(h, label) for h in text.split(";")))

    def to_doc(self, v: tuple[str, ...]) -> list[str]:
        return list(v)

    def from_doc(self, label: str, d: Any) -> tuple[str, ...]:
        if not isinstance(d, list):
            raise ConfigError(f"{label} must be a list of 'Name: value', got {d!r}")
        return self.check(label, tuple(d))


class _Weights(Kind):
    """None (requests cycle through the URLs) or one weight >= 0 per URL (text: ``3;1``)."""

    describe = "weights separated by ; (one per URL), or none"
    _one = Float(0.0, 1e9)

    def check(self, label: str, v: Any) -> tuple[float, ...] | None:
        if v is None:
            return None
        if not isinstance(v, (list, tuple)) or not 1 <= len(v) <= 64:
            raise ConfigError(f"{label} must be None or 1..64 numbers >= 0, got {v!r}")
        out = tuple(self._one.check(label, x) for x in v)
        if sum(out) <= 0:
            raise ConfigError(f"{label} must not all be 0, got {v!r}")
        return out

    def to_text(self, v: tuple[float, ...] | None) -> str:
        return "none" if v is None else ";".join(self._one.to_text(x) for x in v)

    def from_text(self, label: str, text: str) -> tuple[float, ...] | None:
        if text.strip().lower() in ("none", ""):
            return None
        return self.check(label, tuple(self._one.from_text(label, x) for x in text.split(";")))

    def to_doc(self, v: tuple[float, ...] | None) -> list[float]:
        return [] if v is None else list(v)

    def from_doc(self, label: str, d: Any) -> tuple[float, ...] | None:
        if not isinstance(d, list):
            raise ConfigError(f"{label} must be a list of numbers, got {d!r}")
        return self.check(label, tuple(d)) if d else None


_BODY_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                       b"-_.~:/?#[]@!$&'()*+={}\"<>^`|\\")  # fmt: skip


class _Body(Kind):
    """Request body bytes, or None; text: percent-escaped bytes (``{"a":1}`` is
    ``{"a":1}``, a space %20); document: base64 (Go's []byte)."""

    describe = "bytes (text percent-escaped), or none"

    def check(self, label: str, v: Any) -> bytes | None:
        if v is None:
            return None
        if isinstance(v, str):
            v = v.encode()
        if not isinstance(v, (bytes, bytearray)) or len(v) > 64 << 20:
            raise ConfigError(f"{label} must be bytes (at most 64 MiB) or None, got {v!r:.80}")
        return bytes(v)

    def to_text(self, v: bytes | None) -> str:
        if v is None:
            return "none"
        return "".join(chr(b) if b in _BODY_SAFE else f"%{b:02X}" for b in v)

    def from_text(self, label: str, text: str) -> bytes | None:
        from urllib.parse import unquote_to_bytes

        if text.strip().lower() == "none":
            return None
        if re.search(r"%(?![0-9A-Fa-f]{2})", text):
            raise ConfigError(f"{label}: a % must start an escape like %20, in {text!r:.80}")
        return self.check(label, unquote_to_bytes(text))

    def to_doc(self, v: bytes | None) -> str | None:
        import base64

        return None if v is None else base64.b64encode(v).decode()

    def from_doc(self, label: str, d: Any) -> bytes | None:
        import base64
        import binascii

        if d is None:
            return None
        try:
            return self.check(label, base64.b64decode(d, validate=True))
        except (binascii.Error, TypeError, ValueError):
            raise ConfigError(f"{label} must be base64 text or null, got {d!r:.80}") from None


class _File(Kind):
    """A readable file's path, or None (document: "" for None)."""

    describe = "a file's path, or none"

    def check(self, label: str, v: Any) -> str | None:
        if v is None:
            return None
        if not isinstance(v, str) or not v or "," in v or ";" in v:
            raise ConfigError(f"{label} must be a file's path (without ',' or ';'), got {v!r}")
        if not os.path.isfile(v) or not os.access(v, os.R_OK):
            raise ConfigError(f"{label}: {v!r} is not a readable file")
        return v

    def to_text(self, v: str | None) -> str:
        return "none" if v is None else v

    def from_text(self, label: str, text: str) -> str | None:
        return None if text.strip().lower() in ("none", "") else self.check(label, text.strip())

    def to_doc(self, v: str | None) -> str:
        return v or ""

    def from_doc(self, label: str, d: Any) -> str | None:
        return None if d == "" else self.check(label, d)


HTTP_ENGINES = ("auto", "blocking", "epoll", "netpoll")


@dataclass(frozen=True)
class HTTP(Workload):
    """HTTP/1.1 requests over keep-alive connections with wrk2's model of concurrency: to
    any HTTP server (``url``), or to a ``net/http`` server golat starts in-process on
    127.0.0.1 for the run (``url`` a path or paths; its handler runs ``handler`` and
    answers ``body_bytes`` bytes, status 200 except on ``/status/NNN``, which answers NNN).

    - ``url``: one URL or several (one origin; later ones may be paths on it:
      ``("http://127.0.0.1:8080/a", "/b")``), taken in turn by each connection or drawn
      with ``weights`` (one per URL, seeded by the run's seed). A host that is not
      loopback (127.0.0.0/8, ::1, localhost; no name is resolved to decide) is refused
      unless ``allow_remote=True``. ``https://`` goes through Go's crypto/tls, the
      handshake done when the connection opens (before the measured window); ``ca_file``:
      trust the CAs in this PEM file instead of the system's.
    - ``method``, ``headers`` (``"Name: value"`` strings), ``body`` (bytes) or
      ``body_file`` (read when the run starts); Content-Length is golat's.
    - ``connections`` (default: one per worker) are split among the run's workers; each
      has its own schedule at rate/connections and one request in flight. A request whose
      intended start comes while its connection is busy waits (the wait is in its
      latency) and is counted as queued, per connection (``workload_info["queued"]``):
      many queued requests mean the run needed more connections. ``engine``: ``blocking``
      (one connection per worker, the thread sleeps in read(2)), ``epoll`` (an event loop
      per worker: threads do not grow with connections), ``netpoll`` (a goroutine per
      connection on Go's poller, for comparison), ``auto`` (blocking when connections
      equal workers, else epoll).
    - ``timeout`` (s) bounds each request, connecting included.

    Latency is from each request's intended start; the result splits it by URL and status
    (:meth:`golat.Result.by_class`: ``"200 GET /"``; a request with no response is
    ``"error KIND GET /"``, KIND one of refused, reset, timeout, closed, malformed, tls,
    other, and counts as status 0 in :meth:`golat.Result.by_status`).
    """

    url: str | tuple[str, ...] = param(_URLs(), "/", wire="urls")
    weights: tuple[float, ...] | None = param(_Weights(), None)
    method: str = param(Text(r"[A-Z][A-Z0-9_-]{0,19}", "an upper-case method like GET or POST"),
                        "GET", quiet=True)  # fmt: skip
    headers: tuple[str, ...] = param(_Headers(), (), quiet=True)
    body: bytes | None = param(_Body(), None)
    body_file: str | None = param(_File(), None)
    body_bytes: int = param(Bytes(0, 64 << 20), 0, quiet=True)
    handler: Workload = param(_NestedWorkload(), Noop(), quiet=True)
    connections: int | None = param(OrNone(Int(1, 100_000), none_doc=0), None, flag=True)
    engine: str = param(Choice(HTTP_ENGINES), "auto", quiet=True)
    ca_file: str | None = param(_File(), None)
    allow_remote: bool = param(Flag(), False, quiet=True, flag=True)
    timeout: float = param(Seconds(1, 3_600_000_000_000), 10.0, quiet=True)
    kind: ClassVar[str] = "http"

    def _check(self) -> None:
        from urllib.parse import urlsplit

        if self.weights is not None and len(self.weights) != len(self.urls):
            raise ConfigError(f"HTTP(weights) needs one weight per URL ({len(self.urls)}), got "
                              f"{len(self.weights)}")  # fmt: skip
        if self.body is not None and self.body_file is not None:
            raise ConfigError("HTTP: give body or body_file, not both")
        first = self.urls[0]
        if first.startswith("/"):
            if self.ca_file or self.allow_remote:
                raise ConfigError("HTTP(ca_file, allow_remote) are for a url "
                                  "(http://host:port/...), not the in-process server")  # fmt: skip
            return
        if self.handler != Noop() or self.body_bytes:
            raise ConfigError("HTTP(handler, body_bytes) configure the in-process server; with "
                              f"url={first!r} the server is yours: leave them unset")  # fmt: skip
        p = urlsplit(first)
        if p.scheme == "http" and self.ca_file:
            raise ConfigError(f"HTTP(ca_file) is for https URLs, got {first!r}")
        if not self.allow_remote and not is_loopback(p.hostname or ""):
            raise ConfigError(
                f"HTTP(url) host {p.hostname!r} is not a loopback address; golat drives only "
                "servers on this machine (127.0.0.1, [::1], localhost) unless allowed: "
                "allow_remote=True (--allow-remote)"
            )

    def check_run(self, *, workers: int, settings: Any = None) -> None:
        n = self.connections or workers
        if n < workers:
            raise ConfigError(
                f"HTTP(connections={n}) < workers={workers}: each worker drives connections of "
                f"its own; use workers <= {n}"
            )
        if self.engine == "blocking" and n != workers:
            raise ConfigError(
                f"HTTP(engine='blocking') has one connection per worker: connections={n} needs "
                f"workers={n} (or engine='epoll')"
            )
        if settings is not None and settings.stall is not None and self.engine == "netpoll":
            raise ConfigError("stall pauses the worker's thread; the netpoll engine's "
                              "connections run on goroutines of their own: use another "
                              "engine")  # fmt: skip

    @property
    def urls(self) -> tuple[str, ...]:
        """The request URLs (or paths), in the order connections take them."""
        return (self.url,) if isinstance(self.url, str) else self.url

    @property
    def in_process(self) -> bool:
        """Whether the requests go to a server golat starts for the run."""
        return self.urls[0].startswith("/")


_BY_NAME: dict[str, type[Workload]] = {
    cls.kind: cls
    for cls in (Noop, Spin, Alloc, PooledAlloc, Syscall, Timer, Jitter, MemChase, HTTP)
}


def flagged() -> dict[str, tuple[Kind, list[str]]]:
    """The parameters declared with ``flag=True``: name -> (kind, the workload kinds that
    have it). ``golat run`` / ``golat compare`` give each a flag."""
    out: dict[str, tuple[Kind, list[str]]] = {}
    for cls in _BY_NAME.values():
        for f in dataclasses.fields(cls):
            if f.metadata.get("flag"):
                out.setdefault(f.name, (f.metadata["kind"], []))[1].append(cls.kind)
    return out


def with_flags(w: Workload, values: dict[str, Any]) -> Workload:
    """``w`` with flagged parameters set (ConfigError when ``w`` has no such parameter)."""
    names = {name for name, _, _ in w.params()}
    for name in values:
        if name not in names:
            kinds_ = flagged().get(name, (None, []))[1]
            raise ConfigError(f"--{name.replace('_', '-')} is a parameter of the "
                              f"{', '.join(kinds_) or '?'} workload, not of {w.kind}")  # fmt: skip
    return dataclasses.replace(w, **values) if values else w


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
    "http": "http:url=http://127.0.0.1:8080/,connections=100",
}  # fmt: skip
