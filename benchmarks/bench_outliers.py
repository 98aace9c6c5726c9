"""What keeping the slowest requests costs: runs with the outlier record off
(``outliers=0``) and on (the default, 100 per worker), alternated, against the harness floor.

1. Per request, closed loop: ns per noop request off and on; the difference is the record's
   cost on the request path, compared with the harness floor (ns per noop request off,
   and the plain Go loop reading the clock twice).
2. Open loop, the latency it explains: spin 2 us at 20k/s, P50 / P99 / P99.9 off and on.
3. The issue's case: alloc 16 x 1 KiB per request, 256 MiB live, 20k/s, GC default:
   P99.9 off and on (GC makes this one noisy), and the process CPU per run.

    python benchmarks/bench_outliers.py --pairs 7

Prints the median of the per-pair figures and their spread (min-max). Other processes on
the machine add noise: say what ran beside it when quoting the figures.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import golat  # noqa: E402
from golat import _native  # noqa: E402
from golat.workloads import Alloc, Noop, Spin  # noqa: E402

NOOP_REQUESTS = 300_000


def spread(xs: list[float], fmt: str = "{:.1f}") -> str:
    return (f"median {fmt.format(statistics.median(xs))} "
            f"({fmt.format(min(xs))}..{fmt.format(max(xs))})")  # fmt: skip


def per_request(pairs: int) -> None:
    print(f"1. noop closed loop, {NOOP_REQUESTS:,} requests, ns per request ({pairs} pairs)")
    off, on, diff, pair = [], [], [], []
    for _ in range(pairs):
        a = golat.run(Noop(), requests=NOOP_REQUESTS, warmup=0.05, outliers=0)
        b = golat.run(Noop(), requests=NOOP_REQUESTS, warmup=0.05)
        x, y = a.measured_s * 1e9 / a.requests, b.measured_s * 1e9 / b.requests
        off.append(x)
        on.append(y)
        diff.append(y - x)
        pair.append(_native.clock_pair_loop(NOOP_REQUESTS) / NOOP_REQUESTS)
    print(f"   off {spread(off)} ns, on {spread(on)} ns")
    print(
        f"   on - off {spread(diff)} ns per request; harness floor (noop, off) "
        f"{statistics.median(off):.1f} ns, Go clock pair {statistics.median(pair):.1f} ns"
    )


def latency_pairs(label: str, pairs: int, **kw) -> None:
    print(f"{label} ({pairs} pairs; latency from intended start)")
    stats = ("p50", "p99", "p99.9")
    ratios: dict[str, list[float]] = {s: [] for s in stats}
    cpu_off, cpu_on = [], []
    for _ in range(pairs):
        a = golat.run(outliers=0, **kw)
        b = golat.run(**kw)
        for s in stats:
            ratios[s].append(b.value(s) / a.value(s))
        cpu_off.append(a.extra["process"]["cpu_s"])
        cpu_on.append(b.extra["process"]["cpu_s"])
    for s in stats:
        print(f"   {s} on/off {spread(ratios[s], '{:.3f}')}")
    print(f"   process CPU per run: off {spread(cpu_off, '{:.2f}')} s, on "
          f"{spread(cpu_on, '{:.2f}')} s")  # fmt: skip
    c = b.causes(99.9)
    if c is not None:
        from golat._format import cause_lines

        print("   last run with the record:", *cause_lines(b), sep="\n     ")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--skip-alloc", action="store_true")
    a = ap.parse_args()
    per_request(a.pairs)
    latency_pairs("2. spin 2us at 20k/s, 3 s", a.pairs, workload=Spin(2000), rate=20_000,
                  duration=3.0, warmup=0.2)  # fmt: skip
    if not a.skip_alloc:
        latency_pairs("3. alloc:size=1KiB,count=16,live_bytes=256MiB at 20k/s, GC default, 5 s",
                      a.pairs, workload=Alloc(size=1024, count=16, live_bytes=256 << 20),
                      rate=20_000, duration=5.0, warmup=0.5, gc="default")  # fmt: skip


if __name__ == "__main__":
    main()
