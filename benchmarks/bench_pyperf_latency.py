"""A pyperf suite of golat latency benchmarks: each pyperf value is the P99 (or the
statistic named) of one golat run, in seconds.

Run:    python benchmarks/bench_pyperf_latency.py -o latency.json [--duration 0.5]
Read:   python -m pyperf stats latency.json; python -m pyperf hist latency.json
Compare two machines or settings: python -m pyperf compare_to before.json after.json

pyperf's stability warnings ("the shortest raw value is only ...") are about timer
resolution for back-to-back loops; here a value is a latency statistic, so a short one is
expected. Values spread more than usual: tail latency does vary from run to run.
"""

import pyperf

import golat.pyperf
from golat.workloads import Noop, Spin


def work() -> None:
    """A small Python function: the body measured through golat.measure."""
    sum(range(200))


def add_cmdline_args(cmd: list, args) -> None:
    cmd.extend(("--duration", str(args.duration)))


def main() -> None:
    runner = pyperf.Runner(add_cmdline_args=add_cmdline_args)
    runner.argparser.add_argument(
        "--duration", type=float, default=0.5, help="seconds per golat run (one pyperf value)"
    )
    d = runner.parse_args().duration
    bench = golat.pyperf.bench_latency
    bench(runner, "noop p99 closed loop", Noop(), duration=d)
    bench(runner, "spin 10us p99 at 20k/s", Spin(ns=10_000), rate=20_000, duration=d)
    bench(runner, "spin 10us p99.9 at 20k/s", Spin(ns=10_000), "p99.9", rate=20_000, duration=d)
    bench(runner, "python sum(range(200)) p99 at 5k/s", work, rate=5_000, duration=d)
    bench(
        runner, "python sum(range(200)) p99 at 5k/s, gc frozen", work, rate=5_000, duration=d,
        python_gc="freeze",
    )  # fmt: skip


if __name__ == "__main__":
    main()
