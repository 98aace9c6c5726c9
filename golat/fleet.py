"""golat.fleet: one run over many hosts, on a Dask distributed cluster (``golat[fleet]``).

:func:`run` splits the total rate across the chosen Dask workers. Each worker starts a fresh
golat process (``python -m golat._fleet_child``: a new interpreter, one Go runtime), which
validates the settings and loads the core, then says it is ready. Once every host is ready
(or reported failed), the client picks one wall-clock start instant a little ahead and sends
it to every host, corrected by that host's measured clock offset; each core starts its first
request exactly then. The hosts' results come back as golat result JSON (histograms
included) and are merged losslessly (:func:`golat.merge`), one input per host.

A host that fails, or whose Dask worker disconnects, is named in ``extra["fleet"]`` and in a
:class:`~golat.errors.FleetWarning`, with the share of the planned load that is missing; the
merge holds the hosts that reported. Nothing is dropped silently.

Every host needs the same golat (with ``golat[fleet]``) installed as the client; the client
needs only ``distributed``. Wall clocks must be in sync (NTP) for the start instant to mean the
same moment everywhere; the measured offsets are recorded and corrected for.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import _units
from ._ramp import RateKind
from ._result import Result
from ._settings import RunSettings
from ._version import __version__
from .errors import ConfigError, FleetError, FleetWarning, Unsupported
from .workloads import Workload

__all__ = ["run", "compare", "encode_job", "decode_job", "FleetComparison"]

READY_TIMEOUT_S = 60.0  # spawn, import golat, load the core
START_MARGIN_S = 0.1  # from sending the start instant to it: covers the message's trip
GRACE_S = 60.0  # past the planned end before a host is given up as timed out
POLL_S = 0.2  # how often the client checks its hosts (Ctrl-C and disconnects)


# -- the job a host runs ------------------------------------------------------------------
def encode_job(workload: Workload, settings: RunSettings) -> dict[str, Any]:
    """The document a fleet host's process reads: the workload's document form and the
    settings' JSON form (:meth:`golat.RunSettings.to_dict`)."""
    return {"workload": workload.spec(), "settings": settings.to_dict()}


def decode_job(job: Any) -> tuple[Workload, RunSettings]:
    """Read :func:`encode_job`'s document, strictly; ConfigError names what is wrong."""
    from . import workloads

    if not isinstance(job, dict) or set(job) != {"workload", "settings"}:
        keys = sorted(job) if isinstance(job, dict) else type(job).__name__
        raise ConfigError(f"a fleet job has exactly the keys ['settings', 'workload'], got {keys}")
    return workloads.from_spec(job["workload"]), RunSettings.from_dict(job["settings"])


# -- on a Dask worker ---------------------------------------------------------------------
def _child_env() -> dict[str, str]:
    """The child imports this very golat, wherever the Dask worker imported it from."""
    env = dict(os.environ)
    here = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [here, env.get("PYTHONPATH", "")]))
    return env


def _host_task(
    job: dict[str, Any], run_id: str, ready_timeout: float, run_timeout: float
) -> dict[str, Any]:
    """Runs on a Dask worker: one fresh golat process through the ready / start / result
    protocol of :mod:`golat._fleet_child`. Returns ``{"result": ...}`` or ``{"error": ...}``
    with this host's facts."""
    import socket

    from distributed import Event, Queue, Variable, get_worker

    me = get_worker().address
    facts = {"address": me, "hostname": socket.gethostname()}
    ready_q = Queue(f"golat-fleet-ready-{run_id}")
    stop = Event(f"golat-fleet-stop-{run_id}")
    with tempfile.TemporaryDirectory(prefix="golat-fleet-") as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "golat._fleet_child"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=tmp,
            env=_child_env(),
        )
        lines: queue.Queue[str] = queue.Queue()
        err_tail: list[str] = []
        threading.Thread(target=_pump, args=(proc.stdout, lines.put), daemon=True).start()
        threading.Thread(target=_pump, args=(proc.stderr, err_tail.append), daemon=True).start()

        def ended(what: str) -> dict[str, Any]:
            proc.wait()
            tail = "".join(err_tail[-5:]).strip()
            return {
                "error": f"the golat process {what} (exit status {proc.returncode})"
                + (f": {tail}" if tail else ""),
                **facts,
            }

        try:
            proc.stdin.write(json.dumps(job) + "\n")
            proc.stdin.flush()
            msg = _next_doc(lines, proc, ready_timeout)
            if msg is None:
                ready_q.put({"address": me, "error": "no ready message"})
                return ended("did not become ready")
            ready_q.put({"address": me, **msg})
            if "error" in msg:
                return {**msg, **facts}
            go = Variable(f"golat-fleet-start-{run_id}").get(timeout=ready_timeout)
            if "abort" in go:
                proc.stdin.write(json.dumps({"abort": go["abort"]}) + "\n")
                proc.stdin.flush()
                return {"error": f"aborted: {go['abort']}", **facts}
            at = int(go["start_at_unix_ns"]) + int(go["offsets"].get(me, 0))
            proc.stdin.write(json.dumps({"start_at_unix_ns": at}) + "\n")
            proc.stdin.flush()
            deadline = time.monotonic() + run_timeout
            while True:
                try:
                    doc = json.loads(lines.get(timeout=POLL_S))
                    return {**doc, **facts}
                except queue.Empty:
                    pass
                if proc.poll() is not None and lines.empty():
                    return ended("ended without a result")
                if stop.is_set() or time.monotonic() > deadline:
                    proc.send_signal(2)  # SIGINT: the child stops its run cleanly
                    try:
                        doc = json.loads(lines.get(timeout=10))
                        return {**doc, **facts}
                    except queue.Empty:
                        return ended("was stopped")
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()


