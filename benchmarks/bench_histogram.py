"""Time golat's Histogram: percentiles of a 1e8-sample histogram, and record throughput.

Run: python benchmarks/bench_histogram.py
"""

import statistics
import time

import numpy as np

from golat._histogram import Histogram

PS = [50, 90, 99, 99.9, 99.99, 100]


def main() -> None:
    rng = np.random.default_rng(0)
    values = rng.lognormal(mean=np.log(200_000), sigma=1.0, size=1_000_000).astype(np.int64) + 1
    for precision in (2, 3):
        h = Histogram(precision)
        start_s = time.perf_counter()
        for _ in range(100):  # 1e8 samples
            h.record(values)
        record_s = time.perf_counter() - start_s
        calls_s = []
        for _ in range(200):
            start_s = time.perf_counter()
            h.percentiles(PS)
            h.record(1)  # drop the cached cumsum so every call pays for it
            calls_s.append(time.perf_counter() - start_s)
        print(
            f"precision {precision}: percentiles({len(PS)} ps) on {h.count:.0e} samples: "
            f"median {statistics.median(calls_s) * 1e3:.3f} ms over 200 calls (uncached); "
            f"record: {h.count / record_s / 1e6:.1f} M values/s (1e6-value arrays)"
        )


if __name__ == "__main__":
    main()
