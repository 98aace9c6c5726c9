"""golat.compare: trials in child processes, interleaving, traces, table, Ctrl-C."""

import _thread
import json
import threading

import pytest

import golat
from golat import Stage
from golat._compare import DEFAULT_STAGES, resolve_stages
from golat.errors import ComparisonInterrupted, ConfigError, SLOViolation
from golat.workloads import Alloc, Spin

TINY = {"rate": 2000, "duration": 0.15, "warmup": 0.05}
TABLE_KEYS = {"stage", "p50_ns", "p99_ns", "p99_9_ns", "p99_99_ns", "max_ns", "mean_ns",
              "stddev_ns", "gc_cycles", "gc_max_pause_ns"}  # fmt: skip


@pytest.fixture(scope="module")
def two_stages():
    stages = [Stage("a", {"gc": "default"}, {"GOGC": "100"}),
              Stage("b", {"gc": "managed"}, {"GODEBUG": "schedtrace=50"}, pooled=True)]  # fmt: skip
    seen = []
    c = golat.compare(Alloc(size=1024, count=4, live_bytes=2 << 20), stages, trials=2,
                      progress=lambda d, n, t: seen.append((d, n, t.stage)), **TINY)  # fmt: skip
    return c, seen


def test_interleaved_trials_in_child_processes(two_stages):
    c, seen = two_stages
    assert [(t.stage, t.index, t.order) for t in c.trials] == [
        ("a", 0, 0), ("b", 0, 1), ("a", 1, 2), ("b", 1, 3)]  # fmt: skip
    assert seen == [(1, 4, "a"), (2, 4, "b"), (3, 4, "a"), (4, 4, "b")]
    assert all(t.ok for t in c.trials), [t.error for t in c.trials]
    # pooled=True ran the non-allocating variant
    assert c.trials[1].result.config["workload"]["kind"] == "pooled_alloc"
    assert c.trials[0].result.config["workload"]["kind"] == "alloc"


def test_stage_env_reaches_the_child_and_traces_are_parsed(two_stages):
    c, _ = two_stages
    b = c.trials[1]
    assert b.trace.sched, "schedtrace=50 set by the stage produced no SCHED lines"
    assert b.trace.sched[0].gomaxprocs >= 1
    # gctrace=1 is added beside the stage's GODEBUG; stage a allocates, so it has GC lines
    # (its 2 MiB live ring is built under GOGC=100)
    assert c.trials[0].trace.gc
    assert all(g.procs >= 1 for g in c.trials[0].trace.gc)


def test_table_has_the_outside_keys(two_stages):
    c, _ = two_stages
    rows = c.table()
    assert [r["stage"] for r in rows] == ["a", "b"]
    for r in rows:
        assert TABLE_KEYS <= set(r)
        assert r["trials"] == 2
    assert rows[1]["p99_ns_verdict"] == "too few trials"  # 2 trials cannot reach alpha
    assert rows[0]["p99_ns_ratio"] == pytest.approx(1.0)
    text = c.format()
    assert "P99.99" in text and "baseline: a" in text
    assert "| metric | a | b |" in c.markdown()


def test_json_round_trip(two_stages):
    c, _ = two_stages
    d = json.loads(c.to_json())
    assert d["format"] == "golat-comparison" and len(d["trials"]) == 4
    back = golat.Comparison.from_json(c.to_json())
    assert back.table()[1]["p99_ns"] == c.table()[1]["p99_ns"]
    assert back.trials[0].trace.gc == c.trials[0].trace.gc


def test_slo_on_comparison(two_stages):
    c, _ = two_stages
    assert c.violations("p99<=60s") == []
    broken = c.violations("p50<=1ns", stage="all")
    assert len(broken) == 2 and broken[0].startswith("a: p50<=1 ns broken")
    with pytest.raises(SLOViolation, match="b: p50"):
        c.check("p50<=1ns")
    with pytest.raises(ConfigError, match="no results"):
        c.violations("p99<=1ms", stage="zzz")


