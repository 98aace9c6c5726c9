"""golat.measure against the references it must agree with, measured in the same run.

1. time.sleep(1 ms) at 200 calls/s for 3 s: corrected and service P50 (expected just above
   1 ms: the sleep plus the kernel's wake-up and the harness floor).
2. Closed loop, the same functions (about 2 and 20 us) timed by pytest-benchmark (median of
   its rounds) and by golat.measure (median service time), interleaved A B A B over several
   trials: the ratio golat / pytest-benchmark and the difference per call.
3. The harness floor: a do-nothing Python function through golat (median service time)
   against the same call timed by timeit, and against golat's Go no-op floor.

Run: python benchmarks/bench_measure.py [--trials 3]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import timeit
from pathlib import Path

import golat
from golat.workloads import Noop

SIZES = (300, 3000)  # sum(range(n)): ~2 us (the floor shows) and ~20 us of Python


def pytest_benchmark_median_s(tmp: Path, n: int) -> float:
    test = tmp / "test_work.py"
    test.write_text(
        textwrap.dedent(f"""
        def work():
            sum(range({n}))

        def test_work(benchmark):
            benchmark(work)
        """)
    )
    out = tmp / "out.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(test),
         f"--benchmark-json={out}", "--benchmark-max-time=1.0", "--benchmark-min-rounds=20000"],
        check=True, capture_output=True, cwd=tmp,
    )  # fmt: skip
    (bench,) = json.loads(out.read_text())["benchmarks"]
    return bench["stats"]["median"]


def golat_median_s(n: int) -> float:
    def work() -> None:
        sum(range(n))

    # precision 3: 0.1 % buckets, so the median is not rounded up by 1 %
    r = golat.measure(work, duration=1.0, warmup=0.1, precision=3, floor=False)
    return r.value("p50", "service") / 1e9


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=3)
    args = ap.parse_args()

    r = golat.measure(lambda: time.sleep(0.001), rate=200, duration=3)
    print("1. golat.measure(lambda: time.sleep(0.001), rate=200, duration=3)")
    print(f"   latency P50 {r.value('p50') / 1e6:.3f} ms, P99 {r.value('p99') / 1e6:.3f} ms; "
          f"service P50 {r.value('p50', 'service') / 1e6:.3f} ms; {r.requests} calls, "
          f"{r.late_starts} late starts")  # fmt: skip

    for n in SIZES:
        pb, gl = [], []
        with tempfile.TemporaryDirectory() as d:
            for _ in range(args.trials):  # interleaved: A B A B ...
                pb.append(pytest_benchmark_median_s(Path(d), n))
                gl.append(golat_median_s(n))
        pb_m, gl_m = statistics.median(pb), statistics.median(gl)
        print(f"2. closed loop, sum(range({n})), {args.trials} interleaved trials")
        print(f"   pytest-benchmark median {pb_m * 1e6:.3f} us (trials: "
              f"{', '.join(f'{v * 1e6:.3f}' for v in pb)})")  # fmt: skip
        print(f"   golat.measure    median {gl_m * 1e6:.3f} us (trials: "
              f"{', '.join(f'{v * 1e6:.3f}' for v in gl)})")  # fmt: skip
        print(f"   ratio golat / pytest-benchmark = {gl_m / pb_m:.3f}; "
              f"difference {(gl_m - pb_m) * 1e9:+.0f} ns per call")  # fmt: skip

    floors, calls, go_floors = [], [], []
    for _ in range(args.trials):
        floors.append(golat.harness_floor(requests=20_000).value("p50", "service"))
        t = timeit.Timer(lambda: None)
        n = 200_000
        calls.append(min(t.repeat(5, n)) / n * 1e9)
        go_floors.append(golat.run(Noop(), requests=20_000).value("p50", "service"))
    f, c, g = (statistics.median(x) for x in (floors, calls, go_floors))
    print("3. harness floor (do-nothing function), medians of trials")
    print(f"   golat Python floor P50 {f:.0f} ns; plain Python call (timeit) {c:.0f} ns; "
          f"golat Go no-op floor P50 {g:.0f} ns")  # fmt: skip
    print(f"   golat adds {f - c:.0f} ns per call = {(f - c) / 2000:.2f} x the 2 us budget; "
          f"Python floor / Go floor = {f / g:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
