"""golat.Server and ``golat serve``: golat's loopback HTTP server as a service that wrk,
ghz or any other client can drive, with its request-duration histogram and the Go
runtime's metrics at a Prometheus metrics path.

The server runs in the Go core on its own goroutines; Python only starts, polls and stops
it, so the GIL is not on the request path.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from . import _native, _topology, _units
from ._histogram import Histogram
from ._settings import SERVE, RunSettings
from .errors import ConfigError
from .workloads import HTTP, Noop, Workload, is_loopback

SERVER_CONFIG_VERSION = 1


def server_settings(settings: RunSettings | None, overrides: dict[str, Any]) -> RunSettings:
    """The run settings of a server: ``settings`` with ``overrides``; only those that apply
    to a server (``RunSettings.names(SERVE)``) may differ from their defaults."""
    s = RunSettings.build(settings, overrides, "golat serve")
    extra = sorted(set(s.changed()) - set(RunSettings.names(SERVE)))
    if extra:
        raise ConfigError(f"golat serve: {', '.join(extra)} do not apply to a server; it takes "
                          f"{', '.join(RunSettings.names(SERVE))}")  # fmt: skip
    return s


def server_cpus(cpus: Any) -> tuple[int, ...]:
    """The CPUs a server's threads run on: a list or range as given (checked against the
    CPUs this process may use); ``auto`` and ``node:K`` choose one, as for one worker."""
    if cpus is None:
        return ()
    from . import _threads, _topology

    topo = _topology.topology()
    if isinstance(cpus, str):  # auto, node:K
        return _threads.resolve_cpus(topo, cpus, 1)
    return _topology.check_cpus(topo, cpus)


def tuning_doc(rs: RunSettings) -> dict[str, Any]:
    """The server document's tuning part: GC (a memory limit with the collector off, as a
    run has), the managed controller, CPUs, GOMAXPROCS, locked handler threads, stall."""
    from .runtime import default_memory_limit

    gc_doc = rs.gc_doc(default_memory_limit())
    managed = None
    if rs.gc == "managed":
        # No schedule to read: collect once no request is in flight, waiting up to 100 ms.
        managed = {"threshold_bytes": rs.gc_threshold or 0, "sample_ns": 1_000_000,
                   "min_gap_ns": 1, "max_wait_ns": 100_000_000}  # fmt: skip
    cpus = server_cpus(rs.cpus)
    gomaxprocs = rs.gomaxprocs if rs.gomaxprocs is not None else len(cpus)
    return {
        "gc": gc_doc, "managed_gc": managed, "cpus": list(cpus), "gomaxprocs": gomaxprocs,
        "lock_os_thread": bool(rs.lock_os_thread),
        "stall": rs.stall.spec() if rs.stall else None,
    }  # fmt: skip


def server_config(
    settings: RunSettings | None = None, *, host: str = "127.0.0.1", port: int = 0,
    handler: Workload | None = None, path: str = "/", body_bytes: int = 0,
    allow_remote: bool = False, metrics_path: str = "/metrics", read_header_timeout: float = 5.0,
    idle_timeout: float = 60.0, max_header_bytes: int = 64 << 10, **overrides: Any,
) -> dict[str, Any]:  # fmt: skip
    """Validate server settings and build the versioned server document the core reads.
    ``settings`` / ``overrides``: the run settings that apply to a server (see
    :func:`server_settings`)."""
    rs = server_settings(settings, overrides)
    if not isinstance(host, str) or not host:
        raise ConfigError(f"host must be an address such as 127.0.0.1, got {host!r}")
    host = host.strip("[]")
    if not allow_remote and not is_loopback(host):
        raise ConfigError(
            f"host {host} is not a loopback address; golat serves only 127.0.0.1, ::1 or "
            "localhost unless remote access is allowed explicitly (--allow-remote)"
        )
    _units.number("port", port, strict_min=False, maximum=65535, integer=True)
    handler = Noop() if handler is None else handler
    if not isinstance(handler, Workload) or type(handler) is Workload:
        raise ConfigError(f"the handler must be a golat workload, got {handler!r}")
    if isinstance(handler, HTTP):
        raise ConfigError("the server's handler cannot be an HTTP workload itself")
    for name, p in (("path", path), ("metrics_path", metrics_path)):
        if not isinstance(p, str) or (p and not p.startswith("/")):
            raise ConfigError(f"{name} must start with '/', got {p!r}")
    if path == metrics_path:
        raise ConfigError(f"path and metrics_path are both {path!r}; choose two")
    _units.number("body_bytes", body_bytes, strict_min=False, maximum=64 << 20, integer=True)
    tuning = tuning_doc(rs)
    workers = rs.workers or len(tuning["cpus"]) or os.cpu_count() or 1
    _units.number("read_header_timeout (s)", read_header_timeout, maximum=3600)
    _units.number("idle_timeout (s)", idle_timeout, maximum=3600)
    _units.number("max_header_bytes", max_header_bytes, minimum=1024, strict_min=False,
                  maximum=16 << 20, integer=True)  # fmt: skip
    return {
        "version": SERVER_CONFIG_VERSION, "host": host, "port": int(port),
        "allow_remote": bool(allow_remote), "path": path, "body_bytes": int(body_bytes),
        "handler": handler.spec(), "workers": int(workers), "precision": rs.precision,
        "metrics_path": metrics_path, "read_header_timeout_ns": round(read_header_timeout * 1e9),
        "idle_timeout_ns": round(idle_timeout * 1e9), "max_header_bytes": int(max_header_bytes),
        **tuning,
    }  # fmt: skip


@dataclass
class ServerStats:
    """A snapshot of a server: request-duration histograms (ns, handler entry to body
    written) per status code, connections, and the address."""

    address: str
    by_status: dict[int, Histogram]
    in_flight: int
    connections_total: int
    connections_open: int
    server_errors: int
    uptime_s: float
    raw: dict[str, Any]

    @property
    def requests(self) -> int:
        return sum(h.count for h in self.by_status.values())

    @property
    def duration(self) -> Histogram:
        """Every status's histogram merged."""
        out = Histogram(self.raw["precision"])
        for h in self.by_status.values():
            out.merge(h)
        return out

    @classmethod
    def from_core(cls, d: dict[str, Any]) -> ServerStats:
        prec = d["precision"]
        return cls(
            address=d["addr"],
            by_status={s["status"]: Histogram._from_sparse(s["counts"], prec)
                       for s in d.get("statuses") or []},
            in_flight=d["in_flight"], connections_total=d["connections_total"],
            connections_open=d["connections_open"], server_errors=d["server_errors"],
            uptime_s=d["uptime_ns"] / 1e9, raw=d,
        )  # fmt: skip

    def table(self) -> str:
        """Requests and duration percentiles per status code, aligned."""
        from ._format import table

        rows = []
        for code, h in sorted(self.by_status.items()):
            s = h.percentiles([50, 90, 99, 99.9]) if h.count else [float("nan")] * 4
            rows.append([str(code), f"{h.count:,}", *(_units.format_ns(v) for v in s),
                         _units.format_ns(h.max if h.count else float("nan"))])  # fmt: skip
        return table(["status", "requests", "P50", "P90", "P99", "P99.9", "max"], rows)