def test_self_control_in_the_table(two_stages):
    c, _ = two_stages
    # A stage compared with itself (its own trials as the baseline) says "no difference",
    # once there are enough trials to tell: fake 5 identical-configuration trials.
    import copy

    c2 = copy.copy(c)
    c2.trials = [copy.copy(t) for t in c.trials if t.stage == "a"] * 3
    for i, t in enumerate(c2.trials):
        t.index = i
    c2.stages = [Stage("a"), Stage("a2")]
    c2.trials += [copy.copy(t) for t in c2.trials]
    for t in c2.trials[len(c2.trials) // 2 :]:
        t.stage = "a2"
    row = c2.table()[1]
    assert row["p99_ns_verdict"] == "no difference" and row["p99_ns_ratio"] == 1.0


def test_default_stages_and_a_stage_with_an_unknown_setting():
    assert [s.name for s in resolve_stages(None)] == ["baseline", "gc", "lock", "numa"]
    assert resolve_stages("baseline,gc") == list(DEFAULT_STAGES[:2])
    with pytest.raises(golat.errors.ConfigError, match="stage 'odd': unknown setting 'turbo'"):
        Stage("odd", {"turbo": True})


def test_lock_and_numa_stages_run_where_run_takes_them():
    c = golat.compare(Spin(ns=1000), "lock,numa", trials=1, **TINY)
    assert c.skipped == {} and [t.stage for t in c.trials] == ["lock", "numa"]
    for t in c.trials:
        assert t.ok, t.error
        assert t.result.config["workload"]["kind"] == "spin"  # Spin's pooled() is itself
        th = t.result.workers[0].extra["thread"]
        assert th["cpu"] >= 0  # pinned by cpus="auto"
    row = c.table()[1]
    assert row["worker_nivcsw"] == row["worker_nivcsw"]  # locked workers report counters


@pytest.mark.parametrize(
    "args, kwargs, match",
    [
        (("nope",), {}, "unknown stage"),
        (([Stage("x"), Stage("x")],), {}, "unique"),
        ((None, 0), {}, "trials"),
        ((None,), {"baseline": "zzz"}, "baseline"),
        ((None,), {"speed": 3}, "unknown setting 'speed'"),
        (([("a", {"gc": "default"}, {"GOGC": 100})],), {}, "env must map"),
    ],
)
def test_bad_arguments(args, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        golat.compare(Spin(ns=1000), *args, **kwargs)


def test_bad_stage_settings_are_refused_before_the_first_trial():
    with pytest.raises(ConfigError, match="stage 'bad'.*gc must be"):
        Stage("bad", {"gc": "sometimes"})
    started = []
    stages = [Stage("fine"), Stage("later", {"cpus": [4096]})]  # a CPU this machine lacks
    with pytest.raises(ConfigError, match="stage 'later'.*4096"):
        golat.compare(Spin(ns=1000), stages, trials=1, progress=lambda *a: started.append(a),
                      **TINY)  # fmt: skip
    assert started == []  # refused before any trial ran
    with pytest.raises(ConfigError, match="stage 'gc_th'.*gc_threshold is only for gc='managed'"):
        golat.compare(Spin(ns=1000), [Stage("gc_th", {"gc_threshold": "1GiB"})], trials=1,
                      **TINY)  # fmt: skip


def test_ctrl_c_stops_and_keeps_what_was_measured():
    timers = []

    def progress(done, total, trial):
        if done == 1:  # Ctrl-C while the second trial's child is running
            t = threading.Timer(0.3, _thread.interrupt_main)
            timers.append(t)
            t.start()

    with pytest.raises(ComparisonInterrupted) as info:
        golat.compare(Spin(ns=1000), [Stage("a"), Stage("b")], trials=3, progress=progress,
                      rate=2000, duration=1.0)  # fmt: skip
    c = info.value.comparison
    assert c.interrupted and len(c.trials) == 1 and c.trials[0].ok
    assert "interrupted" in c.format()
    assert isinstance(info.value, KeyboardInterrupt)
    try:
        import psutil
    except ImportError:
        return
    assert psutil.Process().children() == []  # the running child was stopped and reaped
