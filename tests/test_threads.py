"""Worker threads: pinning, real-time policy, memory policy, GOMAXPROCS, pools, and the
caller's thread left as it was. Runs are short (<= 0.3 s); nothing here asserts a speed."""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
import textwrap
import time
import warnings
from pathlib import Path

import pytest

import golat
from golat import _native, _placement, _threads, runtime
from golat._topology import topology
from golat.errors import ConfigError, PermissionDenied, StarvationWarning
from golat.workloads import Jitter, MemChase, Noop, Spin, Timer

DATA = Path(__file__).parent / "data" / "sysfs"
ALLOWED = sorted(os.sched_getaffinity(0))
two_cpus = pytest.mark.skipif(len(ALLOWED) < 2, reason="needs 2 allowed CPUs")


def _mempolicy() -> tuple[int, int]:
    """(mode, node mask) of the calling thread, by get_mempolicy(2)."""
    libc = ctypes.CDLL(None, use_errno=True)
    mode = ctypes.c_int(-1)
    mask = (ctypes.c_ulong * 16)()
    nr = {"x86_64": 239, "aarch64": 236}.get(os.uname().machine)
    if nr is None or libc.syscall(nr, ctypes.byref(mode), mask, 1024, None, 0) != 0:
        return (-1, 0)
    return mode.value, mask[0]


def caller_state() -> dict:
    """Everything a run could leak into the calling thread or process."""
    return {
        "affinity": os.sched_getaffinity(0),
        "policy": os.sched_getscheduler(0),
        "priority": os.sched_getparam(0).sched_priority,
        "mempolicy": _mempolicy(),
        "gomaxprocs": runtime.gomaxprocs(),
        "threads": _go_threads_count(),
    }


def _go_threads_count() -> int:
    return len(os.listdir("/proc/self/task"))


def thread_gone(tid: int) -> bool:
    """Whether thread tid has left this process (its exit follows the goroutine's shortly)."""
    deadline = time.monotonic() + 2
    while os.path.exists(f"/proc/self/task/{tid}"):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


@pytest.fixture
def unchanged():
    """Assert the caller's thread state is the same after the test, failures included."""
    runtime.gomaxprocs()  # load the core first, so its threads are in the baseline
    before = caller_state()
    yield before
    after = caller_state()
    before.pop("threads"), after.pop("threads")
    assert after == before


# --- pinning ------------------------------------------------------------------------------


@two_cpus
def test_pinned_workers_ran_only_on_their_cpu(unchanged):
    cpus = ALLOWED[:2]
    r = golat.run(Spin(ns=2_000), rate=4_000, duration=0.2, workers=2, cpus=cpus)
    assert [w.extra["thread"]["cpu"] for w in r.workers] == cpus
    for w, cpu in zip(r.workers, cpus):
        assert w.extra["ran_on_cpus"] == [cpu], w.extra
        assert w.extra["cpu_samples"] >= 10
        c = w.extra["counters"]
        assert c["source"] in ("perf_event_open", "/proc")
        assert c["migrations"] in (0, -1)
    assert r.extra["threads"]["cpus"] == cpus
    assert r.environment["gomaxprocs"] == max(3, len(ALLOWED))  # the documented rule
    assert "ran on" in r.table() and "TLB shootdowns" in r.table()


def test_worker_threads_die_with_the_run(unchanged):
    r = golat.run(Noop(), rate=2_000, duration=0.05, cpus=ALLOWED[-1:])
    tid = r.workers[0].extra["thread"]["tid"]
    assert tid > 0 and thread_gone(tid)


def test_unlocked_baseline_is_left_alone(unchanged):
    r = golat.run(Noop(), requests=1_000)
    assert r.extra["threads"]["lock_os_thread"] is False
    assert r.extra["threads"]["gomaxprocs"] == 0  # not set
    assert r.workers[0].extra["counters"] is None


def test_auto_cpus_and_node(unchanged):
    r = golat.run(Noop(), requests=500, cpus="auto")
    t = topology()
    assert r.extra["threads"]["cpus"] == list(golat._topology.auto_cpus(t, 1))
    r = golat.run(Noop(), requests=500, cpus=f"node:{t.nodes[0].id}")
    assert r.workers[0].extra["ran_on_cpus"] == r.extra["threads"]["cpus"]


# --- bad input ----------------------------------------------------------------------------