class Server:
    """golat's loopback HTTP server, running in the Go core until :meth:`stop`.

    ``Server(handler=Spin(ns=20_000), port=0)`` listens on 127.0.0.1 (``port=0``: the kernel
    picks one; see :attr:`address`). ``path`` answers with the handler's work and
    ``body_bytes`` bytes, ``/status/NNN`` answers NNN after the same work, other paths 404,
    and ``metrics_path`` serves Prometheus text. ``workers`` requests may run the handler at
    once (each has its own workload state); more wait, and the wait is in their duration.
    Slow or broken clients are cut by ``read_header_timeout`` (s) and ``max_header_bytes``.
    A non-loopback ``host`` raises ConfigError unless ``allow_remote=True``. Use as a
    context manager, or call :meth:`stop`.
    """

    def __init__(self, settings: RunSettings | None = None, **options: Any) -> None:
        self.config = server_config(settings, **options)
        self.settings = server_settings(settings, {k: v for k, v in options.items()
                                                   if k in RunSettings.names()})  # fmt: skip
        self._handle: int | None = _native.server_start(self.config)
        self.address: str = self.stats().address
        host, _, port = self.address.rpartition(":")
        self.host, self.port = host.strip("[]"), int(port)

    def tuning_text(self) -> str:
        """One line: the settings the server runs with (``str`` of its run settings) and
        the GOMAXPROCS, CPUs and handler threads in force."""
        raw = self.stats().raw
        cpus = _topology.format_cpulist(raw["cpus"]) if raw["cpus"] else "any"
        threads = "locked threads" if raw["lock_os_thread"] else "net/http's goroutines"
        from ._format import plural

        return (
            f"{plural(self.config['workers'], 'handler worker')} on {threads}, GOMAXPROCS "
            f"{raw['gomaxprocs']}, CPUs {cpus}, settings: {str(self.settings) or 'defaults'}"
        )

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def _live(self) -> int:
        if self._handle is None:
            raise ConfigError("this server was stopped")
        return self._handle

    def stats(self) -> ServerStats:
        """A snapshot of the server's histograms and counters."""
        return ServerStats.from_core(_native.server_stats(self._live()))

    def metrics_text(self) -> str:
        """The Prometheus text page the metrics path serves."""
        return _native.server_metrics(self._live())

    def stop(self) -> ServerStats:
        """Stop accepting, let requests in flight finish (up to 2 s), close everything and
        return the final stats. Stopping twice returns the same stats."""
        if self._handle is not None:
            self._final = self.stats()
            handle, self._handle = self._handle, None
            _native.server_stop(handle)
        return self._final

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __del__(self) -> None:  # a forgotten server must not keep its port
        try:
            if getattr(self, "_handle", None) is not None:
                self.stop()
        except Exception:  # noqa: S110 - interpreter shutdown: nothing left to report to
            pass
