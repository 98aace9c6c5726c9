"""Where workers go on a NUMA machine, and what a result says about where they went.

- :func:`spread_cpus`: ``cpus="auto"`` when no single node allows as many CPUs as there
  are workers. The workers then go to the node with the most allowed CPUs and, as it fills,
  to the nodes nearest to it by the kernel's distance table (ties: lower node id), each
  worker's CPU on one node; with ``numa="local"`` (or no policy) its memory follows it.
- :func:`locality`: for a worker whose placed buffers were located page by page, whether
  they are on the node of the worker's CPU ("local"), all elsewhere ("remote") or both
  ("mixed").
"""

from __future__ import annotations

from typing import Any

from . import _topology
from .errors import ConfigError


def spread_cpus(topo: _topology.Topology, n: int, pick) -> tuple[tuple[int, ...], str]:
    """``n`` CPUs over nodes, nearest nodes first: (CPUs in worker order, a note saying
    so). ``pick(node, k)`` chooses ``k`` CPUs on one node (the single-node rule).

    Raises ConfigError when all nodes together allow fewer than ``n`` CPUs."""
    usable = set(topo.allowed) & set(topo.online) - set(topo.offline)
    free = {nd.id: [c for c in nd.cpus if c in usable] for nd in topo.nodes}
    total = sum(len(v) for v in free.values())
    if n > total:
        raise ConfigError(
            f"{n} CPUs asked but this machine allows only {total} on all its NUMA nodes "
            f"together: {_topology.format_cpulist(topo.allowed) or 'none'}; each pinned "
            "worker needs its own CPU"
        )
    first = max(topo.nodes, key=lambda nd: (len(free[nd.id]), -nd.id)).id
    order = sorted(free, key=lambda nid: (topo.distance(first, nid), nid))
    cpus: list[int] = []
    used: list[tuple[int, int]] = []  # (node, workers there)
    for nid in order:
        k = min(len(free[nid]), n - len(cpus))
        if k <= 0:
            continue
        cpus.extend(pick(nid, k))
        used.append((nid, k))
    where = ", ".join(f"node {nid}: {k}" for nid, k in used)
    note = (
        f"cpus='auto': no NUMA node allows {n} CPUs, so the workers are spread over nodes "
        f"nearest first ({where}), each worker's CPU on one node; with numa='local' each "
        "worker's memory is on its own CPU's node"
    )
    return tuple(cpus), note


def locality(topo: _topology.Topology, cpu: int, by_node: dict[Any, int]) -> dict[str, Any]:
    """``{"cpu_node", "locality"}`` for a worker pinned to ``cpu`` whose buffers' pages are
    ``by_node`` (node -> pages): locality "local", "remote", "mixed" or "none" (no page)."""
    try:
        home = topo.node_of(cpu)
    except ConfigError:
        return {}
    nodes = {int(k) for k, v in by_node.items() if v}
    if not nodes:
        where = "none"
    elif nodes == {home}:
        where = "local"
    elif home not in nodes:
        where = "remote"
    else:
        where = "mixed"
    return {"cpu_node": home, "locality": where}


def annotate(result: Any, topo: _topology.Topology) -> None:
    """Add :func:`locality` to each pinned worker's ``placement`` in ``result``."""
    for w in result.workers:
        place = w.extra.get("placement")
        cpu = (w.extra.get("thread") or {}).get("cpu", -1)
        if place and cpu is not None and cpu >= 0:
            place.update(locality(topo, cpu, place.get("by_node") or {}))
