"""golat.run: closed and open loop, warm-up, coordinated-omission correction, GC settings,
results, and bad input. No assertion here depends on how fast the machine is."""

from __future__ import annotations

import math

import numpy as np
import pytest

import golat
from golat import errors, runtime
from golat.workloads import Alloc, Noop, PooledAlloc, Spin, Syscall, parse


def test_closed_loop_serves_exactly_the_requests_asked():
    r = golat.run(Noop(), requests=5000, workers=2)
    assert r.requests == 5000 == r.latency.count == r.service.count
    assert sum(w.requests for w in r.workers) == 5000
    # closed loop: every request starts when the previous ends, so latency == service
    assert r.latency == r.service
    assert r.config["rate"] == 0.0


def test_open_loop_follows_its_schedule_and_skips_warmup():
    r = golat.run(Noop(), rate=10_000, duration=0.2, warmup=0.05)
    # the schedule has rate * duration intended starts in the window, however slow we are
    assert abs(r.requests - 2000) <= 1
    assert abs(r.warmup_requests - 500) <= 1
    assert r.latency.count == r.requests
    assert r.achieved_rate > 0 and r.measured_s > 0.19


def test_poisson_arrivals_run():
    r = golat.run(Noop(), rate=5000, duration=0.2, arrivals="poisson", seed=7)
    assert 500 < r.requests < 2000


def test_stall_shows_in_corrected_latency_for_every_queued_request():
    # 1000 req/s; one 50 ms stall at t=0.3 s. About 50 requests are due during the stall,
    # each delayed by up to 50 ms: corrected latency counts them all, service time once.
    r = golat.run(Spin(ns=20_000), rate=1000, duration=0.5, stall=golat.Stall(0.3, 0.05))
    assert r.stalls == 1
    lat_vals, lat_counts = r.latency.nonzero()
    svc_vals, svc_counts = r.service.nonzero()
    assert svc_counts[svc_vals >= 40e6].sum() == 1
    assert lat_counts[lat_vals >= 10e6].sum() >= 30
    assert r.value("p99") > 10 * r.value("p99", "service")


def test_gc_settings_apply_during_the_run_and_are_restored():
    before = runtime.gc_percent()
    r = golat.run(PooledAlloc(256, 4, 1 << 20), requests=2000, gc="off", memory_limit="1GiB")
    assert r.gc.gc_percent == -1 and r.gc.memory_limit == 1 << 30
    assert runtime.gc_percent() == before
    assert runtime.memory_limit() != 1 << 30


def test_allocating_workload_collects_and_pooled_one_does_not():
    alloc = golat.run(Alloc(4096, 64, 1 << 20), requests=20_000, gc=100)
    assert alloc.gc.cycles > 0
    assert alloc.gc.max_pause_ns > 0 and len(alloc.gc.pauses_ns) > 0
    pooled = golat.run(PooledAlloc(4096, 64, 1 << 20), requests=20_000, gc="off")
    assert pooled.gc.cycles == 0


@pytest.mark.parametrize("wl", [Syscall("getpid"), Syscall("pipe"), Spin(1000)])
def test_workloads_run(wl):
    r = golat.run(wl, requests=500)
    assert r.requests == 500
    assert r.value("p50", "service") > 0


def test_result_json_round_trip_and_summary():
    r = golat.run(Noop(), rate=20_000, duration=0.05)
    back = golat.Result.from_json(r.to_json())
    assert back.latency == r.latency and back.service == r.service
    assert back.requests == r.requests and back.config == r.config
    s = r.summary()
    assert list(s) == ["p50", "p90", "p99", "p99_9", "p99_99", "max", "mean", "stddev"]
    assert s["p50"] <= s["p99"] <= s["p99_99"] <= s["max"] * 1.01
    env = r.environment
    for key in ("cpu_model", "kernel", "go_version", "gomaxprocs", "cpu_affinity", "thp"):
        assert key in env
    assert "P99.99" in r.table()


def test_result_from_json_rejects_other_formats():
    with pytest.raises(errors.ConfigError, match="not a golat result"):
        golat.Result.from_json('{"format": "x"}')
    with pytest.raises(errors.ConfigError, match="version 99 is not supported"):
        golat.Result.from_json('{"format": "golat-result", "version": 99}')