def _pump(stream: Any, put: Any) -> None:
    for line in stream:
        put(line)


def _next_doc(lines: queue.Queue[str], proc: subprocess.Popen, timeout: float) -> Any:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            return json.loads(lines.get(timeout=POLL_S))
        except queue.Empty:
            if proc.poll() is not None and lines.empty():
                return None
    return None


# -- on the client ------------------------------------------------------------------------
@dataclass
class _Host:
    address: str
    name: str
    share: float
    settings: RunSettings
    status: str = "planned"  # ready, ok, failed, disconnected, timed out
    error: str | None = None
    hostname: str | None = None
    clock_offset_ns: int = 0
    clock_rtt_ns: int = 0
    ready_unix_ns: int | None = None
    result: Result | None = None

    def facts(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "address": self.address,
            "hostname": self.hostname,
            "share": self.share,
            "rate": RateKind().to_json(self.settings.rate),
            "requests": self.settings.requests,
            "status": self.status,
            "error": self.error,
            "clock_offset_ns": self.clock_offset_ns,
            "clock_rtt_ns": self.clock_rtt_ns,
            "ready_unix_ns": self.ready_unix_ns,
        }


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as err:
        raise Unsupported("fleet runs need Dask distributed: pip install 'golat[fleet]'") from err
    return distributed


def _connect(client: Any, scheduler: str | None) -> tuple[Any, bool]:
    distributed = _distributed()
    if client is not None:
        if scheduler is not None:
            raise ConfigError("give client= or scheduler=, not both")
        return client, False
    if not isinstance(scheduler, str) or not scheduler:
        raise ConfigError(
            "a fleet needs client=distributed.Client(...) or scheduler='tcp://HOST:PORT'"
        )
    try:
        return distributed.Client(scheduler, timeout=10), True
    except OSError as err:
        raise ConfigError(f"cannot reach the Dask scheduler at {scheduler}: {err}") from err


def _pick_workers(client: Any, hosts: Sequence[str] | None) -> list[tuple[str, str]]:
    """(address, name) of the Dask workers to use: all, or those named / addressed."""
    info = _workers_info(client)
    avail = [(addr, str(w.get("name", addr))) for addr, w in sorted(info.items())]
    if not avail:
        raise ConfigError("the Dask cluster has no workers")
    if hosts is None:
        return avail
    picked = []
    for h in hosts:
        match = [a for a in avail if h in a]
        if not match:
            known = ", ".join(f"{n} ({a})" for a, n in avail)
            raise ConfigError(f"no Dask worker named or at {h!r}; workers: {known}")
        picked.append(match[0])
    return picked


def _workers_info(client: Any) -> dict[str, Any]:
    """The scheduler's workers, asked now (Client.scheduler_info() returns a cache that a
    periodic refresh may have emptied of workers)."""
    return client.sync(client.scheduler.identity, n_workers=-1)["workers"]


def _alive(client: Any) -> set[str]:
    return set(_workers_info(client))


