"""golat's first benchmark suite (pyperf): what the harness itself costs.

1. Harness floor: one noop request in closed loop (golat.run, from Python) against a plain Go
   loop that reads the clock twice (same process, same clock). Target: <= 1.3x.
2. Embedding cost: the same run document through Python (golat.run) and through a pure-Go
   runner of the same loop code (go_core/cmd/golatrun), alternated; P50 ratio target <= 1.05.

    python benchmarks/bench_core.py --fast              # pyperf options work
    python benchmarks/bench_core.py -o core.json        # keep pyperf's results
"""

from __future__ import annotations

import statistics
import sys
from pathlib import Path

import pyperf

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import build_go_runner, ratio_summary, run_go  # noqa: E402

import golat  # noqa: E402
from golat import _native, _run  # noqa: E402
from golat.workloads import Noop, Spin, Syscall  # noqa: E402

REQUESTS_PER_LOOP = 1000


def noop_requests(loops: int) -> float:
    """Seconds golat's loop took to serve loops * 1000 noop requests (measured in Go)."""
    r = golat.run(Noop(), requests=loops * REQUESTS_PER_LOOP)
    return r.measured_s


def clock_pairs(loops: int) -> float:
    return _native.clock_pair_loop(loops * REQUESTS_PER_LOOP) / 1e9


EMBEDDING_CASES = {
    "noop closed loop": dict(workload=Noop(), requests=300_000),
    "spin 2us at 50k/s": dict(workload=Spin(2000), rate=50_000, duration=1.0),
    "getpid closed loop": dict(workload=Syscall("getpid"), requests=200_000),
}


def embedding(reps: int) -> None:
    runner = build_go_runner()
    print(f"\nEmbedding cost: golat.run (Python) vs pure-Go runner, P50 of latency, {reps} "
          "alternated pairs each")  # fmt: skip
    for name, kw in EMBEDDING_CASES.items():
        wl = kw.pop("workload")
        prep = _run.prepare(wl, golat.RunSettings(warmup=0.1, **kw))
        doc = prep.doc
        kw["workload"] = wl
        ratios, py_p50, go_p50 = [], [], []
        for _ in range(reps):
            p = _run.execute(prep).latency.percentile(50)
            g = run_go(runner, doc)["latency_p50_ns"]
            py_p50.append(p)
            go_p50.append(g)
            ratios.append(p / g)
        py, go = statistics.median(py_p50), statistics.median(go_p50)
        print(f"  {name:<20} python P50 {py:>7.0f} ns, go P50 {go:>7.0f} ns, "
              f"ratio {ratio_summary(ratios)}")  # fmt: skip


def main() -> None:
    runner = pyperf.Runner()
    runner.metadata["description"] = "golat harness floor"
    a = runner.bench_time_func("golat_noop_request_x1000", noop_requests)
    b = runner.bench_time_func("go_clock_pair_x1000", clock_pairs)
    if a is None or b is None:  # a pyperf worker process
        return
    ra, rb = a.get_values(), b.get_values()
    print("\nHarness floor: golat noop request / plain Go loop reading the clock twice")
    print(f"  golat {statistics.median(ra) * 1e9 / REQUESTS_PER_LOOP:.1f} ns/request, "
          f"Go {statistics.median(rb) * 1e9 / REQUESTS_PER_LOOP:.1f} ns/iteration")  # fmt: skip
    ratios = [x / y for x, y in zip(ra, rb)]
    print(f"  ratio {ratio_summary(ratios)} (target <= 1.3x)")
    embedding(reps=5 if runner.args.fast else 9)


if __name__ == "__main__":
    main()
