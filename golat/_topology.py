"""Machine topology (NUMA nodes, CPUs, SMT siblings, cpusets) read from sysfs and procfs.

Pure Python on purpose: it runs before the Go core is loaded, so workers can be placed
before anything is pinned, and it reads recorded trees (``root=``) the same way it reads
the live machine, which is how the tests check machines we do not have.

Where Linux and the recorded trees disagree with each other, the choices are:

- ``Node.cpus`` holds the node's *online* CPUs, like ``numactl --hardware``: a live kernel
  lists only online CPUs in ``nodeN/cpulist``, but recorded trees can carry offline ones.
- A node's ``distance`` row has one column per *online* node on a live kernel, but recorded
  trees exist whose row is indexed by *possible* node id (see ``_distance_columns``).
  ``Node.distances`` is always re-aligned to ``Topology.nodes``.
- ``allowed`` is intersected with ``online``: an affinity mask may name CPUs that cannot run.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from golat.errors import ConfigError

__all__ = [
    "Node",
    "Topology",
    "auto_cpus",
    "check_cpus",
    "check_node",
    "format_cpulist",
    "parse_cpulist",
    "topology",
]

#: Version of the dict written by :meth:`Topology.to_dict`.
TOPOLOGY_FORMAT_VERSION = 1

# Far above any kernel's NR_CPUS (8192 today); stops "0-999999999" from eating memory.
_MAX_CPU = 1 << 16
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")

_CPU = "sys/devices/system/cpu"
_NODE = "sys/devices/system/node"


# --- cpulists ---------------------------------------------------------------------------


def parse_cpulist(text: str) -> tuple[int, ...]:
    """Parse a kernel CPU list such as ``"0-3,8,10-11"`` into sorted, unique CPU ids.

    Surrounding whitespace is ignored and an empty list gives ``()``.
    Raises ConfigError, quoting the text, for anything else (``"1-"``, ``"3-1"``, ``"1,,2"``).
    """
    if not isinstance(text, str):
        raise ConfigError(f"CPU list must be a string like '0-3,8', got {text!r}")
    body = text.strip()
    if not body:
        return ()
    cpus: set[int] = set()
    for token in body.split(","):
        m = _RANGE.fullmatch(token)
        if m is None:
            raise ConfigError(f"bad CPU list {text!r}: {token!r} is not N or N-M")
        lo = int(m.group(1))
        hi = lo if m.group(2) is None else int(m.group(2))
        if hi < lo:
            raise ConfigError(f"bad CPU list {text!r}: range {token!r} runs backwards")
        if hi >= _MAX_CPU:
            raise ConfigError(f"bad CPU list {text!r}: CPU {hi} is above {_MAX_CPU - 1}")
        cpus.update(range(lo, hi + 1))
    return tuple(sorted(cpus))


def format_cpulist(cpus) -> str:
    """Format CPU ids as the kernel does: ``(0, 1, 2, 3, 8, 10, 11)`` -> ``"0-3,8,10-11"``.

    Order and duplicates do not matter; ``()`` gives ``""``.
    Raises ConfigError for anything that is not a non-negative int.
    """
    ids = set()
    for cpu in cpus:
        if isinstance(cpu, bool) or not isinstance(cpu, int) or cpu < 0:
            raise ConfigError(f"CPU ids must be non-negative ints, got {cpu!r}")
        ids.add(cpu)
    parts = []
    run: list[int] = []
    for cpu in sorted(ids):
        if run and cpu != run[-1] + 1:
            parts.append(_run_text(run))
            run = []
        run.append(cpu)
    if run:
        parts.append(_run_text(run))
    return ",".join(parts)


def _run_text(run: list[int]) -> str:
    return str(run[0]) if len(run) == 1 else f"{run[0]}-{run[-1]}"


# --- result types -----------------------------------------------------------------------


@dataclass(frozen=True)
class Node:
    """One NUMA node: its online CPUs, memory in bytes, and its row of the distance matrix.

    ``distances[i]`` is the distance to ``Topology.nodes[i]`` (10 means local).
    """

    id: int
    cpus: tuple[int, ...]
    memory_bytes: int
    distances: tuple[int, ...]
    free_bytes: int = 0


@dataclass(frozen=True)
class Topology:
    """What :func:`topology` found. Every CPU set is a sorted tuple of CPU ids.

    ``offline`` is the kernel's list (possible but not online, so it can name CPUs that are
    not even present); ``allowed`` is where this process may run now (affinity, cgroup
    cpuset and online, intersected). ``siblings`` maps each online CPU to the hardware
    threads of its core, itself included; ``packages`` maps a package (socket) id to its
    online CPUs; ``core_ids`` maps an online CPU to its core id within its package.
    """

    nodes: tuple[Node, ...]
    online: tuple[int, ...]
    offline: tuple[int, ...]
    allowed: tuple[int, ...]
    isolated: tuple[int, ...] = ()
    nohz_full: tuple[int, ...] = ()
    siblings: dict[int, tuple[int, ...]] = field(default_factory=dict)
    packages: dict[int, tuple[int, ...]] = field(default_factory=dict)
    core_ids: dict[int, int] = field(default_factory=dict)
    possible: tuple[int, ...] = ()
    present: tuple[int, ...] = ()
    cpu_model: str = ""

    @property
    def node_ids(self) -> tuple[int, ...]:
        return tuple(n.id for n in self.nodes)

    @property
    def threads_per_core(self) -> int:
        return max((len(s) for s in self.siblings.values()), default=1)

    def node(self, node: int) -> Node:
        """The :class:`Node` with this id; ConfigError naming the present nodes if absent."""
        for n in self.nodes:
            if n.id == node:
                return n
        raise ConfigError(
            f"NUMA node {node!r} does not exist; nodes present: "
            f"{format_cpulist(self.node_ids) or 'none'}"
        )

    def node_of(self, cpu: int) -> int:
        """Id of the node holding ``cpu``; ConfigError if no present node lists it."""
        for n in self.nodes:
            if cpu in n.cpus:
                return n.id
        raise ConfigError(
            f"CPU {cpu!r} is on no NUMA node present (online CPUs on nodes: "
            f"{format_cpulist(c for n in self.nodes for c in n.cpus) or 'none'})"
        )

    def cpus_of(self, node: int) -> tuple[int, ...]:
        """Online CPUs of ``node``; ConfigError naming the present nodes if absent."""
        return self.node(node).cpus

    def distance(self, a: int, b: int) -> int:
        """NUMA distance from node ``a`` to node ``b`` (10 = local); ConfigError if absent."""
        self.node(b)
        return self.node(a).distances[self.node_ids.index(b)]

    def to_dict(self) -> dict:
        """A JSON-able dict; int keys become strings, ``version`` names the layout."""
        return {
            "version": TOPOLOGY_FORMAT_VERSION,
            "nodes": [
                {
                    "id": n.id,
                    "cpus": list(n.cpus),
                    "memory_bytes": n.memory_bytes,
                    "free_bytes": n.free_bytes,
                    "distances": list(n.distances),
                }
                for n in self.nodes
            ],
            "online": list(self.online),
            "offline": list(self.offline),
            "possible": list(self.possible),
            "present": list(self.present),
            "allowed": list(self.allowed),
            "isolated": list(self.isolated),
            "nohz_full": list(self.nohz_full),
            "siblings": {str(c): list(s) for c, s in self.siblings.items()},
            "packages": {str(p): list(c) for p, c in self.packages.items()},
            "core_ids": {str(c): i for c, i in self.core_ids.items()},
            "cpu_model": self.cpu_model,
        }

    def format(self) -> str:
        """``numactl --hardware``-style node table followed by lscpu-style essentials."""
        ids = self.node_ids
        lines = [f"available: {len(ids)} nodes ({format_cpulist(ids)})"]
        for n in self.nodes:
            lines.append(f"node {n.id} cpus: {' '.join(map(str, n.cpus))}")
            lines.append(f"node {n.id} size: {n.memory_bytes >> 20} MiB")
            lines.append(f"node {n.id} free: {n.free_bytes >> 20} MiB")
        width = max(len(str(v)) for n in self.nodes for v in (n.id, *n.distances)) + 1
        label = max(len("node"), width + 1)
        lines.append("node distances:")
        lines.append(f"{'node':<{label}}" + "".join(f"{i:>{width + 1}}" for i in ids))
        for n in self.nodes:
            row = "".join(f"{d:>{width + 1}}" for d in n.distances)
            lines.append(f"{str(n.id) + ':':>{label}}{row}")
        on_nodes = {c for n in self.nodes for c in n.cpus}
        no_node = [c for c in self.online if c not in on_nodes]
        facts = [
            ("Model name:", self.cpu_model or "-"),
            ("CPU(s) online:", _count_list(self.online)),
            ("CPU(s) allowed:", _count_list(self.allowed)),
            ("CPU(s) offline:", _count_list(self.offline)),
            ("CPU(s) isolated:", _count_list(self.isolated)),
            ("CPU(s) nohz_full:", _count_list(self.nohz_full)),
            ("Thread(s) per core:", str(self.threads_per_core)),
            ("Socket(s):", str(len(self.packages)) if self.packages else "-"),
            ("NUMA node(s):", str(len(ids))),
        ]
        if no_node:
            facts.append(("CPU(s) on no node:", _count_list(no_node)))
        key_width = max(len(k) for k, _ in facts)
        lines.append("")
        lines.extend(f"{k:<{key_width}}  {v}" for k, v in facts)
        return "\n".join(lines)


def _count_list(cpus) -> str:
    cpus = tuple(cpus)
    return f"{len(cpus)} ({format_cpulist(cpus)})" if cpus else "0"


# --- reading ----------------------------------------------------------------------------


def topology(root: str | os.PathLike = "/") -> Topology:
    """Read the topology of the machine whose sysfs/procfs tree is under ``root``.

    ``root="/"`` reads this machine and takes the affinity of this process; any other root
    is a recorded tree, whose affinity comes from ``proc/self/status`` when recorded.
    Raises ConfigError naming the file when a CPU list in the tree is malformed.
    """
    base = Path(root)
    online = _cpulist_file(base, f"{_CPU}/online")
    possible = _cpulist_file(base, f"{_CPU}/possible") or online
    present = _cpulist_file(base, f"{_CPU}/present") or online
    if _read(base, f"{_CPU}/offline") is None:
        offline = tuple(sorted(set(possible) - set(online)))
    else:
        offline = _cpulist_file(base, f"{_CPU}/offline")

    siblings: dict[int, tuple[int, ...]] = {}
    packages: dict[int, list[int]] = {}
    core_ids: dict[int, int] = {}
    for cpu in online:
        topo_dir = f"{_CPU}/cpu{cpu}/topology"
        sib = _read(base, f"{topo_dir}/core_cpus_list")
        if sib is None:
            sib = _read(base, f"{topo_dir}/thread_siblings_list")
        siblings[cpu] = _parse_in_file(sib, topo_dir) if sib else (cpu,)
        package = _int_file(base, f"{topo_dir}/physical_package_id")
        if package is not None:
            packages.setdefault(package, []).append(cpu)
        core = _int_file(base, f"{topo_dir}/core_id")
        if core is not None:
            core_ids[cpu] = core

    return Topology(
        nodes=_read_nodes(base, online),
        online=online,
        offline=offline,
        allowed=_allowed(base, online),
        isolated=_cpulist_file(base, f"{_CPU}/isolated"),
        nohz_full=_cpulist_file(base, f"{_CPU}/nohz_full"),
        siblings=siblings,
        packages={p: tuple(c) for p, c in sorted(packages.items())},
        core_ids=core_ids,
        possible=possible,
        present=present,
        cpu_model=_cpu_model(_read(base, "proc/cpuinfo") or ""),
    )


def _read(base: Path, rel: str) -> str | None:
    """The file's text without NULs (3.10 kernels print ``\\0`` for an empty nohz_full),
    or None when it cannot be read: sysfs files come and go with hardware and kernels."""
    try:
        return (base / rel).read_text(errors="replace").replace("\0", "")
    except OSError:
        return None


def _parse_in_file(text: str, rel: str) -> tuple[int, ...]:
    text = text.strip()
    if text == "(null)":  # nohz_full when the feature is compiled in but unused
        return ()
    try:
        return parse_cpulist(text)
    except ConfigError as err:
        raise ConfigError(f"{rel}: {err}") from err


def _cpulist_file(base: Path, rel: str) -> tuple[int, ...]:
    text = _read(base, rel)
    return () if text is None else _parse_in_file(text, rel)


def _int_file(base: Path, rel: str) -> int | None:
    text = _read(base, rel)
    try:
        return None if text is None else int(text.strip())
    except ValueError:
        return None


def _ids(base: Path, rel: str, prefix: str) -> list[int]:
    """Numeric suffixes of ``prefix<N>`` entries in a directory, sorted as numbers."""
    try:
        names = os.listdir(base / rel)
    except OSError:
        return []
    return sorted(int(n[len(prefix) :]) for n in names if re.fullmatch(prefix + r"\d+", n))


def _meminfo(text: str, key: str) -> int:
    """Bytes of ``key`` in ``/proc/meminfo`` or ``nodeN/meminfo`` (``Node 0 MemTotal: 5 kB``)."""
    m = re.search(rf"^(?:Node \d+ )?{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(m.group(1)) * 1024 if m else 0


def _read_nodes(base: Path, online: tuple[int, ...]) -> tuple[Node, ...]:
    node_ids = _ids(base, _NODE, "node")
    if not node_ids:
        # Kernel without CONFIG_NUMA (or a container hiding it): one node with everything.
        mem = _read(base, "proc/meminfo") or ""
        return (Node(0, online, _meminfo(mem, "MemTotal"), (10,), _meminfo(mem, "MemFree")),)
    is_online = set(online)
    rows = {}
    nodes = []
    for nid in node_ids:
        rel = f"{_NODE}/node{nid}"
        cpus = tuple(c for c in _cpulist_file(base, f"{rel}/cpulist") if c in is_online)
        mem = _read(base, f"{rel}/meminfo") or ""
        rows[nid] = _distance_row(_read(base, f"{rel}/distance") or "", f"{rel}/distance")
        nodes.append(Node(nid, cpus, _meminfo(mem, "MemTotal"), (), _meminfo(mem, "MemFree")))
    matrix = {}
    for nid, row in rows.items():
        cols = _distance_columns(base, node_ids, len(row))
        if cols is None:
            raise ConfigError(
                f"{_NODE}/node{nid}/distance: {len(row)} columns do not match "
                f"nodes {format_cpulist(node_ids)}"
            )
        matrix[nid] = tuple(row[cols.index(other)] for other in node_ids)
    return tuple(Node(n.id, n.cpus, n.memory_bytes, matrix[n.id], n.free_bytes) for n in nodes)


def _distance_row(text: str, rel: str) -> tuple[int, ...]:
    try:
        return tuple(int(v) for v in text.split())
    except ValueError:
        raise ConfigError(f"{rel}: bad distance row {text.strip()!r}") from None


def _distance_columns(base: Path, node_ids: list[int], width: int) -> list[int] | None:
    """Which node id each column of a distance row stands for.

    Linux writes one column per online node. Recorded trees exist (hwloc's
    offline-cpu0-node0) with node0 missing and node1's row ``21 10`` indexed by node id,
    which is also how libnuma reads it; so try the node dirs, then online, then possible
    nodes, then plain ids.
    """
    if width == len(node_ids):
        return node_ids
    for name in ("online", "possible"):
        ids = list(_cpulist_file(base, f"{_NODE}/{name}"))
        if len(ids) == width and set(node_ids) <= set(ids):
            return ids
    if width > max(node_ids):
        return list(range(width))
    return None


def _cpu_model(cpuinfo: str) -> str:
    # x86 says "model name"; arm64 has no model line, older arm says "Processor"; ppc "cpu".
    for key in ("model name", "Processor", "cpu model", "cpu"):
        m = re.search(rf"^{key}\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
        if m:
            return m.group(1).strip()
    return ""


# --- where this process may run ---------------------------------------------------------


def _allowed(base: Path, online: tuple[int, ...]) -> tuple[int, ...]:
    allowed = set(online)
    if _is_live(base) and hasattr(os, "sched_getaffinity"):
        allowed &= os.sched_getaffinity(0)
    else:
        status = _read(base, "proc/self/status") or ""
        m = re.search(r"^Cpus_allowed_list:\s*(.*)$", status, re.MULTILINE)
        if m:
            allowed &= set(_parse_in_file(m.group(1), "proc/self/status"))
    for cpuset in _cgroup_cpusets(base):
        allowed &= set(cpuset)
    return tuple(sorted(allowed))


def _is_live(base: Path) -> bool:
    return os.path.realpath(base) == os.path.realpath("/")


def _cgroup_cpusets(base: Path) -> list[tuple[int, ...]]:
    """The cgroup cpusets (v2 ``cpuset.cpus.effective``, v1 ``cpuset.effective_cpus`` or
    ``cpuset.cpus``) that hold this process; several on hybrid v1+v2 machines."""
    v2_path, v1_path = _cgroup_paths(base)
    v2_mounts, v1_mounts = _cgroup_mounts(base)
    found = []
    for mounts, path, files in (
        (v2_mounts, v2_path, ("cpuset.cpus.effective",)),
        (v1_mounts, v1_path, ("cpuset.effective_cpus", "cpuset.cpus")),
    ):
        if path is None:
            continue
        for mount in mounts:
            cpus = _nearest_cpuset(base, mount, path, files)
            if cpus is not None:
                found.append(cpus)
                break
    return found


def _cgroup_paths(base: Path) -> tuple[str | None, str | None]:
    """(v2 path, v1 cpuset path) of this process from ``proc/self/cgroup``; old recordings
    only have ``proc/self/cpuset``, which names the cpuset's cgroup in either version."""
    v2 = v1 = None
    for line in (_read(base, "proc/self/cgroup") or "").splitlines():
        hier, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if hier == "0" and controllers == "":
            v2 = path
        elif "cpuset" in controllers.split(","):
            v1 = path
    if v2 is None and v1 is None:
        legacy = (_read(base, "proc/self/cpuset") or "").strip()
        if legacy:
            v2 = v1 = legacy
    return v2, v1


