"""golat.runtime: GC percent, memory limit, GC on demand, GOMAXPROCS, metrics."""

from __future__ import annotations

import math

import pytest

from golat import errors, runtime


def test_gc_percent_set_returns_previous_and_restores():
    before = runtime.gc_percent()
    try:
        assert runtime.set_gc_percent(50) == before
        assert runtime.gc_percent() == 50
        assert runtime.set_gc_percent("off") == 50
        assert runtime.gc_percent() == -1
    finally:
        runtime.set_gc_percent(before)
    assert runtime.gc_percent() == before


def test_memory_limit_round_trip():
    before = runtime.memory_limit()
    try:
        assert runtime.set_memory_limit("1GiB") == before
        assert runtime.memory_limit() == 1 << 30
    finally:
        runtime.set_memory_limit(before)


def test_gc_counts_a_forced_cycle_and_metrics_subtract():
    a = runtime.metrics()
    runtime.gc()
    b = runtime.metrics()
    d = b - a
    assert d.gc_cycles >= 1 and d.gc_forced >= 1
    assert d.gc_pauses.total >= 1
    assert d.gc_pauses.max() > 0
    assert b.go_version.startswith("go")
    assert b.goroutines >= 1 and b.heap_goal_bytes > 0


def test_gomaxprocs():
    n = runtime.gomaxprocs()
    try:
        assert runtime.set_gomaxprocs(1) == n
        assert runtime.gomaxprocs() == 1
    finally:
        runtime.set_gomaxprocs(n)


@pytest.mark.parametrize(
    "call, arg, match",
    [
        (runtime.set_gc_percent, -2, "gc percent must be >= -1"),
        (runtime.set_gc_percent, 1.5, "whole number"),
        (runtime.set_gc_percent, "fast", "must be a number"),
        (runtime.set_gc_percent, math.nan, "finite"),
        (runtime.set_memory_limit, 0, "memory limit must be >= 1"),
        (runtime.set_memory_limit, "lots", "cannot read 'lots' as a size"),
        (runtime.set_gomaxprocs, 0, "gomaxprocs must be >= 1"),
        (runtime.set_gomaxprocs, True, "must be a number"),
    ],
)
def test_bad_input(call, arg, match):
    with pytest.raises(errors.ConfigError, match=match):
        call(arg)


def test_runtime_histogram_percentile_takes_0_to_100_like_histogram():
    """One scale for percentiles: RuntimeHistogram.percentile(99) as Histogram.percentile(99)
    (it was quantile(0.99) once)."""
    from golat.runtime import RuntimeHistogram

    h = RuntimeHistogram.from_dict({"buckets": [0.0, 1.0, 2.0, 3.0, 4.0], "counts": [50, 40, 9, 1]})
    assert h.percentile(50) == 1.0 and h.percentile(90) == 2.0 and h.percentile(99) == 3.0
    assert h.percentile(100) == 4.0 and h.max() == 4.0
    assert not hasattr(h, "quantile")
    for bad in (-1, 100.5, True, "99"):
        with pytest.raises(errors.ConfigError, match="percentile must be a number in 0..100"):
            h.percentile(bad)