def test_check_slo():
    r = golat.run(Spin(ns=2000), requests=200)
    assert r.check("p50<=1s,max<10s") is r
    with pytest.raises(errors.SLOViolation, match=r"p99<=1 ns broken: measured p99 = "):
        r.check("p99<=1ns")
    with pytest.raises(errors.ConfigError, match="cannot read SLO bound"):
        r.check("p99 about 1ms")


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rate": -1}, "rate"),
        ({"rate": 0}, "rate"),
        ({"rate": math.nan}, "finite"),
        ({"rate": "fast"}, "must be a number"),
        ({"duration": 0}, "duration"),
        ({"duration": -3}, "duration"),
        ({"requests": 0}, "requests"),
        ({"requests": 1.5}, "whole number"),
        ({"warmup": -1}, "warmup"),
        ({"arrivals": "bursty"}, "arrivals must be"),
        ({"stall": (1, 2)}, "stall must be"),
        ({"gc": "sometimes"}, "gc must be"),
        ({"gc": -5}, "gc must be >= -1"),
        ({"memory_limit": "lots"}, "memory_limit"),
        ({"workers": 0}, "workers"),
        ({"precision": 4}, "precision must be in 2..3"),
    ],
)
def test_bad_run_arguments(kwargs, match):
    with pytest.raises(errors.ConfigError, match=match):
        golat.run(Noop(), **{"requests": 10, **kwargs})


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: Spin(0), r"Spin\(ns\) must be in 1ns\.\.1min, got 0$"),
        (lambda: Spin(1.5), "whole number"),
        (lambda: Alloc(size=0), "size"),
        (lambda: Alloc(live_bytes=1 << 60), r"Alloc\(live_bytes\) must be in 0..1024TiB"),
        (lambda: Alloc(live_bytes=1 << 49), "more than half this machine's memory"),
        (lambda: Syscall("fork"), "'getpid', 'pipe'"),
        (lambda: golat.run("noop", requests=1), "workload must be a golat.workloads"),
        (lambda: parse("warp"), "unknown workload 'warp'"),
        (lambda: parse("spin:speed=3"), "unknown parameter 'speed'"),
        (lambda: parse("spin:ns=fast"), "cannot read 'fast' as a duration"),
    ],
)
def test_bad_workloads(make, match):
    with pytest.raises(errors.ConfigError, match=match):
        make()


def test_parse_workloads():
    assert parse("spin:10us") == Spin(10_000)
    assert parse("alloc:size=1KiB,count=16,live_bytes=256MiB") == Alloc(1024, 16, 256 << 20)
    assert parse("syscall:pipe") == Syscall("pipe")
    assert Alloc(64, 2).pooled() == PooledAlloc(64, 2)


def test_worker_histograms_merge_to_the_total():
    r = golat.run(Noop(), requests=3000, workers=3)
    total = r.workers[0].latency + r.workers[1].latency + r.workers[2].latency
    assert total == r.latency
    assert np.array_equal(total.counts, r.latency.counts)


def test_cpu_dma_latency_is_held_during_the_run_and_released(tmp_path, monkeypatch):
    from golat import _pmqos

    fake = tmp_path / "cpu_dma_latency"
    fake.write_bytes(b"")
    seen = {}

    real = _pmqos.cpu_dma_latency

    def spy(us, path=str(fake)):
        with real(us, path):
            seen["during"] = fake.read_bytes()
            yield

    import contextlib

    monkeypatch.setattr(_pmqos, "cpu_dma_latency", contextlib.contextmanager(spy))
    r = golat.run(Noop(), requests=100, cpu_dma_latency=0)
    assert seen["during"] == b"\x00\x00\x00\x00"  # an s32 0, as the kernel reads it
    assert r.extra["cpu_dma_latency_us"] == 0 and "cpu_dma_latency_us" not in r.config
    with pytest.raises(errors.ConfigError, match=r"cpu_dma_latency must be in 0\.\."):
        golat.run(Noop(), requests=10, cpu_dma_latency=-1e-6)
    with pytest.raises(errors.ConfigError, match="cpu_dma_latency must be a whole number of us"):
        golat.run(Noop(), requests=10, cpu_dma_latency=1e-9)


def test_cpu_dma_latency_errors(tmp_path):
    from golat import _pmqos

    with pytest.raises(errors.Unsupported, match="no .* \\(PM QoS\\)"):
        with _pmqos.cpu_dma_latency(0, str(tmp_path / "absent")):
            pass
    with _pmqos.cpu_dma_latency(None, str(tmp_path / "absent")):
        pass  # None touches nothing


def test_a_run_is_polled_rarely_until_its_planned_end_is_near():
    from golat._run import POLL_FAR_S, POLL_S, PROGRESS_S, poll_interval

    assert poll_interval(0.0, 60.0, False) == POLL_FAR_S
    assert poll_interval(0.0, 60.0, True) == PROGRESS_S
    assert poll_interval(59.9, 60.0, False) == pytest.approx(0.1)  # sleeps to the end
    assert poll_interval(59.99, 60.0, False) == POLL_S
    assert poll_interval(61.0, 60.0, True) == POLL_S  # past it: the run is ending
    assert poll_interval(1.0, float("nan"), False) == POLL_S  # ends at a request count