def _cgroup_mounts(base: Path) -> tuple[list[str], list[str]]:
    """(cgroup2 mount points, cgroup v1 cpuset mount points), from ``proc/mounts`` or,
    when that was not recorded, the usual places."""
    mounts = _read(base, "proc/mounts")
    if mounts is None:
        return (
            ["/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/cgroup/unified", "/cgroup"],
            ["/sys/fs/cgroup/cpuset", "/cgroup/cpuset", "/dev/cpuset"],
        )
    v2, v1 = [], []
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        # Spaces in mount points are written as \040.
        point = fields[1].encode().decode("unicode_escape")
        if fields[2] == "cgroup2":
            v2.append(point)
        elif fields[2] == "cgroup" and "cpuset" in fields[3].split(","):
            v1.append(point)
    return v2, v1


def _nearest_cpuset(base: Path, mount: str, path: str, files) -> tuple[int, ...] | None:
    # A cgroup without the cpuset controller enabled runs on its parent's cpuset.
    parts = [p for p in path.split("/") if p]
    while True:
        rel = "/".join([mount.strip("/"), *parts]).strip("/")
        for name in files:
            text = _read(base, f"{rel}/{name}")
            if text is not None and text.strip():
                return _parse_in_file(text, f"{rel}/{name}")
        if not parts:
            return None
        parts.pop()