BAD = [
    (dict(cpus=[4095]), "not allowed here; allowed CPUs: "),
    (dict(cpus=[-1]), "CPU ids"),
    (dict(cpus=[0, 0]), "twice"),
    (dict(cpus="node:77"), "NUMA node 77 does not exist; nodes present"),
    (dict(cpus="node:x"), "must be a whole number"),
    (dict(cpus=3.5), "cpus must be"),
    (dict(workers=len(ALLOWED) + 1, cpus=ALLOWED), "each pinned worker needs its own CPU"),
    (dict(workers=len(ALLOWED) + 1, cpus="auto"), "allows only"),
    (dict(policy="fifo:0"), "out of range 1..99"),
    (dict(policy="rr:100"), "P in 1..99"),
    (dict(policy="fifo"), "'fifo:P' or 'rr:P'"),
    (dict(policy="deadline:5"), "'fifo:P' or 'rr:P'"),
    (dict(policy="fifo:high"), "'fifo:P' or 'rr:P'"),
    (dict(numa="bind:77"), "NUMA node 77 does not exist"),
    (dict(numa="remote"), "numa must be"),
    (dict(lock_os_thread=False, cpus=ALLOWED[:1]), "need lock_os_thread"),
    (dict(gomaxprocs=0), "gomaxprocs must be"),
    (dict(mlock="yes"), "mlock must be"),
]


@pytest.mark.parametrize("kwargs,message", BAD, ids=[str(k) for k, _ in BAD])
def test_bad_thread_settings(kwargs, message, unchanged):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(".", r"\.")):
        golat.run(Noop(), requests=10, **kwargs)
    with pytest.raises(ConfigError):
        golat.Pool(**kwargs)


def test_cpu_not_allowed_names_the_allowed_set():
    with pytest.raises(ConfigError) as e:
        golat.run(Noop(), requests=10, cpus=[4095])
    assert golat._topology.format_cpulist(ALLOWED) in str(e.value)


def test_self_paced_workloads_refuse_a_rate():
    for wl in (Timer(1e-3), Jitter()):
        with pytest.raises(ConfigError, match="leave rate unset"):
            golat.run(wl, rate=100, duration=0.01)


def test_realtime_needs_a_duration():
    with pytest.raises(ConfigError, match="bounded duration"):
        golat.run(Timer(1e-3), requests=10, policy="fifo:1", cpus=ALLOWED[-1:])


def test_workload_bad_input():
    for make, msg in [
        (lambda: Timer(0), "Timer\\(interval\\)"),
        (lambda: Timer(1e-3, method="select"), "'clock_nanosleep', 'go'"),
        (lambda: Jitter(threshold=0), "Jitter\\(threshold\\)"),
        (lambda: MemChase(64), "MemChase\\(bytes\\)"),
        (lambda: MemChase(1 << 20, node=-1), "MemChase\\(node\\)"),
        (lambda: MemChase(1 << 20, hops=0), "MemChase\\(hops\\)"),
    ]:
        with pytest.raises(ConfigError, match=msg):
            make()
    with pytest.raises(ConfigError, match="NUMA node 77 does not exist"):
        golat.run(MemChase(1 << 20, node=77), requests=10)


def test_core_refusal_leaves_caller_unchanged(unchanged):
    # Past Python's checks: the core itself refuses a CPU that is not there.
    doc = golat._run.prepare(Noop(), golat.RunSettings(duration=0.01)).doc
    doc.update(lock_os_thread=True, cpus=[1000], gomaxprocs=7)
    with pytest.raises(ConfigError, match="CPU 1000"):
        _native.run_start(doc)
    assert _native.active_runs() == 0


# --- plans on recorded machines -------------------------------------------------------------


def test_plan_on_two_node_fixture():
    t = topology(DATA / "2node-smt-sparse")
    p = _threads.plan(workers=2, cpus="node:2", lock_os_thread=None, policy=None, mlock=False,
                      numa="bind:2", gomaxprocs=None, topo=t)  # fmt: skip
    assert p.cpus == (2, 3) and p.numa_nodes == (2,) and p.lock_os_thread
    assert p.gomaxprocs == 8  # max(workers + 1, allowed CPUs)
    p = _threads.plan(workers=None, cpus=[6, 7], lock_os_thread=None, policy=None, mlock=False,
                      numa="interleave", gomaxprocs=None, topo=t)  # fmt: skip
    assert p.workers == 2 and p.numa_nodes == (0, 2)
    with pytest.raises(ConfigError, match="nodes present: 0,2"):
        _threads.plan(workers=1, cpus=None, lock_os_thread=None, policy=None, mlock=False,
                      numa="bind:1", gomaxprocs=None, topo=t)  # fmt: skip


