"""Tests for golat._topology: hand-made trees in tests/data/sysfs, recorded machines from
../shared/data/sysfs when present, and the live machine against numactl/lscpu."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from golat._topology import (
    Node,
    auto_cpus,
    check_cpus,
    check_node,
    format_cpulist,
    parse_cpulist,
    topology,
)
from golat.errors import ConfigError

DATA = Path(__file__).parent / "data" / "sysfs"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "sysfs"


def fixture(name: str):
    return topology(DATA / name)


# --- cpulists ---------------------------------------------------------------------------

CPULISTS = [
    ("", ()),
    ("\n", ()),
    ("0", (0,)),
    ("0-3", (0, 1, 2, 3)),
    ("0-3,8,10-11", (0, 1, 2, 3, 8, 10, 11)),
    ("1,3,5,7", (1, 3, 5, 7)),
    ("0-7,16-23\n", (*range(8), *range(16, 24))),
    ("5-5", (5,)),
    ("4,0-1,1-2", (0, 1, 2, 4)),
    (" 0-1 ", (0, 1)),
    ("0-3,21-191", (0, 1, 2, 3, *range(21, 192))),
]


@pytest.mark.parametrize(("text", "cpus"), CPULISTS)
def test_parse_cpulist(text, cpus):
    assert parse_cpulist(text) == cpus


FORMATS = [
    ((), ""),
    ((0,), "0"),
    ((0, 1), "0-1"),
    ((0, 1, 2, 3, 8, 10, 11), "0-3,8,10-11"),
    ((11, 10, 8, 3, 2, 1, 0, 8), "0-3,8,10-11"),
    ((1, 3, 5), "1,3,5"),
    (range(4, 21), "4-20"),
]


@pytest.mark.parametrize(("cpus", "text"), FORMATS)
def test_format_cpulist(cpus, text):
    assert format_cpulist(cpus) == text
    assert parse_cpulist(text) == tuple(sorted(set(cpus)))


@pytest.mark.parametrize(
    "text",
    ["1-", "-1", "3-1", "1,,2", "1,", ",1", "a", "0x3", "+1", "1 2", "1;2", "1-2-3", "0-99999"],
)
def test_parse_cpulist_rejects(text):
    with pytest.raises(ConfigError) as err:
        parse_cpulist(text)
    assert repr(text) in str(err.value)


@pytest.mark.parametrize("cpus", [(-1,), (1.0,), ("1",), (True,)])
def test_format_cpulist_rejects(cpus):
    with pytest.raises(ConfigError):
        format_cpulist(cpus)


def test_parse_cpulist_rejects_non_string():
    with pytest.raises(ConfigError):
        parse_cpulist([0, 1])


# --- hand-made trees ----------------------------------------------------------------------


def test_two_nodes_smt_sparse_ids():
    t = fixture("2node-smt-sparse")
    assert t.nodes == (
        Node(0, (0, 1, 4, 5), 8 << 30, (10, 21), free_bytes=4 << 30),
        Node(2, (2, 3, 6, 7), 4 << 30, (21, 10), free_bytes=1 << 30),
    )
    assert t.online == t.allowed == tuple(range(8))
    assert t.offline == t.isolated == t.nohz_full == ()  # nohz_full is "(null)"
    assert t.siblings == {c: (c % 4, c % 4 + 4) for c in range(8)}  # from core_cpus_list
    assert t.packages == {0: (0, 1, 4, 5), 1: (2, 3, 6, 7)}
    assert t.cpu_model == "Test CPU 2S 2C 2T @ 2.00GHz"
    assert t.threads_per_core == 2
    assert [t.node_of(c) for c in range(8)] == [0, 0, 2, 2, 0, 0, 2, 2]
    assert t.cpus_of(2) == (2, 3, 6, 7)
    assert (t.distance(0, 2), t.distance(2, 0), t.distance(2, 2)) == (21, 21, 10)


def test_offline_cpus_and_missing_node0():
    t = fixture("offline-no-node0")
    # node1's cpulist says 1,3,5,7 but cpu1 is offline; its row "20 10" is indexed by id.
    assert t.nodes == (Node(1, (3, 5, 7), 2 << 30, (10,), free_bytes=1 << 30),)
    assert t.online == (2, 3, 4, 5, 6, 7)
    assert t.offline == (0, 1)
    assert t.possible == t.present == tuple(range(8))
    assert t.isolated == t.nohz_full == (5, 7)
    assert t.allowed == (3, 4, 5, 6, 7)  # v1 cpuset.effective_cpus wins over cpuset.cpus
    assert t.siblings == {c: (c,) for c in range(2, 8)}
    assert t.packages == {0: (2, 4, 6), 1: (3, 5, 7)}
    assert t.distance(1, 1) == 10
    with pytest.raises(ConfigError, match="CPU 2 is on no NUMA node"):
        t.node_of(2)
    with pytest.raises(ConfigError, match="nodes present: 1"):
        t.cpus_of(0)
    assert "CPU(s) on no node:   3 (2,4,6)" in t.format()


def test_cgroup2_cpuset_restricts_allowed():
    t = fixture("cgroup2-cpuset")
    assert t.nodes == (Node(0, tuple(range(8)), 16 << 30, (10,), free_bytes=8 << 30),)
    # Cpus_allowed_list 1-7, cgroup v2 (mounted at /cgroup/unified) 2-5.
    assert t.allowed == (2, 3, 4, 5)
    assert t.isolated == (4, 5)
    assert t.siblings[4] == (4, 5)


def test_cgroup2_found_without_proc_mounts(tmp_path):
    # Recordings without proc/mounts: look where cgroup2 usually lives; a cgroup without
    # the cpuset controller runs on its parent's cpuset.
    root = tmp_path / "m"
    shutil.copytree(DATA / "no-numa", root)
    (root / "proc/self").mkdir(parents=True)
    (root / "proc/self/cgroup").write_text("0::/a.slice/b.scope\n")
    (root / "sys/fs/cgroup/a.slice/b.scope").mkdir(parents=True)
    (root / "sys/fs/cgroup/a.slice/cpuset.cpus.effective").write_text("1-2\n")
    assert topology(root).allowed == (1, 2)


def test_no_numa_dir_is_one_node():
    t = fixture("no-numa")
    assert t.nodes == (Node(0, (0, 1, 2, 3), 4 << 30, (10,), free_bytes=3 << 30),)
    assert t.allowed == t.online == (0, 1, 2, 3)
    assert t.cpu_model == "ARMv7 Processor rev 4 (v7l)"
    assert t.threads_per_core == 1


def test_malformed_file_names_it(tmp_path):
    root = tmp_path / "m"
    shutil.copytree(DATA / "no-numa", root)
    (root / "sys/devices/system/cpu/isolated").write_text("2-\n")
    with pytest.raises(ConfigError, match=r"cpu/isolated.*'2-'"):
        topology(root)


def test_check_node_and_cpus():
    t = fixture("2node-smt-sparse")
    assert check_node(t, 2).cpus == (2, 3, 6, 7)
    with pytest.raises(ConfigError, match=r"node 1 does not exist; nodes present: 0,2"):
        check_node(t, 1)
    with pytest.raises(ConfigError, match=r"node 1 does not exist"):
        t.distance(0, 1)
    c = fixture("cgroup2-cpuset")
    assert check_cpus(c, [5, 2]) == (5, 2)
    assert check_cpus(c, "2-3") == (2, 3)
    with pytest.raises(ConfigError, match=r"CPU\(s\) 1, 6 not allowed.*allowed CPUs: 2-5"):
        check_cpus(c, [1, 2, 6])


def test_to_dict_is_json():
    t = fixture("offline-no-node0")
    d = json.loads(json.dumps(t.to_dict()))
    assert d["version"] == 1
    assert d["nodes"] == [
        {"id": 1, "cpus": [3, 5, 7], "memory_bytes": 2 << 30, "free_bytes": 1 << 30,
         "distances": [10]}
    ]  # fmt: skip
    assert d["allowed"] == [3, 4, 5, 6, 7]
    assert d["siblings"]["3"] == [3]


def test_format_like_numactl():
    text = fixture("2node-smt-sparse").format()
    assert text.splitlines()[:12] == [
        "available: 2 nodes (0,2)",
        "node 0 cpus: 0 1 4 5",
        "node 0 size: 8192 MiB",
        "node 0 free: 4096 MiB",
        "node 2 cpus: 2 3 6 7",
        "node 2 size: 4096 MiB",
        "node 2 free: 1024 MiB",
        "node distances:",
        "node   0   2",
        "  0:  10  21",
        "  2:  21  10",
        "",
    ]
    assert "Model name:          Test CPU 2S 2C 2T @ 2.00GHz" in text
    assert "Thread(s) per core:  2" in text
    assert "Socket(s):           2" in text
    assert "CPU(s) allowed:      8 (0-7)" in text


# --- auto_cpus ----------------------------------------------------------------------------


def test_auto_cpus_one_thread_per_core_and_no_cpu0():
    t = fixture("2node-smt-sparse")
    # Node 0 holds cores (0,4) and (1,5); tie between nodes goes to the lower id.
    assert auto_cpus(t, 1) == (1,)
    assert auto_cpus(t, 2) == (1, 4)  # two cores, CPU 0's core used through its sibling
    assert auto_cpus(t, 3) == (1, 4, 5)
    assert auto_cpus(t, 4) == (0, 1, 4, 5)  # CPU 0 only when nothing else is left
    assert auto_cpus(t, 2, node=2) == (2, 3)


def test_auto_cpus_prefers_isolated_within_allowed():
    c = fixture("cgroup2-cpuset")  # allowed 2-5, cores (2,3) (4,5), isolated 4-5
    assert auto_cpus(c, 1) == (4,)
    assert auto_cpus(c, 2) == (2, 4)  # a second core beats the isolated sibling
    assert auto_cpus(c, 3) == (2, 4, 5)
    o = fixture("offline-no-node0")  # node 1: online 3,5,7; isolated 5,7
    assert auto_cpus(o, 2) == (5, 7)


def test_auto_cpus_errors():
    t = fixture("cgroup2-cpuset")
    with pytest.raises(ConfigError, match=r"5 CPUs asked on NUMA node 0.*only 4: 2-5"):
        auto_cpus(t, 5)
    with pytest.raises(ConfigError, match="nodes present: 0"):
        auto_cpus(t, 1, node=3)
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ConfigError):
            auto_cpus(t, bad)


# --- recorded machines (hwloc test data), when ../shared/data/sysfs is there --------------

ARCHIVES = [
    "16amd64-8n2c",
    "32intel64-2p8co2t+8ve",
    "32amd64-4s2n4c-cgroup2",
    "offline-cpu0-node0",
]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    cache = {}

    def unpack(name):
        archive = SHARED / f"{name}.tar.bz2"
        if not archive.exists():
            pytest.skip(f"{archive} not present")
        if name not in cache:
            dest = tmp_path_factory.mktemp(name)
            with tarfile.open(archive) as tar:
                if hasattr(tarfile, "data_filter"):
                    tar.extractall(dest, filter="data")
                else:  # pragma: no cover - Python before 3.11.4
                    tar.extractall(dest)
            (top,) = dest.iterdir()  # the folder name can differ from the archive's
            cache[name] = topology(top)
        return cache[name]

    return unpack


def test_recorded_16amd64(recorded):
    t = recorded("16amd64-8n2c")
    assert t.node_ids == tuple(range(8))
    assert [n.cpus for n in t.nodes] == [(2 * i, 2 * i + 1) for i in range(8)]
    for a in range(8):
        assert t.nodes[a].distances == tuple(10 if a == b else 20 for b in range(8))
    assert t.allowed == tuple(range(16))
    assert t.threads_per_core == 1


def test_recorded_32intel64(recorded):
    t = recorded("32intel64-2p8co2t+8ve")
    assert t.node_ids == (0, 1)
    assert t.cpus_of(0) == parse_cpulist("0-7,16-23")
    assert t.cpus_of(1) == parse_cpulist("8-15,24-31")
    assert t.siblings[0] == (0, 16)
    assert t.distance(0, 1) == 21
    assert t.offline == parse_cpulist("32-111")
    assert t.nohz_full == t.isolated == ()  # nohz_full is recorded as a NUL byte
    assert len(t.packages) == 2
    assert t.threads_per_core == 2
    assert auto_cpus(t, 8) == (1, 2, 3, 4, 5, 6, 7, 16)
    assert auto_cpus(t, 8, node=1) == tuple(range(8, 16))


def test_recorded_32amd64_cgroup2(recorded):
    t = recorded("32amd64-4s2n4c-cgroup2")
    assert [n.cpus for n in t.nodes] == [tuple(range(4 * i, 4 * i + 4)) for i in range(8)]
    assert {d for n in t.nodes for d in n.distances} == {10, 16, 22}
    assert t.online == tuple(range(32))
    assert t.allowed == (0, 1, 2, 3, 4, 5)  # cgroup/unified/.../cpuset.cpus.effective
    assert len(t.packages) == 4
    assert auto_cpus(t, 2) == (1, 2)
    with pytest.raises(ConfigError, match="allowed CPUs: 0-5"):
        check_cpus(t, [6])


def test_recorded_offline_cpu0_node0(recorded):
    t = recorded("offline-cpu0-node0")
    assert t.online == parse_cpulist("4-20")
    assert t.node_ids == (1,)
    assert t.cpus_of(1) == (5, 7, 9, 11, 13, 15, 17, 19)  # online odd CPUs
    assert t.nodes[0].distances == (10,)  # row "21 10" is indexed by node id
    assert t.allowed == parse_cpulist("4-20")


@pytest.mark.parametrize("name", ARCHIVES)
def test_recorded_consistent(recorded, name):
    t = recorded(name)
    json.dumps(t.to_dict())
    assert "available:" in t.format()
    assert set(t.allowed) <= set(t.online)
    for cpu, sib in t.siblings.items():
        assert cpu in sib
    for n in t.nodes:
        assert len(n.distances) == len(t.nodes)
        assert t.distance(n.id, n.id) == 10


# --- this machine -------------------------------------------------------------------------


@pytest.mark.skipif(not Path("/sys/devices/system/cpu/online").exists(), reason="no sysfs")
def test_live_machine():
    t = topology()
    assert t.online == parse_cpulist(Path("/sys/devices/system/cpu/online").read_text())
    assert t.allowed == tuple(sorted(os.sched_getaffinity(0) & set(t.online)))
    assert sorted(c for n in t.nodes for c in n.cpus) == sorted(
        c for c in t.online if any(c in n.cpus for n in t.nodes)
    )
    lscpu = shutil.which("lscpu")
    if lscpu:
        out = subprocess.run([lscpu], capture_output=True, text=True, check=True).stdout
        m = re.search(r"^On-line CPU\(s\) list:\s*(\S+)", out, re.MULTILINE)
        if m:
            assert t.online == parse_cpulist(m.group(1))


@pytest.mark.skipif(shutil.which("numactl") is None, reason="numactl not installed")
def test_live_matches_numactl():
    out = subprocess.run(
        ["numactl", "--hardware"], capture_output=True, text=True, check=True
    ).stdout
    m = re.search(r"^available: (\d+) nodes", out, re.MULTILINE)
    t = topology()
    assert m
    assert int(m.group(1)) == len(t.nodes)
    cpus = {
        int(node): tuple(int(c) for c in listed.split())
        for node, listed in re.findall(r"^node (\d+) cpus:(.*)$", out, re.MULTILINE)
    }
    assert cpus == {n.id: n.cpus for n in t.nodes}