# --- choosing and checking CPUs ---------------------------------------------------------


def check_node(topo: Topology, node: int) -> Node:
    """The :class:`Node` with id ``node``; ConfigError naming the present nodes if absent."""
    return topo.node(node)


def check_cpus(topo: Topology, cpus) -> tuple[int, ...]:
    """Check that every CPU (ids, or a list like ``"0-3"``) is allowed for this process.

    Returns the CPUs as given, in order. Raises ConfigError naming the allowed set.
    """
    if isinstance(cpus, str):
        cpus = parse_cpulist(cpus)
    cpus = tuple(cpus)
    allowed = set(topo.allowed)
    bad = [c for c in cpus if c not in allowed]
    if bad:
        raise ConfigError(
            f"CPU(s) {', '.join(map(repr, bad))} not allowed here; allowed CPUs: "
            f"{format_cpulist(topo.allowed) or 'none'}"
        )
    return cpus


def auto_cpus(topo: Topology, n: int, node: int | None = None) -> tuple[int, ...]:
    """Choose ``n`` CPUs on one node for pinned workers, sorted.

    The node is ``node`` or the one with the most allowed CPUs. Only allowed, online CPUs
    are used; one thread per core while cores last, isolated CPUs first, CPU 0 (which
    takes most interrupts and housekeeping) last.
    Raises ConfigError if ``n < 1``, the node is absent, or it allows fewer than ``n`` CPUs.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ConfigError(f"number of CPUs must be an int >= 1, got {n!r}")
    usable = set(topo.allowed) & set(topo.online) - set(topo.offline)

    def usable_on(nd: Node) -> list[int]:
        return [c for c in nd.cpus if c in usable]

    if node is None:
        chosen = max(topo.nodes, key=lambda nd: (len(usable_on(nd)), -nd.id))
    else:
        chosen = topo.node(node)
    candidates = usable_on(chosen)
    if n > len(candidates):
        raise ConfigError(
            f"{n} CPUs asked on NUMA node {chosen.id}, which allows only {len(candidates)}: "
            f"{format_cpulist(candidates) or 'none'} (allowed CPUs: "
            f"{format_cpulist(topo.allowed) or 'none'})"
        )
    isolated = set(topo.isolated)
    candidates.sort(key=lambda c: (c not in isolated, c == 0, c))
    picked: list[int] = []
    busy: set[int] = set()  # threads of cores already used
    for cpu in candidates:  # one thread per core
        if len(picked) < n and cpu not in busy:
            picked.append(cpu)
            busy.update(topo.siblings.get(cpu, (cpu,)))
    for cpu in candidates:  # then second threads, if cores ran out
        if len(picked) < n and cpu not in picked:
            picked.append(cpu)
    return tuple(sorted(picked))
