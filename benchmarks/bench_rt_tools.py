"""golat against the rt-tests reference tools, measured alternately in one run.

- Timer: golat ``Timer(interval, "clock_nanosleep")`` vs ``cyclictest``, same CPU, interval,
  policy and mlock; compares P50 and P99 wake-up latency.
- Jitter: golat ``Jitter()`` vs ``oslat``, same CPU and policy; compares max and P99.9 gap.

Every trial runs each tool in a fresh process (golat in a spawned Python child), in
A B / B A order so drift hits both alike. Values are put on the tools' own grids before
they are compared: cyclictest reports whole µs (truncated), oslat counts gaps in 1 µs
buckets labelled ``floor(µs) + 1``; golat's ns values are truncated / bucketed the same way.
The ratio golat / tool is computed per trial; the summary is the median with min..max.
Latencies (s) are saved as a pyperf suite with ``--output`` (``python -m pyperf stats``).

Run (root, rt-tests installed): ``python benchmarks/bench_rt_tools.py --trials 5``
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

CHILD = r"""
import json, sys, golat
from golat.workloads import Jitter, Timer
a = json.loads(sys.argv[1])
common = dict(duration=a["duration"], cpus=[a["cpu"]], policy=a["policy"], mlock=a["mlock"],
              cpu_dma_latency=None if a["dma_latency"] is None else a["dma_latency"] * 1e-6)
if a["what"] == "timer":
    r = golat.run(Timer(a["interval_us"] * 1e-6, "clock_nanosleep"), **common)
    h = r.start_delay
else:
    r = golat.run(Jitter(), **common)
    h = r.latency
ps = [50, 99, 99.9, 99.99]
print(json.dumps({"p": dict(zip(map(str, ps), h.percentiles(ps).tolist())), "max": int(h.max),
                  "count": int(h.count)}))
