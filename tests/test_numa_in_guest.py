"""Placement on a live multi-node kernel: run inside the NUMA guest (tests/numa_guest.py;
tests/test_numa_guest.py boots it and runs this file there with ``-m numa_guest``).

Every check reads the kernel independently of golat: ``numactl --hardware``,
``/proc/self/maps`` + ``/proc/self/numa_maps`` and ``move_pages(2)`` on the live buffers,
``get_mempolicy(2)`` and the affinity of the calling thread.
"""

from __future__ import annotations

import ctypes
import os
import re
import subprocess

import pytest
from numa_guest import ENV_INSIDE
from test_threads import caller_state

import golat
from golat.errors import ConfigError
from golat.workloads import MemChase

pytestmark = [
    pytest.mark.numa_guest,
    # an emulated guest on a shared machine may fall short of even a low rate; placement
    # is what is checked here, not speed
    pytest.mark.filterwarnings("ignore::golat.errors.OverloadWarning"),
    pytest.mark.skipif(not os.environ.get(ENV_INSIDE), reason="runs inside the NUMA guest only"),
]

PAGE = os.sysconf("SC_PAGE_SIZE")
BUF = 4 << 20  # 2 MiB-aligned by the core, so transparent huge pages cover it whole
PAGES = BUF // PAGE


@pytest.fixture(scope="module")
def topo():
    t = golat.topology()
    if len(t.nodes) < 2:
        pytest.fail(f"{ENV_INSIDE} is set but this kernel has {len(t.nodes)} NUMA node(s)")
    return t


def thread_state() -> dict:
    """The calling thread's affinity, scheduling and memory policy (get_mempolicy), and
    GOMAXPROCS (test_threads.caller_state without the process's thread count, which the
    runs' own threads change)."""
    state = caller_state()
    del state["threads"]
    return state


@pytest.fixture
def unchanged():
    """This thread's state is the same after the test's runs as before."""
    golat.runtime.gomaxprocs()  # load the core first
    before = thread_state()
    yield
    assert thread_state() == before


# --- reading the kernel ourselves ------------------------------------------------------