def test_auto_spreads_over_nodes_when_one_is_too_small():
    t = topology(DATA / "2node-smt-sparse")  # nodes 0 and 2, four CPUs each, distance 21
    kw = dict(lock_os_thread=None, policy=None, mlock=False, numa="local", gomaxprocs=None)
    p = _threads.plan(workers=4, cpus="auto", topo=t, **kw)
    assert p.cpus == (0, 1, 4, 5) and p.cpus_note == ""  # one node holds them: no spreading
    p = _threads.plan(workers=6, cpus="auto", topo=t, **kw)
    assert p.cpus == (0, 1, 4, 5, 2, 3)  # node 0 whole, then its nearest node
    assert "spread over nodes nearest first (node 0: 4, node 2: 2)" in p.cpus_note
    with pytest.raises(ConfigError, match="9 CPUs asked but this machine allows only 8"):
        _threads.plan(workers=9, cpus="auto", topo=t, **kw)
    with pytest.raises(ConfigError, match="5 CPUs asked on NUMA node 2"):
        _threads.plan(workers=5, cpus="node:2", topo=t, **kw)  # node:K never spreads


def test_locality_of_a_worker_against_its_cpu_node():
    t = topology(DATA / "2node-smt-sparse")
    assert _placement.locality(t, 1, {"0": 10}) == {"cpu_node": 0, "locality": "local"}
    assert _placement.locality(t, 1, {"2": 10, "0": 0}) == {"cpu_node": 0, "locality": "remote"}
    assert _placement.locality(t, 2, {"0": 1, "2": 9})["locality"] == "mixed"
    assert _placement.locality(t, 2, {})["locality"] == "none"


