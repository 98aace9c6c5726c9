"""golat.pyperf.bench_latency: files that pyperf's own commands read."""

import subprocess
import sys
from pathlib import Path

import pytest

import golat.pyperf
from golat import Histogram
from golat.errors import ConfigError
from golat.workloads import Noop

pyperf = pytest.importorskip("pyperf")

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = """
import pyperf
import golat.pyperf
from golat.workloads import Noop, Spin

def add(cmd, args):
    cmd.extend(("--spin", str(args.spin)))

runner = pyperf.Runner(add_cmdline_args=add)
runner.argparser.add_argument("--spin", type=int, default=0)
spin = runner.parse_args().spin
golat.pyperf.bench_latency(runner, "latency", Spin(ns=spin) if spin else Noop(),
                           rate=5000, duration=0.02)
golat.pyperf.bench_latency(runner, "python", lambda: None, "p50", requests=200)
"""
WORKER_ARGS = ("--processes", "2", "--values", "2", "--warmups", "1")


def _py(*args, cwd):
    res = subprocess.run([sys.executable, *args], cwd=cwd, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr
    return res.stdout


def test_pyperf_stats_hist_and_compare_to_read_the_output(tmp_path):
    (tmp_path / "suite.py").write_text(SCRIPT)
    _py("suite.py", *WORKER_ARGS, "-o", "a.json", "--quiet", cwd=tmp_path)
    _py("suite.py", *WORKER_ARGS, "-o", "b.json", "--quiet", "--spin", "20000", cwd=tmp_path)
    stats = _py("-m", "pyperf", "stats", "a.json", cwd=tmp_path)
    assert "Number of values" in stats or "Total number of values: 4" in stats
    assert "Median" in stats
    assert "#" in _py("-m", "pyperf", "hist", "b.json", cwd=tmp_path)
    compared = _py("-m", "pyperf", "compare_to", "a.json", "b.json", cwd=tmp_path)
    assert "latency" in compared or "not significant" in compared

    suite = pyperf.BenchmarkSuite.load(str(tmp_path / "a.json"))
    bench = suite.get_benchmark("latency")
    assert bench.get_unit() == "second"
    assert bench.get_nvalue() == 4  # 2 processes x 2 values, each one golat run
    assert all(0 < v < 10 for v in bench.get_values())  # seconds
    md = bench.get_metadata()
    assert md["golat_stat"] == "p99" and md["golat_workload"] == "noop"
    assert md["loops"] == 1
    for run in bench.get_runs():
        if not run.values:
            continue
        rmd = run.get_metadata()
        for key in ("golat_p50", "golat_p99", "golat_p99_99", "golat_max", "golat_stddev"):
            assert rmd[key] >= 0, key
        h = Histogram.decode(rmd["golat_latency_hdr"])
        assert h.count == rmd["golat_requests"] == 2 * 100  # the value runs, not the warmup
        assert max(run.values) <= rmd["golat_max"] * 1.01  # p99 is a bucket top, max exact
    py = suite.get_benchmark("python")
    assert py.get_metadata()["golat_stat"] == "p50"
    assert py.get_metadata()["golat_workload"].startswith("python:")


def test_the_benchmarks_suite_runs(tmp_path):
    suite = ROOT / "benchmarks" / "bench_pyperf_latency.py"
    out = tmp_path / "suite.json"
    _py(str(suite), "--debug-single-value", "--duration", "0.02", "-o", str(out), cwd=tmp_path)
    names = pyperf.BenchmarkSuite.load(str(out)).get_benchmark_names()
    assert len(names) == 5
    assert "Number of benchmarks: 5" in _py("-m", "pyperf", "stats", str(out), cwd=tmp_path)


@pytest.mark.parametrize(
    "args, kwargs, words",
    [
        (("x", Noop(), "p101x"), {}, "unknown statistic"),
        (("x", Noop(), "median"), {}, "unknown statistic"),
        (("x", Noop()), {"which": "queue"}, "which must be"),
        (("x", Noop()), {"rate": -5}, "rate"),
        (("x", Noop()), {"floor": True}, "floor are for Python callables"),
        (("x", Noop()), {"speed": 3}, "unknown setting 'speed'"),
        (("x", 42), {}, "golat workload or a callable"),
        (("", Noop()), {}, "name"),
    ],
)
def test_bad_arguments_fail_before_any_worker_starts(args, kwargs, words):
    with pytest.raises(ConfigError, match=words):
        golat.pyperf.bench_latency(object(), *args, **kwargs)