def _clock_offsets(client: Any, hosts: list[_Host], samples: int = 3) -> None:
    """Each host's wall clock minus ours (ns), from the round trip with the smallest delay."""
    best: dict[str, tuple[int, int]] = {}
    addrs = [h.address for h in hosts]
    for _ in range(samples):
        t0 = time.time_ns()
        remote = client.run(time.time_ns, workers=addrs, on_error="return")
        t1 = time.time_ns()
        for addr, v in remote.items():
            if isinstance(v, int) and (addr not in best or t1 - t0 < best[addr][1]):
                best[addr] = (v - (t0 + t1) // 2, t1 - t0)
    for h in hosts:
        h.clock_offset_ns, h.clock_rtt_ns = best.get(h.address, (0, 0))


def _split(total: int, n: int) -> list[int]:
    return [total // n + (1 if i < total % n else 0) for i in range(n)]


def run(
    workload: Workload,
    settings: RunSettings | None = None,
    *,
    client: Any = None,
    scheduler: str | None = None,
    hosts: Sequence[str] | None = None,
    start_margin: float = START_MARGIN_S,
    ready_timeout: float = READY_TIMEOUT_S,
    **overrides: Any,
) -> Result:
    """Run ``workload`` on every chosen Dask worker at once, and merge their results.

    Args:
        workload: a :mod:`golat.workloads` workload.
        settings: a :class:`golat.RunSettings`; keyword ``overrides`` change it, as for
            :func:`golat.run`. ``rate`` is the total: each host gets an equal share (None:
            closed loop on each); ``requests`` is split too; the other settings (duration,
            warmup, workers, gc, precision, timeline ...) apply on every host.
        client: a ``distributed.Client``; or ``scheduler`` (``"tcp://HOST:8786"``) to
            connect to (and disconnect from at the end).
        hosts: Dask worker names or addresses to use (default: every worker).
        start_margin: seconds between sending the start instant and the first request.
        ready_timeout: seconds a host may take to start its golat process and load the core.

    Returns:
        The merged :class:`golat.Result`, one input per host that reported (labelled with
        its Dask worker's name). ``extra["fleet"]``: each host's name, address, share of the
        load, status, error, clock offset; ``missing_share`` (0.0 when every host reported),
        ``start_at_unix_ns`` (the agreed first request, client clock) and ``startup_s``
        (from this call to that instant).

    Raises:
        ConfigError: bad arguments, no such worker, or a host refused the settings.
        Unsupported: ``distributed`` is not installed.
        FleetError: no host returned a result (each host and its error are named).

    Warns:
        FleetWarning: some hosts failed or disconnected (named, with the missing share).
    """
    called = time.time_ns()
    from ._run import check_workload

    check_workload(workload)
    base = RunSettings.build(settings, overrides, "golat.fleet.run")
    _units.number("start_margin (s)", start_margin, strict_min=False, maximum=60)
    _units.number("ready_timeout (s)", ready_timeout, maximum=3600)
    distributed = _distributed()
    client, own = _connect(client, scheduler)
    run_id = uuid.uuid4().hex[:12]
    futures: list[Any] = []
    sent = False  # the start instant (or an abort) went to the hosts
    try:
        chosen = _pick_workers(client, hosts)
        n = len(chosen)
        reqs = _split(base.requests, n) if base.requests is not None else [None] * n
        if base.requests is not None and min(reqs) < 1:
            raise ConfigError(f"requests={base.requests} cannot be split across {n} hosts")
        rate = base.rate / n if base.rate is not None else None  # a number or a golat.Ramp
        fleet = [
            _Host(addr, name, 1.0 / n, base.replace(rate=rate, requests=req))
            for (addr, name), req in zip(chosen, reqs)
        ]
        _clock_offsets(client, fleet)
        planned = (base.planned_duration or 3600.0) + base.warmup
        futures = [
            client.submit(
                _host_task,
                encode_job(workload, h.settings),
                run_id,
                ready_timeout,
                planned + GRACE_S,
                workers=[h.address],
                allow_other_workers=False,
                pure=False,
                retries=0,
                key=f"golat-fleet-{run_id}-{i}",
            )
            for i, h in enumerate(fleet)
        ]
        _await_ready(client, distributed, fleet, futures, run_id, ready_timeout)
        start_at = time.time_ns() + round(start_margin * 1e9)
        ready = [h for h in fleet if h.status == "ready"]
        go = {
            "start_at_unix_ns": start_at,
            "offsets": {h.address: h.clock_offset_ns for h in fleet},
        }
        if not ready:
            go = {"abort": "no host became ready"}
        distributed.Variable(f"golat-fleet-start-{run_id}", client=client).set(go)
        sent = True
        if ready:
            _collect(
                client,
                distributed,
                fleet,
                futures,
                run_id,
                deadline=time.monotonic() + start_margin + planned + GRACE_S,
            )
    except BaseException:
        # Ctrl-C, or a host refused the settings: every host stops now, whether it waits
        # for the start instant or runs.
        if futures and not sent:
            distributed.Variable(f"golat-fleet-start-{run_id}", client=client).set(
                {"abort": "the fleet run was stopped before its start"}
            )
        distributed.Event(f"golat-fleet-stop-{run_id}", client=client).set()
        raise
    finally:
        for f in futures:
            if not f.done():
                f.cancel()
        if own:
            client.close()
    return _fleet_result(fleet, called, start_at if ready else None)


def _await_ready(
    client: Any,
    distributed: Any,
    fleet: list[_Host],
    futures: list[Any],
    run_id: str,
    timeout: float,
) -> None:
    """Wait until each host is ready or has failed (ConfigError if one refused the
    settings: the same settings would fail everywhere)."""
    by_addr = {h.address: h for h in fleet}
    q = distributed.Queue(f"golat-fleet-ready-{run_id}", client=client)
    deadline = time.monotonic() + timeout
    while any(h.status == "planned" for h in fleet):
        try:
            msg = q.get(timeout=POLL_S)
        except (TimeoutError, asyncio.TimeoutError):
            msg = None
        if msg is not None:
            h = by_addr[msg["address"]]
            if "error" in msg:
                if msg.get("error_type") == "ConfigError":
                    raise ConfigError(
                        f"host {h.name} ({h.address}) refused the settings: {msg['error']}"
                    )
                h.status, h.error = "failed", f"{msg.get('error_type', '')}: {msg['error']}"
            elif msg.get("golat") not in (None, __version__):
                h.status = "failed"
                h.error = f"golat {msg['golat']} on this host, {__version__} on the client"
            else:
                h.status, h.ready_unix_ns = "ready", msg.get("unix_ns")
        _check_hosts(client, fleet, futures, "before the start")
        if time.monotonic() > deadline:
            for h in fleet:
                if h.status == "planned":
                    h.status, h.error = "timed out", f"not ready within {timeout:g} s"


def _wait_some(distributed: Any, futures: list[Any]) -> None:
    """Wait up to POLL_S for one of ``futures`` to finish."""
    try:
        distributed.wait(futures, timeout=POLL_S, return_when="FIRST_COMPLETED")
    except (TimeoutError, asyncio.TimeoutError):
        pass


def _check_hosts(client: Any, fleet: list[_Host], futures: list[Any], when: str) -> None:
    """Mark hosts whose Dask worker left, or whose task failed, as such."""
    alive = _alive(client)
    for h, f in zip(fleet, futures):
        if h.status not in ("planned", "ready"):
            continue
        if h.address not in alive:
            h.status, h.error = "disconnected", f"its Dask worker left the cluster {when}"
            f.cancel()
        elif f.status == "error":
            h.status, h.error = "failed", f"{type(f.exception()).__name__}: {f.exception()}"


def _collect(
    client: Any,
    distributed: Any,
    fleet: list[_Host],
    futures: list[Any],
    run_id: str,
    deadline: float,
) -> None:
    while any(h.status == "ready" for h in fleet):
        pending = [f for h, f in zip(fleet, futures) if h.status == "ready"]
        _wait_some(distributed, pending)
        for h, f in zip(fleet, futures):
            if h.status != "ready" or not f.done():
                continue
            if f.status == "error":
                h.status, h.error = "failed", f"{type(f.exception()).__name__}: {f.exception()}"
                continue
            doc = f.result()
            h.hostname = doc.get("hostname")
            if "result" in doc:
                h.result, h.status = Result.from_dict(doc["result"]), "ok"
            else:
                h.status, h.error = "failed", f"{doc.get('error_type', '')}: {doc.get('error')}"
        _check_hosts(client, fleet, futures, "during the run")
        if time.monotonic() > deadline:
            distributed.Event(f"golat-fleet-stop-{run_id}", client=client).set()
            for h in fleet:
                if h.status == "ready":
                    h.status, h.error = "timed out", "no result by the planned end + 60 s"


def _fleet_result(fleet: list[_Host], called: int, start_at: int | None) -> Result:
    from ._merge import merge

    ok = [h for h in fleet if h.result is not None]
    failed = [h for h in fleet if h.result is None]
    if not ok:
        raise FleetError(
            "no host returned a result: "
            + "; ".join(f"{h.name} ({h.address}): {h.status}: {h.error}" for h in fleet)
        )
    merged = merge([h.result for h in ok], labels=[h.name for h in ok])
    missing = sum(h.share for h in failed)
    merged.extra["fleet"] = {
        "hosts": [h.facts() for h in fleet],
        "missing_share": missing,
        "called_unix_ns": called,
        "start_at_unix_ns": start_at,
        "startup_s": (start_at - called) / 1e9 if start_at else None,
    }
    if failed:
        warnings.warn(FleetWarning(missing_text(merged)), stacklevel=3)
    return merged


def missing_text(r: Result) -> str:
    """What a fleet result lacks, in one line ('' when every host reported)."""
    f = r.extra.get("fleet") or {}
    bad = [h for h in f.get("hosts", []) if h["status"] != "ok"]
    if not bad:
        return ""
    names = "; ".join(f"{h['name']} ({h['address']}) {h['status']}: {h['error']}" for h in bad)
    return (
        f"{len(bad)} of {len(f['hosts'])} hosts gave no result, "
        f"{100 * f['missing_share']:.1f} % of the planned load is missing: {names}"
    )


# -- compare on every host ------------------------------------------------------------------
@dataclass
class FleetComparison:
    """``golat compare`` run on every host: each host's :class:`golat.Comparison` by its
    Dask worker's name, and the hosts that failed (name -> error)."""

    comparisons: dict[str, Any] = field(default_factory=dict)
    failed: dict[str, str] = field(default_factory=dict)

    def format(self) -> str:
        from ._render import render

        return render("fleet_comparison_text", self)


def _compare_task(job: dict[str, Any], stages: Any, trials: int) -> str:
    """Runs on a Dask worker: golat.compare (each trial is its own fresh process)."""
    from ._compare import compare as local_compare

    workload, settings = decode_job(job)
    return local_compare(workload, stages, trials, settings=settings).to_json()


def compare(
    workload: Workload,
    stages: Any = None,
    trials: int = 5,
    *,
    settings: RunSettings | None = None,
    client: Any = None,
    scheduler: str | None = None,
    hosts: Sequence[str] | None = None,
    **overrides: Any,
) -> FleetComparison:
    """Run :func:`golat.compare` on every chosen Dask worker (at the same time) and collect
    each host's comparison; ``.format()`` puts the hosts side by side per stage.

    ``stages``: None (the default stages), or stages as text (default stage names or
    ``NAME:key=value,...``, a comma-separated string or a list): they travel as text.
    ``settings`` / ``overrides`` are every stage's base settings, as for
    :func:`golat.compare` (``rate`` is per host here). Raises ConfigError, Unsupported (no
    ``distributed``), FleetError when no host returned a comparison."""
    from ._compare import resolve_stages
    from ._comparison import Comparison
    from ._run import check_workload

    check_workload(workload)
    if stages is not None and not isinstance(stages, str):
        stages = list(stages)
        if not all(isinstance(x, str) for x in stages):
            raise ConfigError("fleet compare takes stages as text (names or NAME:key=value)")
    resolve_stages(stages)  # refuse bad stages here, before any host starts
    job = encode_job(workload, RunSettings.build(settings, overrides, "golat.fleet.compare"))
    distributed = _distributed()
    client, own = _connect(client, scheduler)
    out = FleetComparison()
    try:
        chosen = _pick_workers(client, hosts)
        futures = {
            name: client.submit(
                _compare_task,
                job,
                stages,
                trials,
                workers=[addr],
                allow_other_workers=False,
                pure=False,
            )
            for addr, name in chosen
        }
        addr_of = {name: addr for addr, name in chosen}
        while len(out.comparisons) + len(out.failed) < len(futures):
            _wait_some(distributed, list(futures.values()))
            alive = _alive(client)
            for name, f in futures.items():
                if name in out.comparisons or name in out.failed:
                    continue
                if f.status == "finished":
                    out.comparisons[name] = Comparison.from_json(f.result())
                elif f.status == "error":
                    out.failed[name] = f"{type(f.exception()).__name__}: {f.exception()}"
                elif addr_of[name] not in alive:
                    out.failed[name] = "its Dask worker left the cluster"
                    f.cancel()
    finally:
        if own:
            client.close()
    if not out.comparisons:
        raise FleetError(
            "no host returned a comparison: "
            + "; ".join(f"{k}: {v}" for k, v in out.failed.items())
        )
    if out.failed:
        warnings.warn(
            FleetWarning(
                "hosts without a comparison: "
                + "; ".join(f"{k}: {v}" for k, v in out.failed.items())
            ),
            stacklevel=2,
        )
    return out