def test_starvation_warning_when_rt_takes_every_cpu():
    t = topology(DATA / "2node-smt-sparse")
    kw = dict(lock_os_thread=None, mlock=False, numa=None, gomaxprocs=None, topo=t)
    with pytest.warns(StarvationWarning, match="every CPU"):
        _threads.plan(workers=None, cpus=list(range(8)), policy="fifo:50", **kw)
    with pytest.warns(StarvationWarning, match="every CPU"):
        _threads.plan(workers=8, cpus=None, policy="rr:1", **kw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        _threads.plan(workers=2, cpus="auto", policy="fifo:50", **kw)
    with pytest.warns(StarvationWarning, match="leaves no P"):
        _threads.plan(
            workers=2, cpus=None, policy=None, **{**kw, "gomaxprocs": 2, "lock_os_thread": True}
        )


# --- real-time policy ------------------------------------------------------------------------


def test_realtime_policy_on_the_worker_only(unchanged):
    try:
        r = golat.run(Timer(1e-3), duration=0.05, policy="fifo:1", cpus=ALLOWED[-1:])
    except PermissionDenied as err:
        pytest.skip(f"no real-time permission here: {err}")
    assert r.workers[0].extra["thread"]["policy"] == "fifo:1"
    assert os.sched_getscheduler(0) == unchanged["policy"]


@two_cpus
def test_realtime_on_every_cpu_warns(unchanged):
    with pytest.warns(StarvationWarning):
        try:
            golat.run(Timer(2e-3), duration=0.02, workers=2, cpus=ALLOWED[:2], policy="fifo:1")
        except PermissionDenied:
            pass


SETPRIV = "/usr/bin/setpriv"


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(SETPRIV), reason="needs root + setpriv")
def test_realtime_refused_without_cap_sys_nice():
    """The real EPERM path: a child without CAP_SYS_NICE and with RLIMIT_RTPRIO 0."""
    code = textwrap.dedent(f"""
        import os, resource, golat
        from golat.workloads import Timer
        from golat.errors import PermissionDenied
        resource.setrlimit(resource.RLIMIT_RTPRIO, (0, 0))
        before = (os.sched_getaffinity(0), os.sched_getscheduler(0), golat.runtime.gomaxprocs())
        for make in (lambda: golat.run(Timer(1e-3), duration=0.01, policy="fifo:10",
                                       cpus={ALLOWED[-1:]}),
                     lambda: golat.Pool(1, policy="rr:5").open()):
            try:
                make()
            except PermissionDenied as err:
                assert isinstance(err, PermissionError)
                print("REFUSED", err)
            else:
                print("ALLOWED")
        after = (os.sched_getaffinity(0), os.sched_getscheduler(0), golat.runtime.gomaxprocs())
        print("UNCHANGED", before == after)
    """)
    out = subprocess.run(
        [SETPRIV, "--bounding-set=-sys_nice", "--inh-caps=-sys_nice", sys.executable, "-c", code],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    refused = [line for line in out.stdout.splitlines() if line.startswith("REFUSED")]
    assert len(refused) == 2, out.stdout
    for line in refused:
        assert "CAP_SYS_NICE" in line and "RLIMIT_RTPRIO" in line and "ulimit -r" in line
    assert "UNCHANGED True" in out.stdout


# --- pools -----------------------------------------------------------------------------------


def test_pool_reuses_its_threads(unchanged):
    cpu = ALLOWED[-1]
    with golat.Pool(1, cpus=[cpu]) as pool:
        info = pool.info()
        tid = info["thread"][0]["tid"]
        assert info["thread"][0]["cpu"] == cpu and info["gomaxprocs"] == max(2, len(ALLOWED))
        a = pool.run(Noop(), requests=2_000)
        b = pool.run(Timer(1e-3, method="go"), duration=0.02)
        c = pool.run(Jitter(), duration=0.02)
        for r in (a, b, c):
            assert r.workers[0].extra["thread"]["tid"] == tid
            assert r.workers[0].extra["ran_on_cpus"] == [cpu]
            assert r.extra["pooled"] is True
        assert os.path.exists(f"/proc/self/task/{tid}")
    assert not pool.is_open and thread_gone(tid)
    with pytest.raises(golat.errors.CoreError, match="closed"):
        pool.run(Noop(), requests=10)


def test_pool_of_unlocked_workers_refuses_thread_workloads():
    with golat.Pool(1, lock_os_thread=False) as pool:
        with pytest.raises(ConfigError, match="needs locked worker threads"):
            pool.run(Jitter(), duration=0.01)
        assert pool.run(Noop(), requests=100).requests == 100


# --- workloads ---------------------------------------------------------------------------------


def test_timer_reports_wakeup_lateness(unchanged):
    r = golat.run(Timer(500e-6), duration=0.1)
    assert r.extra["threads"]["lock_os_thread"] is True  # clock_nanosleep wants its thread
    assert 50 <= r.requests <= 201
    assert r.start_delay.min >= 0 and r.latency.count == r.requests
    r = golat.run(Timer(500e-6, method="go"), duration=0.05)
    assert r.extra["threads"]["lock_os_thread"] is False


def test_jitter_records_gaps():
    r = golat.run(Jitter(threshold=20e-6), duration=0.05)
    x = r.workers[0].extra["workload"]
    assert r.requests > 10_000 and r.latency.count == r.requests
    assert x["threshold_ns"] == 20_000 and x["over_threshold"] >= len(x["events"])
    assert all(gap > 20_000 for _, gap in x["events"])


def test_memchase_placement_and_one_node_note(unchanged):
    node = topology().nodes[0].id
    r = golat.run(MemChase(1 << 20, node=node, hops=100), requests=200, numa="local",
                  cpus=ALLOWED[-1:])  # fmt: skip
    w = r.workers[0].extra
    assert w["placement"]["by_node"] == {str(node): 256} and w["placement"]["missing"] == 0
    assert w["workload"]["node"] == node
    if len(topology().nodes) == 1:
        assert "one NUMA node" in r.extra["numa_note"] and "note:" in r.table()


def _vmlck() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmLck:"):
            return int(line.split()[1])
    return -1


def test_mlock_is_undone(unchanged):
    assert _vmlck() == 0
    try:
        golat.run(Noop(), requests=100, mlock=True, cpus=ALLOWED[-1:])
    except PermissionDenied as err:
        pytest.skip(f"mlockall refused here: {err}")
    assert _vmlck() == 0


@pytest.mark.parametrize("numa", ["local", "interleave", "bind:first"])
def test_memory_policy_on_worker_threads(numa, unchanged):
    node = topology().nodes[0].id
    numa = numa.replace("first", str(node))
    r = golat.run(MemChase(1 << 20, hops=10), requests=100, numa=numa)
    w = r.workers[0].extra
    assert w["thread"]["mem_policy"].startswith(numa.split(":")[0])
    assert sum(w["placement"]["by_node"].values()) == 256
