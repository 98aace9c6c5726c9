"""Worker thread settings: which CPUs, whether locked, real-time policy, memory policy,
memory lock and GOMAXPROCS, checked against this machine's topology and turned into the
part of the run (or pool) document the core reads.

The rules (also in docs/threads-and-numa.md):

- ``lock_os_thread=None`` means: locked when anything changes the worker's thread
  (``cpus``, ``policy``, ``numa``) or the workload needs its own thread (Timer with
  clock_nanosleep, Jitter); a Pool always defaults to locked. ``False`` with any of those
  is a ConfigError, since they are set on the thread.
- GOMAXPROCS, when workers are locked and ``gomaxprocs`` is None, is
  ``max(workers + 1, allowed CPUs)``: every locked worker holds a P while it runs, and at
  least one P stays free for the runtime (GC workers, timers, the coordinator). It is set
  before any thread is pinned and restored when the run (or pool) ends.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Any, Union

from . import _placement, _topology, _units
from .errors import ConfigError, StarvationWarning

CPUs = Union[None, str, "list[int]", "tuple[int, ...]"]

MAX_PRIORITY = 99


@dataclass(frozen=True)
class ThreadPlan:
    """Resolved thread settings: what the core is told, and what the report shows."""

    workers: int
    lock_os_thread: bool
    cpus: tuple[int, ...]
    policy: str  # "", "fifo", "rr"
    priority: int
    numa: str  # "", "local", "bind", "interleave"
    numa_nodes: tuple[int, ...]
    mlock: bool
    gomaxprocs: int  # 0: left as it is
    node_count: int
    cpus_note: str = ""  # how cpus="auto" placed the workers, when it spread them over nodes

    @property
    def realtime(self) -> bool:
        return bool(self.policy)

    def doc(self) -> dict[str, Any]:
        return {
            "lock_os_thread": self.lock_os_thread, "cpus": list(self.cpus),
            "policy": self.policy, "priority": self.priority, "numa": self.numa,
            "numa_nodes": list(self.numa_nodes), "mlock": self.mlock,
            "gomaxprocs": self.gomaxprocs,
        }  # fmt: skip


def parse_policy(policy: str | None) -> tuple[str, int]:
    """``None`` -> ("", 0); ``"fifo:80"`` -> ("fifo", 80); ``"rr:10"`` -> ("rr", 10)."""
    if policy is None:
        return "", 0
    allowed = f"None, 'fifo:P' or 'rr:P' with P in 1..{MAX_PRIORITY}"
    if not isinstance(policy, str):
        raise ConfigError(f"policy must be {allowed}, got {policy!r}")
    name, sep, prio = policy.strip().lower().partition(":")
    if name not in ("fifo", "rr") or not sep:
        raise ConfigError(f"policy must be {allowed}, got {policy!r}")
    try:
        p = int(prio)
    except ValueError:
        raise ConfigError(f"policy {policy!r}: priority {prio!r} is not a whole number") from None
    top = MAX_PRIORITY
    if hasattr(os, "sched_get_priority_max"):
        top = os.sched_get_priority_max(os.SCHED_FIFO if name == "fifo" else os.SCHED_RR)
    if not 1 <= p <= top:
        raise ConfigError(f"policy {policy!r}: priority {p} out of range 1..{top}")
    return name, p


def _node_arg(text: str, what: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"{what}: node {text!r} is not a whole number") from None


def resolve_cpus(
    topo: _topology.Topology, cpus: CPUs, workers: int | None
) -> tuple[tuple[int, ...], str]:
    """The CPU of each worker (``()``: not pinned) and a note when ``"auto"`` spread the
    workers over nodes (else ""); raises ConfigError for CPUs not allowed, absent nodes,
    duplicates, or a worker count that does not match."""
    if cpus is None:
        return (), ""
    if isinstance(cpus, str):
        text = cpus.strip().lower()
        if text == "auto" or text.startswith("node:"):
            n = 1 if workers is None else workers
            if text == "auto":
                return _auto(topo, n)
            node = _node_arg(text[5:], f"cpus={cpus!r}")
            _topology.check_node(topo, node)
            return _topology.auto_cpus(topo, n, node), ""
        cpus = _topology.parse_cpulist(text)
    if not isinstance(cpus, (list, tuple)) or not cpus:
        raise ConfigError(
            f"cpus must be None, 'auto', 'node:K' or a non-empty list of CPU ids, got {cpus!r}"
        )
    for c in cpus:
        if isinstance(c, bool) or not isinstance(c, int) or c < 0:
            raise ConfigError(f"cpus must hold CPU ids (ints >= 0), got {c!r} in {cpus!r}")
    dup = sorted({c for c in cpus if list(cpus).count(c) > 1})
    if dup:
        raise ConfigError(f"cpus lists CPU {dup[0]} twice; each pinned worker needs its own CPU")
    chosen = _topology.check_cpus(topo, cpus)
    if workers is not None and workers != len(chosen):
        if workers > len(chosen):
            raise ConfigError(
                f"workers={workers} but only {len(chosen)} CPU(s) given in cpus={list(cpus)}: "
                "each pinned worker needs its own CPU"
            )
        raise ConfigError(
            f"cpus lists {len(chosen)} CPUs for {workers} workers; give one CPU per worker"
        )
    return chosen, ""


def _auto(topo: _topology.Topology, n: int) -> tuple[tuple[int, ...], str]:
    """``cpus="auto"``: one node when one can hold the workers, else spread over the
    nearest nodes (see golat/_placement.py)."""
    try:
        return _topology.auto_cpus(topo, n), ""
    except ConfigError:
        if len(topo.nodes) < 2 or not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise
    return _placement.spread_cpus(topo, n, lambda node, k: _topology.auto_cpus(topo, k, node))


def resolve_numa(topo: _topology.Topology, numa: str | None) -> tuple[str, tuple[int, ...]]:
    if numa is None:
        return "", ()
    allowed = "None, 'local', 'bind:K' or 'interleave'"
    if not isinstance(numa, str):
        raise ConfigError(f"numa must be {allowed}, got {numa!r}")
    text = numa.strip().lower()
    if text == "local":
        return "local", ()
    if text == "interleave":
        nodes = tuple(n.id for n in topo.nodes if n.memory_bytes > 0) or topo.node_ids
        return "interleave", nodes
    if text.startswith("bind:"):
        node = _topology.check_node(topo, _node_arg(text[5:], f"numa={numa!r}"))
        if node.memory_bytes == 0 and len(topo.nodes) > 1:
            with_mem = [n.id for n in topo.nodes if n.memory_bytes > 0]
            raise ConfigError(
                f"NUMA node {node.id} has no memory to bind to; nodes with memory: "
                f"{_topology.format_cpulist(with_mem) or 'none'}"
            )
        return "bind", (node.id,)
    raise ConfigError(f"numa must be {allowed}, got {numa!r}")


def plan_for(
    settings: Any, *, wants_thread: bool = False, default_lock: bool = False,
    topo: _topology.Topology | None = None, stacklevel: int = 3,
) -> ThreadPlan:  # fmt: skip
    """:func:`plan` for the thread settings of a :class:`~golat.RunSettings`."""
    return plan(
        workers=settings.workers, cpus=settings.cpus, lock_os_thread=settings.lock_os_thread,
        policy=settings.policy, mlock=settings.mlock, numa=settings.numa,
        gomaxprocs=settings.gomaxprocs, wants_thread=wants_thread, default_lock=default_lock,
        topo=topo, stacklevel=stacklevel + 1,
    )  # fmt: skip


def plan(
    *, workers: int | None, cpus: CPUs, lock_os_thread: bool | None, policy: str | None,
    mlock: bool, numa: str | None, gomaxprocs: int | None, wants_thread: bool = False,
    default_lock: bool = False, topo: _topology.Topology | None = None, stacklevel: int = 3,
) -> ThreadPlan:  # fmt: skip
    """Check every thread setting against the machine and resolve the defaults.

    Raises ConfigError naming what is wrong and what is allowed; warns
    (:class:`~golat.errors.StarvationWarning`) when real-time workers would take every
    CPU this process may use; ``stacklevel`` points the warning at the user's call.
    """
    if workers is not None:
        _units.number("workers", workers, minimum=1, strict_min=False, maximum=4096, integer=True)
        workers = int(workers)
    if lock_os_thread not in (None, True, False):
        raise ConfigError(f"lock_os_thread must be None, True or False, got {lock_os_thread!r}")
    if not isinstance(mlock, bool):
        raise ConfigError(f"mlock must be True or False, got {mlock!r}")
    pol, prio = parse_policy(policy)
    changes_thread = cpus is not None or bool(pol) or numa is not None
    topo = topo or _topology.topology()
    chosen, cpus_note = resolve_cpus(topo, cpus, workers)
    if workers is None:
        workers = len(chosen) or 1
    mode, nodes = resolve_numa(topo, numa)
    if lock_os_thread is None:
        lock = changes_thread or wants_thread or default_lock
    else:
        lock = lock_os_thread
    if not lock and changes_thread:
        raise ConfigError(
            "cpus, policy and numa are set on each worker's OS thread, so they need "
            "lock_os_thread=True (or None)"
        )
    allowed = topo.allowed or tuple(range(os.cpu_count() or 1))
    if gomaxprocs is not None:
        _units.number("gomaxprocs", gomaxprocs, minimum=1, strict_min=False, maximum=1 << 16,
                      integer=True)  # fmt: skip
        procs = int(gomaxprocs)
        if lock and procs <= workers:
            warnings.warn(StarvationWarning(
                f"gomaxprocs={procs} leaves no P beside {workers} locked worker(s): the "
                "runtime's own work (GC, timers) will preempt them"),
                stacklevel=stacklevel)  # fmt: skip
    elif lock:
        procs = max(workers + 1, len(allowed))
    else:
        procs = 0
    if pol:
        rt_cpus = set(chosen) if chosen else None
        takes_all = rt_cpus >= set(allowed) if rt_cpus is not None else workers >= len(allowed)
        if takes_all:
            warnings.warn(StarvationWarning(
                f"{workers} real-time ({pol}:{prio}) worker(s) would take every CPU this process "
                f"may use ({_topology.format_cpulist(allowed)}): they can starve the Go "
                "runtime's own threads (GC, sysmon) and the rest of the system, and make the "
                "tail worse; leave a CPU free"),
                stacklevel=stacklevel)  # fmt: skip
    return ThreadPlan(
        workers=workers, lock_os_thread=lock, cpus=chosen, policy=pol, priority=prio,
        numa=mode, numa_nodes=nodes, mlock=mlock, gomaxprocs=procs, node_count=len(topo.nodes),
        cpus_note=cpus_note,
    )  # fmt: skip