"""


def golat_child(what: str, args: argparse.Namespace, godebug: str = "") -> dict:
    doc = {"what": what, "duration": args.duration, "cpu": args.cpu, "interval_us": args.interval,
           "policy": args.policy, "mlock": args.policy is not None,
           "dma_latency": args.dma_latency}  # fmt: skip
    env = dict(os.environ, GODEBUG=godebug) if godebug else None
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(doc)], capture_output=True,
                         text=True, check=True, env=env)  # fmt: skip
    return json.loads(out.stdout)


def hist_percentile(hist: dict[int, int], p: float) -> float:
    """The value at percentile p of a {value: count} histogram (the tools' own buckets)."""
    total = sum(hist.values())
    rank = max(1, math.ceil(p / 100 * total))
    seen = 0
    for v in sorted(hist):
        seen += hist[v]
        if seen >= rank:
            return v
    return max(hist)


def cyclictest(args: argparse.Namespace, tmp: str) -> dict:
    path = os.path.join(tmp, "cyclictest.json")
    cmd = [
        "cyclictest",
        "-q",
        "-t",
        "1",
        "-a",
        str(args.cpu),
        "-i",
        str(args.interval),
        "-D",
        f"{args.duration}",
        "-h",
        "20000",
        f"--json={path}",
    ]
    # cyclictest holds /dev/cpu_dma_latency at 0 unless told otherwise; the same bound is
    # given to golat (cpu_dma_latency), or neither side touches it.
    if args.dma_latency is None:
        cmd.append("--default-system")
    else:
        cmd.append(f"--latency={args.dma_latency}")
    if args.policy:
        cmd += ["-p", args.policy.split(":")[1], "-m"]
    subprocess.run(cmd, check=True, capture_output=True)
    t = json.load(open(path))["thread"]["0"]
    hist = {int(k): int(v) for k, v in t["histogram"].items()}
    return {"p50": hist_percentile(hist, 50), "p99": hist_percentile(hist, 99), "max": t["max"],
            "count": sum(hist.values())}  # fmt: skip


def oslat(args: argparse.Namespace, tmp: str) -> dict:
    path = os.path.join(tmp, "oslat.json")
    others = [c for c in sorted(os.sched_getaffinity(0)) if c != args.cpu] or [args.cpu]
    cmd = ["oslat", "-q", "-c", str(args.cpu), "-C", str(others[0]), "-D", f"{args.duration}",
           "-b", "1024", f"--json={path}"]  # fmt: skip
    if args.policy:
        cmd += ["-f", args.policy.split(":")[1]]
    subprocess.run(cmd, check=True, capture_output=True)
    t = json.load(open(path))["thread"]["0"]
    hist = {int(k): int(v) for k, v in t["histogram"].items()}
    return {"p99_9": hist_percentile(hist, 99.9), "p99_99": hist_percentile(hist, 99.99),
            "max": t["max"], "count": sum(hist.values())}  # fmt: skip


def golat_timer(args) -> dict:
    r = golat_child("timer", args)
    us = lambda ns: math.floor(ns / 1000)  # noqa: E731 - cyclictest truncates to whole µs
    return {"p50": us(r["p"]["50"]), "p99": us(r["p"]["99"]), "max": us(r["max"]),
            "count": r["count"]}  # fmt: skip


def golat_jitter(args, godebug: str = "") -> dict:
    r = golat_child("jitter", args, godebug)
    bucket = lambda ns: math.floor(ns / 1000) + 1  # noqa: E731 - oslat's bucket label
    return {"p99_9": bucket(r["p"]["99.9"]), "p99_99": bucket(r["p"]["99.99"]),
            "max": bucket(r["max"]), "count": r["count"]}  # fmt: skip


def golat_jitter_nopreempt(args) -> dict:
    """Jitter in a child started with GODEBUG=asyncpreemptoff=1: the runtime no longer
    preempts the busy loop every 10 ms (a start-up setting, hence the child)."""
    return golat_jitter(args, "asyncpreemptoff=1")


PAIRS = {
    "timer": (golat_timer, cyclictest, "cyclictest", ("p50", "p99", "max")),
    "jitter": (golat_jitter, oslat, "oslat", ("p99_9", "p99_99", "max")),
    "jitter-asyncpreemptoff": (golat_jitter_nopreempt, oslat, "oslat", ("p99_9", "p99_99", "max")),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--duration", type=int, default=3, help="seconds per tool per trial")
    ap.add_argument("--cpu", type=int, default=max(os.sched_getaffinity(0)))
    ap.add_argument("--interval", type=int, default=200, help="timer interval, µs")
    ap.add_argument("--policy", default="fifo:80", help="fifo:P, rr:P or 'none'")
    ap.add_argument("--only", choices=sorted(PAIRS), default=None)
    ap.add_argument(
        "--dma-latency",
        default="0" if os.geteuid() == 0 else "none",
        help="/dev/cpu_dma_latency bound (µs) held by both tools, or 'none' "
        "(default 0 as root, cyclictest's own default)",
    )
    ap.add_argument("--output", help="write the latencies (s) as a pyperf suite (JSON)")
    args = ap.parse_args()
    args.policy = None if args.policy in ("none", "") else args.policy
    args.dma_latency = None if args.dma_latency in ("none", "") else int(args.dma_latency)
    for tool in ("cyclictest", "oslat"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} not found: apt-get install rt-tests")
    pairs = [args.only] if args.only else list(PAIRS)
    results: dict[str, dict[str, list[dict]]] = {p: {"golat": [], "tool": []} for p in pairs}
    with tempfile.TemporaryDirectory() as tmp:
        for trial in range(args.trials):
            for name in pairs:
                ours, theirs, _, _ = PAIRS[name]
                order = [("golat", ours), ("tool", lambda a, f=theirs: f(a, tmp))]
                for who, fn in order if trial % 2 == 0 else order[::-1]:
                    results[name][who].append(fn(args))
            print(f"trial {trial + 1}/{args.trials} done", file=sys.stderr)
    report(results, args)


def report(results: dict, args: argparse.Namespace) -> None:
    print(f"CPU {args.cpu}, policy {args.policy or 'SCHED_OTHER'}, cpu_dma_latency "
          f"{args.dma_latency}, {args.duration} s per tool per trial, {args.trials} trials, "
          "alternating; µs on the tool's grid")  # fmt: skip
    suite = []
    for name, res in results.items():
        _, _, tool, stats = PAIRS[name]
        print(f"\n{name}: golat vs {tool}" + (f" (interval {args.interval} µs)" if name == "timer"
                                             else ""))  # fmt: skip
        print(f"  {'stat':<8}{'golat median':>14}{tool + ' median':>18}  ratio median [min..max]")
        for s in stats:
            g = [r[s] for r in res["golat"]]
            t = [r[s] for r in res["tool"]]
            ratios = [a / b if b else math.inf for a, b in zip(g, t)]
            print(
                f"  {s:<8}{statistics.median(g):>14g}{statistics.median(t):>18g}  "
                f"{statistics.median(ratios):.2f} [{min(ratios):.2f}..{max(ratios):.2f}]"
            )
            suite.append((f"{name}-{s}-golat", [max(v, 1) * 1e-6 for v in g]))
            suite.append((f"{name}-{s}-{tool}", [max(v, 1) * 1e-6 for v in t]))
        print(
            f"  samples per trial: golat {res['golat'][0]['count']:,}, "
            f"{tool} {res['tool'][0]['count']:,}"
        )
    if args.output:
        import pyperf

        benches = [pyperf.Benchmark([pyperf.Run(vals, metadata={"name": n, "unit": "second"},
                                                collect_metadata=False)])
                   for n, vals in suite]  # fmt: skip
        pyperf.BenchmarkSuite(benches).dump(args.output, replace=True)
        print(f"\npyperf suite written to {args.output}")


if __name__ == "__main__":
    main()
