"""The golat_latency fixture, run inside an inner pytest session (pytester)."""

import json

import pytest

from golat import Histogram

INNER = """
import golat

def work():
    sum(range(100))

def test_python_callable(benchmark, golat_latency):
    benchmark(work)
    r = golat_latency(work, rate=2000, requests=200)
    assert r.requests == 200

def test_go_workload_with_label(benchmark, golat_latency):
    benchmark(work)
    golat_latency(golat.workloads.Noop(), requests=500, label="noop").check("p50<=1s")

def test_without_benchmark(golat_latency):
    assert golat_latency(work, requests=50, floor=False).requests == 50
"""


def _bench(doc, name):
    (entry,) = [b for b in doc["benchmarks"] if b["name"] == name]
    return entry


def test_percentiles_land_in_benchmark_json(pytester):
    pytester.makepyfile(test_inner=INNER)
    out = pytester.path / "bench.json"
    res = pytester.runpytest_subprocess(
        f"--benchmark-json={out}", "--benchmark-min-rounds=3", "--benchmark-max-time=0.01",
        "-p", "no:cacheprovider",
    )  # fmt: skip
    res.assert_outcomes(passed=3)
    doc = json.loads(out.read_text())
    info = _bench(doc, "test_python_callable")["extra_info"]["golat"]
    assert info["unit"] == "s"
    assert info["requests"] == 200
    lat = info["latency"]
    for key in ("p50", "p90", "p99", "p99_9", "p99_99", "max", "stddev"):
        assert lat[key] > 0, key
    # percentiles are bucket tops (1 % wide), max is exact
    assert lat["p50"] <= lat["p99"] <= lat["p99_99"] <= lat["max"] * 1.01
    assert lat["max"] < 10  # seconds, not ns
    assert info["workload"].startswith("python:") and info["workload"].endswith("work")
    assert info["errors"] == 0 and info["harness_floor"]["p50"] > 0
    # the whole histogram comes back from HdrHistogram's encoding, in ns
    h = Histogram.decode(info["latency_hdr"])
    assert h.count == 200
    assert h.percentile(99) == pytest.approx(lat["p99"] * 1e9, rel=0.01)
    noop = _bench(doc, "test_go_workload_with_label")["extra_info"]
    assert set(noop) == {"noop"} and noop["noop"]["workload"] == "noop"
    assert noop["noop"]["latency"]["p99_99"] > 0


def test_check_failure_names_the_bound_and_the_measured_value(pytester):
    pytester.makepyfile(
        test_slo="""
import time

def test_slow(golat_latency):
    golat_latency(lambda: time.sleep(0.002), requests=5, floor=False).check("p99<=1ms")
"""
    )
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    res.assert_outcomes(failed=1)
    res.stdout.re_match_lines([r".*SLOViolation: p99<=1 ?ms broken: measured p99 = \d.*ms"])
    assert "_result.py" not in res.stdout.str()  # the check's own frame is hidden


def test_target_must_be_a_workload_or_callable(pytester):
    pytester.makepyfile(
        test_bad="""
import pytest
from golat.errors import ConfigError

def test_bad(golat_latency):
    with pytest.raises(ConfigError, match="workload or a callable"):
        golat_latency(42)
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_saved_runs_carry_percentiles_for_compare(pytester):
    pytester.makepyfile(test_inner=INNER)
    storage = pytester.path / "store"
    common = (f"--benchmark-storage=file://{storage}", "--benchmark-max-time=0.01",
              "-p", "no:cacheprovider", "-k", "python_callable")  # fmt: skip
    pytester.runpytest_subprocess("--benchmark-autosave", *common).assert_outcomes(passed=1)
    res = pytester.runpytest_subprocess("--benchmark-compare", "--benchmark-autosave", *common)
    res.assert_outcomes(passed=1)
    res.stdout.fnmatch_lines(["*test_python_callable (0001*"])  # compared with the first run
    saved = sorted(storage.rglob("*.json"))
    assert len(saved) == 2
    for path in saved:
        (entry,) = json.loads(path.read_text())["benchmarks"]
        lat = entry["extra_info"]["golat"]["latency"]
        assert lat["p99"] > 0 and lat["p99_99"] > 0