def numactl_hardware() -> dict:
    out = subprocess.run(["numactl", "--hardware"], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    nodes: dict[int, dict] = {}
    dist: dict[int, list[int]] = {}
    in_dist = False
    for line in out.splitlines():
        if m := re.match(r"node (\d+) cpus:(.*)", line):
            nodes.setdefault(int(m[1]), {})["cpus"] = tuple(int(c) for c in m[2].split())
        elif m := re.match(r"node (\d+) size: (\d+) MB", line):
            nodes[int(m[1])]["size_mb"] = int(m[2])
        elif line.startswith("node distances"):
            in_dist = True
        elif in_dist and (m := re.match(r"\s*(\d+):\s+(.*)", line)):
            dist[int(m[1])] = [int(v) for v in m[2].split()]
    return {"nodes": nodes, "distances": dist}


def move_pages(start: int, count: int) -> list[int]:
    """Node of each page from ``start`` (move_pages with no target: a query)."""
    libc = ctypes.CDLL(None, use_errno=True)
    addrs = (ctypes.c_void_p * count)(*range(start, start + count * PAGE, PAGE))
    status = (ctypes.c_int * count)()
    if libc.syscall(279, 0, ctypes.c_ulong(count), addrs, None, status, 0) != 0:
        raise OSError(ctypes.get_errno(), "move_pages")
    return list(status)


def anon_vmas(size: int) -> dict[tuple[int, int], dict]:
    """Anonymous mappings of this process that could hold a placed buffer of ``size``
    bytes (that large, that many pages present; the kernel may have merged the buffer
    with a neighbour): (start, end) -> their numa_maps line (policy, pages per node) and
    move_pages's node of every page."""
    with open("/proc/self/numa_maps") as f:
        numa = {int(line.split()[0], 16): line.split() for line in f}
    found = {}
    with open("/proc/self/maps") as f:
        for line in f:
            fields = line.split()
            start, end = (int(x, 16) for x in fields[0].split("-"))
            words = numa.get(start, [])
            anon = next((int(w[5:]) for w in words if w.startswith("anon=")), 0)
            if len(fields) != 5 or end - start < size or anon < size // PAGE:  # 5: anonymous
                continue
            found[(start, end)] = {
                "policy": words[1] if len(words) > 1 else "",
                "by_node": {
                    int(w[1:].split("=")[0]): int(w.split("=")[1])
                    for w in words
                    if re.fullmatch(r"N\d+=\d+", w)
                },  # fmt: skip
                "move_pages": move_pages(start, (end - start) // PAGE),
            }
    return found


def run_and_look(workload, **settings):
    """golat.run, reading the kernel's view of the process's anonymous mappings from the
    progress callback, three times once requests are served (every worker has built its
    buffer by then, and the buffers live until the run ends); then, for each worker's
    buffer (its address is in the result), the last reading that saw it whole. Returns
    (result, [per worker: {"policy", "by_node" of its mapping, "nodes": move_pages per
    page, "alone": the mapping is exactly the buffer}])."""
    size = workload.bytes
    readings = []

    def progress(served: int, elapsed_s: float, planned_s: float) -> None:
        if served and len(readings) < 3:
            readings.append(anon_vmas(size))

    # rate: the core counts served requests for progress 64 at a time
    r = golat.run(workload, rate=100, duration=3, warmup=0, progress=progress, **settings)
    out = []
    for w in r.workers:
        addr = w.extra["workload"]["buffer_addr"]
        seen = None
        for reading in readings:
            for (start, end), vma in reading.items():
                if start <= addr and addr + size <= end:
                    first = (addr - start) // PAGE
                    nodes = vma["move_pages"][first : first + size // PAGE]
                    if min(nodes) >= 0:  # every page there
                        seen = {
                            "policy": vma["policy"],
                            "by_node": vma["by_node"],
                            "nodes": nodes,
                            "alone": (start, end) == (addr, addr + size),
                        }
        assert seen is not None, f"worker {w.id}'s buffer at {addr:#x} was not seen whole"
        out.append(seen)
    return r, out


def on_node(reading: dict) -> int:
    """The one node holding every page of a buffer, by move_pages and by numa_maps."""
    (node,) = set(reading["nodes"])
    assert reading["by_node"].get(node, 0) >= PAGES
    if reading["alone"]:
        assert reading["by_node"] == {node: PAGES}
    return node


def cpu_of(topo, node: int) -> int:
    return topo.cpus_of(node)[0]


# --- the tests ---------------------------------------------------------------------------


def test_topology_agrees_with_numactl(topo):
    hw = numactl_hardware()
    assert sorted(hw["nodes"]) == list(topo.node_ids)
    for n in topo.nodes:
        assert hw["nodes"][n.id]["cpus"] == n.cpus
        assert hw["nodes"][n.id]["size_mb"] == n.memory_bytes >> 20
        assert hw["distances"][n.id] == list(n.distances)
    assert topo.allowed == tuple(sorted(os.sched_getaffinity(0)))


def nearest_first(topo) -> list[int]:
    first = max(topo.nodes, key=lambda nd: (len(nd.cpus), -nd.id)).id
    return sorted(topo.node_ids, key=lambda n: (topo.distance(first, n), n))


def test_auto_local_spreads_workers_over_nodes(topo, unchanged):
    workers = min(3, len(topo.nodes))  # 3 of 4: nearest first is not node id order there
    r, seen = run_and_look(MemChase(BUF, hops=10), workers=workers, cpus="auto", numa="local")
    want = nearest_first(topo)[:workers]
    for i, w in enumerate(r.workers):
        th, place = w.extra["thread"], w.extra["placement"]
        assert topo.node_of(th["cpu"]) == want[i]
        assert set(w.extra["ran_on_cpus"]) <= set(topo.cpus_of(want[i]))
        assert th["mem_policy"] == "local"
        assert place["by_node"] == {str(want[i]): PAGES} and place["missing"] == 0
        assert place["locality"] == "local" and place["cpu_node"] == want[i]
    assert [on_node(b) for b in seen] == want
    assert all(b["policy"] == "default" for b in seen)  # the thread's policy placed them
    assert "spread over nodes" in r.extra["placement_note"]
    assert "spread over nodes" in r.table()


def test_bind_to_a_remote_node_says_remote(topo, unchanged):
    home, far = topo.node_ids[0], topo.node_ids[1]
    r, (b,) = run_and_look(MemChase(BUF, hops=10), cpus=[cpu_of(topo, home)],
                           numa=f"bind:{far}")  # fmt: skip
    w = r.workers[0].extra
    assert w["thread"]["mem_policy"] == f"bind:[{far}]"
    assert w["placement"]["by_node"] == {str(far): PAGES}
    assert w["placement"]["locality"] == "remote" and w["placement"]["cpu_node"] == home
    assert on_node(b) == far and b["policy"] == "default"  # the thread's policy placed it
    assert "(remote)" in r.table()


def test_memchase_on_a_node_from_a_cpu_of_another(topo, unchanged):
    home, far = topo.node_ids[0], topo.node_ids[-1]
    r, (b,) = run_and_look(MemChase(BUF, node=far, hops=10), cpus=[cpu_of(topo, home)])
    w = r.workers[0].extra
    assert w["workload"]["node"] == far and w["workload"]["built_on_node"] == home
    assert w["placement"]["by_node"] == {str(far): PAGES}
    assert w["placement"]["locality"] == "remote"
    assert on_node(b) == far and b["policy"] == f"bind:{far}"


def test_cpus_node_pins_to_that_node_only(topo, unchanged):
    node = topo.node_ids[1]
    r, (b,) = run_and_look(MemChase(BUF, hops=10), cpus=f"node:{node}", numa="local")
    w = r.workers[0].extra
    assert w["thread"]["cpu"] in topo.cpus_of(node)
    assert set(w["ran_on_cpus"]) <= set(topo.cpus_of(node))
    assert w["placement"]["locality"] == "local" and on_node(b) == node


def test_interleave_spreads_pages_evenly_over_all_nodes(topo, unchanged):
    size = 2 << 20 << (len(topo.nodes) - 1).bit_length()  # a 2 MiB huge page per node at least
    r, (b,) = run_and_look(MemChase(size, hops=10), numa="interleave")
    share = size // PAGE // len(topo.nodes)
    want = {n: share for n in topo.node_ids}
    place = r.workers[0].extra["placement"]
    assert {int(k): v for k, v in place["by_node"].items()} == want
    assert {n: b["nodes"].count(n) for n in set(b["nodes"])} == want
    if b["alone"]:
        assert b["by_node"] == want


def test_bad_placements_are_refused_clearly(topo, unchanged):
    present = golat._topology.format_cpulist(topo.node_ids)
    absent = max(topo.node_ids) + 3  # bind:5 on the two-node guest
    refused = f"NUMA node {absent} does not exist; nodes present: {present}"
    with pytest.raises(ConfigError, match=refused):
        golat.run(MemChase(BUF), requests=1, numa=f"bind:{absent}")
    absent = max(topo.node_ids) + 2  # node:3 on the two-node guest
    refused = f"NUMA node {absent} does not exist; nodes present: {present}"
    with pytest.raises(ConfigError, match=refused):
        golat.run(MemChase(BUF), requests=1, cpus=f"node:{absent}")
    with pytest.raises(ConfigError, match="allows only"):
        golat.run(MemChase(BUF), requests=1, workers=len(topo.allowed) + 1, cpus="auto")


def test_compare_numa_stage_reports_placement_per_trial(topo, unchanged):
    c = golat.compare(MemChase(BUF, hops=10), stages=["numa"], trials=2, rate=20, duration=0.5,
                      warmup=0, workers=2, trace=False)  # fmt: skip
    assert not c.failed, [t.error for t in c.failed]
    want = nearest_first(topo)[:2]
    for t in c.trials:
        for i, w in enumerate(t.result.workers):
            place = w.extra["placement"]
            assert topo.node_of(w.extra["thread"]["cpu"]) == want[i]
            assert place["by_node"] == {str(want[i]): PAGES}
            assert place["locality"] == "local"
        assert "spread over nodes" in t.result.extra["placement_note"]
