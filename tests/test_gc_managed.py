"""gc='managed', the default memory limit under GC off, and the timeline."""

import json
from pathlib import Path

import numpy as np
import pytest

import golat
from golat import runtime
from golat.errors import ConfigError
from golat.workloads import Alloc, PooledAlloc, Spin

DATA = Path(__file__).parent / "data"


def test_controller_collects_when_heap_passes_threshold():
    # 8,000 requests x 16 KiB = 125 MiB of garbage against a 16 MiB threshold.
    r = golat.run(Alloc(size=1024, count=16, live_bytes=4 << 20), rate=20_000, requests=8000,
                  gc="managed", gc_threshold="16MiB")  # fmt: skip
    g = r.gc
    assert g.managed and g.threshold_bytes == 16 << 20 and g.gc_percent == -1
    assert g.controller_cycles >= 1
    assert g.runtime_cycles == 0  # GC is off and the memory limit is far away
    assert g.cycles == g.controller_cycles + g.runtime_cycles
    assert g.peak_heap_bytes >= 16 << 20
    ev = g.controller_events[0]
    assert ev["heap_before_bytes"] >= 16 << 20 and ev["duration_ns"] > 0
    assert r.timeline is not None and int(r.timeline.gc_event_controller.sum()) >= 1


def test_managed_without_allocation_runs_no_gc():
    r = golat.run(PooledAlloc(size=1024, count=16, live_bytes=4 << 20), rate=5000, requests=1000,
                  gc="managed")  # fmt: skip
    assert r.gc.cycles == 0 and r.gc.controller_events == []
    assert r.gc.threshold_bytes >= (4 << 20) + (64 << 20)  # default rule: heap + 64 MiB at least


@pytest.mark.parametrize("gc", ["off", -1, "managed"])
def test_gc_off_gets_default_memory_limit(gc):
    r = golat.run(Spin(ns=1000), requests=100, gc=gc)
    assert r.gc.memory_limit == runtime.default_memory_limit()
    assert runtime.gc_percent() != -1  # restored after the run


def test_explicit_memory_limit_wins():
    r = golat.run(Spin(ns=1000), requests=100, gc="managed", memory_limit="3GiB")
    assert r.gc.memory_limit == 3 << 30


def test_default_memory_limit_rule(tmp_path):
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/cgroup").write_text("4:memory:/job\n0::/unit\n")
    (tmp_path / "sys/fs/cgroup/memory/job").mkdir(parents=True)
    (tmp_path / "sys/fs/cgroup/memory/job/memory.limit_in_bytes").write_text("1073741824\n")
    (tmp_path / "sys/fs/cgroup/unit").mkdir(parents=True)
    (tmp_path / "sys/fs/cgroup/unit/memory.max").write_text("max\n")
    assert runtime.available_memory(str(tmp_path)) == 1 << 30
    assert runtime.default_memory_limit() == runtime.available_memory() // 2


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"gc": "sometimes"}, "managed"),
        ({"gc": "default", "gc_threshold": "1GiB"}, "only for gc='managed'"),
        ({"gc": "managed", "gc_threshold": "lots"}, "gc_threshold"),
        ({"timeline": 0.0001}, "timeline"),
        ({"timeline": -1}, "timeline"),
    ],
)
def test_bad_gc_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        golat.run(Spin(ns=1000), requests=10, **kwargs)


def test_timeline_counts_every_request_and_round_trips():
    r = golat.run(Spin(ns=1000), rate=4000, duration=0.3, warmup=0.02, timeline=0.05)
    tl = r.timeline
    assert len(tl) >= 6  # 0.3 s in 50 ms intervals; more if a loaded machine runs late
    assert int(tl.count.sum()) == r.requests
    assert tl.p99_ns.dtype == np.int64 and np.all(tl.p50_ns <= tl.max_ns)
    assert np.allclose(np.diff(tl.start_s), 0.05)
    back = golat.Result.from_json(r.to_json()).timeline
    for name in ("count", "p99_ns", "gc_cycles", "heap_bytes", "gc_event_s"):
        assert np.array_equal(getattr(back, name), getattr(tl, name))


def test_no_timeline():
    assert golat.run(Spin(ns=1000), requests=50, timeline=None).timeline is None


def test_reads_version_1_results():
    r = golat.Result.from_json((DATA / "result-v1.json").read_text())
    assert r.timeline is None and r.requests == 400 and r.gc.controller_cycles == 0
    assert json.loads(r.to_json())["version"] == golat._result.VERSION


def test_pool_takes_managed_gc_and_timeline():
    with golat.Pool(workers=1) as pool:
        r = pool.run(Alloc(size=1024, count=16, live_bytes=1 << 20), rate=20_000, requests=4000,
                     gc="managed", gc_threshold="8MiB", timeline=0.05)  # fmt: skip
    assert r.gc.managed and r.gc.controller_cycles >= 1
    assert int(r.timeline.count.sum()) == r.requests
