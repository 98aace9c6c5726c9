"""golat.measure: Python callables driven by the Go loop (no wall-clock speed asserted)."""

import gc
import threading
import time

import pytest

import golat
from golat import _native
from golat.errors import ConfigError

MS = 1_000_000


def counter():
    calls = []
    return calls, lambda: calls.append(1)


def test_measure_calls_fn_for_every_request():
    calls, fn = counter()
    r = golat.measure(fn, requests=300, floor=False)
    assert r.requests == 300
    assert len(calls) == r.requests + r.warmup_requests
    assert r.latency.count == r.service.count == 300
    assert r.extra["python"]["errors"] == 0
    assert r.extra["python"]["first_error"] is None
    assert r.config["workload"]["kind"] == "python"
    assert "<lambda>" in r.config["workload"]["fn"]


def test_fn_runs_on_a_thread_python_did_not_start():
    seen = []
    golat.measure(lambda: seen.append(threading.get_ident()), requests=20, floor=False)
    assert seen and threading.main_thread().ident not in seen


def test_harness_floor_is_reported():
    r = golat.measure(lambda: None, requests=50)
    floor = r.extra["python"]["harness_floor_ns"]
    assert {"p50", "p99", "p99_99", "max", "stddev"} <= set(floor)
    assert 0 < floor["p50"] <= floor["p99"] <= floor["max"] * 1.01  # max is exact


def test_exceptions_are_counted_kept_and_stop_the_run():
    def boom():
        raise ValueError("broken on purpose")

    with pytest.warns(RuntimeWarning, match="3 call"):
        r = golat.measure(boom, requests=1000, max_errors=3, floor=False)
    py = r.extra["python"]
    assert py["errors"] == 3
    assert "ValueError: broken on purpose" in py["first_error"]
    assert "Traceback" in py["first_error"]
    assert r.requests + r.warmup_requests == 3  # stopped at the third
    assert _native.active_runs() == 0


def test_max_errors_none_keeps_going():
    n = [0]

    def every_other():
        n[0] += 1
        if n[0] % 2:
            raise KeyError(n[0])

    with pytest.warns(RuntimeWarning):
        r = golat.measure(every_other, requests=40, max_errors=None, floor=False)
    assert r.requests == 40
    assert r.extra["python"]["errors"] == 20


def test_base_exception_from_fn_stops_the_run_and_is_reraised():
    def leave():
        raise SystemExit(3)

    with pytest.raises(SystemExit):
        golat.measure(leave, duration=5, floor=False)
    assert _native.active_runs() == 0


def test_one_50ms_block_shows_in_corrected_p99_not_in_service_p99():
    n = [0]

    def blocks_once():
        n[0] += 1
        if n[0] == 100:
            time.sleep(0.05)

    # 400 calls at 1000/s: the ~50 calls queued behind the block wait 50, 49, 48 ... ms,
    # more than 1 % of the calls above 40 ms; service time has a single 50 ms call (0.25 %).
    r = golat.measure(blocks_once, rate=1000, requests=400, floor=False)
    assert r.value("p99") >= 40 * MS
    assert r.value("max", "service") >= 50 * MS
    assert r.value("p99", "service") < 40 * MS
    assert r.late_starts >= 10


@pytest.mark.parametrize("setting", ["disable", "freeze"])
def test_python_gc_applies_during_the_run_and_is_restored(setting):
    seen = []
    assert gc.isenabled() and gc.get_freeze_count() == 0
    r = golat.measure(
        lambda: seen.append((gc.isenabled(), gc.get_freeze_count())),
        requests=10, python_gc=setting, floor=False,
    )  # fmt: skip
    enabled, frozen = seen[0]
    if setting == "disable":
        assert not enabled
    else:
        assert enabled and frozen > 0
    assert gc.isenabled() and gc.get_freeze_count() == 0
    assert r.extra["python"]["python_gc"] == setting
    assert len(r.extra["python"]["gc"]["collections"]) == 3


@pytest.mark.parametrize("setting", ["disable", "freeze"])
def test_python_gc_is_restored_when_the_run_fails(setting):
    with pytest.raises(SystemExit):
        golat.measure(_exit, requests=10, python_gc=setting, floor=False)
    assert gc.isenabled() and gc.get_freeze_count() == 0


def _exit():
    raise SystemExit(1)


def test_python_gc_leaves_a_disabled_collector_disabled():
    gc.disable()
    try:
        golat.measure(lambda: None, requests=5, python_gc="disable", floor=False)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_python_gc_collections_are_counted():
    def garbage():
        for _ in range(50):
            a = []
            a.append(a)  # a cycle: only the collector frees it

    r = golat.measure(garbage, requests=200, floor=False)
    assert sum(r.extra["python"]["gc"]["collections"]) > 0
    r = golat.measure(garbage, requests=200, python_gc="disable", floor=False)
    assert sum(r.extra["python"]["gc"]["collections"]) == 0
    gc.collect()


def test_ctrl_c_stops_the_run_cleanly():
    def interrupt(served, elapsed_s, planned_s):
        if served > 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        golat.measure(
            lambda: time.sleep(0.001), rate=100, duration=30, python_gc="disable",
            progress=interrupt, floor=False,
        )  # fmt: skip
    assert _native.active_runs() == 0
    assert gc.isenabled()


def test_result_with_python_extra_round_trips_through_json():
    with pytest.warns(RuntimeWarning):
        r = golat.measure(_raise_once(), requests=20, max_errors=5)
    back = golat.Result.from_json(r.to_json())
    assert back.extra["python"] == r.extra["python"]
    assert back.summary() == r.summary()


def _raise_once():
    n = [0]

    def fn():
        n[0] += 1
        if n[0] == 1:
            raise RuntimeError("first call fails")

    return fn


@pytest.mark.parametrize(
    "kwargs, words",
    [
        ({"fn": 42}, "callable"),
        ({"fn": golat.workloads.Noop()}, "golat.run"),
        ({"python_gc": "off"}, "python_gc must be"),
        ({"max_errors": 0}, "max_errors"),
        ({"max_errors": 1.5}, "whole number"),
        ({"rate": -1}, "rate"),
        ({"arrivals": "bursty"}, "arrivals"),
    ],
)
def test_bad_arguments_say_what_is_allowed(kwargs, words):
    args = {"fn": lambda: None, "requests": 5, "floor": False, **kwargs}
    fn = args.pop("fn")
    with pytest.raises(ConfigError, match=words):
        golat.measure(fn, **args)
    assert gc.isenabled()
