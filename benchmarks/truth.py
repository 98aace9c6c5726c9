"""Is golat's open loop as faithful as the simplest honest harness? golat against a
minimal C reference loop (benchmarks/truth_ref.c, compiled here with cc), both judged by
queueing theory.

Both sides run the same open loop on the same machine: arrivals at rate λ, constant or
Poisson; each request spins its service time S from its actual start (Spin, constant by
default, or exponential / lognormal with --dist); wait = actual start - intended start,
latency = completion - intended start. Each trial is a fresh process (golat: a spawned
Python child; C: the compiled binary), the two sides alternated over --pairs pairs per
point, each pair's order flipped. A point is a utilisation (λ = ρ / E[S]), an arrival
process, and the worker unpinned or pinned to one CPU (golat: cpus=[CPU]; C:
sched_setaffinity).

For Poisson arrivals the reference is Pollaczek-Khinchine, from each trial's own measured
service moments: W = λE[S²] / (2(1 - λE[S])). With --dist exp it is also M/M/1: mean
latency E[S] / (1 - ρ). For constant arrivals (and constant service) the wait is about 0,
so the table shows the mean waits in µs instead of ratios to P-K.

    python benchmarks/truth.py [--pairs 9] [--duration 1] [--service-ns 10000]
        [--dist const|exp|lognormal] [--sigma 1] [--cpu 1] [--points 0.5:poisson:unpinned,...]
        [--json out.json]

Prints, per point, the median (min-max) of each side's mean wait over P-K, and of golat's
mean wait over C's in the same pair. Target: golat/C <= 1.1 (median) at every point.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

GOLAT_TRIAL = """
import json, sys, warnings
import golat
a = json.loads(sys.argv[1])
warnings.simplefilter("ignore")
wl = golat.workloads.Spin(ns=a["service_ns"], dist=a["dist"], sigma=a["sigma"], seed=a["seed"]) \\
    if a["dist"] != "const" else golat.workloads.Spin(ns=a["service_ns"])
kw = dict(rate=a["rate"], arrivals=a["arrivals"], duration=a["duration"], warmup=a["warmup"],
          precision=3, seed=a["seed"])
if a["cpu"] >= 0:
    kw["cpus"] = [a["cpu"]]
r = golat.run(wl, **kw)
s = r.service
print(json.dumps({"requests": r.requests, "wait_ns": r.start_delay.mean,
                  "latency_ns": r.latency.mean, "service_ns": s.mean,
                  "service_sq_ns2": s.stddev ** 2 + s.mean ** 2,
                  "involuntary_switches": (r.workers[0].extra.get("counters") or {}).get(
                      "involuntary_switches", -1)}))
"""


def build_reference() -> str:
    out = Path(tempfile.mkdtemp(prefix="truth-")) / "truth_ref"
    subprocess.run([os.environ.get("CC", "cc"), "-O2", "-o", str(out), str(HERE / "truth_ref.c"),
                    "-lm"], check=True)  # fmt: skip
    return str(out)


def run_c(binary: str, a: dict) -> dict:
    p = subprocess.run([binary, str(a["rate"]), str(a["service_ns"]), a["dist"], str(a["sigma"]),
                        a["arrivals"], str(a["duration"]), str(a["warmup"]), str(a["seed"]),
                        str(a["cpu"])], capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(p.stdout)


def run_golat(a: dict) -> dict:
    p = subprocess.run([sys.executable, "-c", GOLAT_TRIAL, json.dumps(a)], capture_output=True,
                       text=True)  # fmt: skip
    if p.returncode != 0:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(p.stdout)


def pk_wait_ns(rate: float, m: dict) -> float:
    """Pollaczek-Khinchine mean wait from the trial's own service moments (ns)."""
    lam = rate / 1e9
    rho = lam * m["service_ns"]
    return float("inf") if rho >= 1 else lam * m["service_sq_ns2"] / (2 * (1 - rho))


def mm1_latency_ns(rate: float, m: dict) -> float:
    rho = rate / 1e9 * m["service_ns"]
    return float("inf") if rho >= 1 else m["service_ns"] / (1 - rho)


def spread(xs: list[float], fmt: str = "{:.2f}") -> str:
    xs = [x for x in xs if x == x]
    if not xs:
        return "n/a"
    return (fmt.format(statistics.median(xs)) + " (" + fmt.format(min(xs)) + "-"
            + fmt.format(max(xs)) + ")")  # fmt: skip


def parse_points(text: str) -> list[tuple[float, str, bool]]:
    out = []
    for p in text.split(","):
        rho, arrivals, pin = p.split(":")
        out.append((float(rho), arrivals, pin == "pinned"))
    return out


ALL_POINTS = ",".join(f"{rho}:{arr}:{pin}" for rho in (0.5, 0.8) for arr in ("poisson", "constant")
                      for pin in ("unpinned", "pinned"))  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=9)
    ap.add_argument("--duration", type=float, default=1.0, help="measured s per trial")
    ap.add_argument("--warmup", type=float, default=0.2)
    ap.add_argument("--service-ns", type=int, default=10_000)
    ap.add_argument("--dist", default="const", choices=["const", "exp", "lognormal"])
    ap.add_argument("--sigma", type=float, default=1.0, help="lognormal's sigma")
    ap.add_argument("--cpu", type=int, default=os.cpu_count() - 1, help="the pinned CPU")
    ap.add_argument("--points", default=ALL_POINTS, help="RHO:ARRIVALS:pinned|unpinned,...")
    ap.add_argument("--json", help="write every trial here")
    a = ap.parse_args()
    binary = build_reference()
    trials: list[dict] = []
    print(f"service {a.service_ns} ns ({a.dist}), {a.pairs} pairs a point, {a.duration} s "
          f"measured + {a.warmup} s warm-up a trial; pinned: CPU {a.cpu}", flush=True)  # fmt: skip
    header = (f"{'rho':>4} {'arrivals':9} {'pinned':7} {'golat wait/P-K':>22} "
              f"{'C wait/P-K':>22} {'golat/C wait':>22}")  # fmt: skip
    if a.dist == "exp":
        header += f" {'golat lat/MM1':>22} {'C lat/MM1':>22}"
    print(header, flush=True)
    for rho, arrivals, pinned in parse_points(a.points):
        rate = rho / (a.service_ns / 1e9)
        args = {"rate": rate, "service_ns": a.service_ns, "dist": a.dist, "sigma": a.sigma,
                "arrivals": arrivals, "duration": a.duration, "warmup": a.warmup,
                "cpu": a.cpu if pinned else -1}  # fmt: skip
        rows: dict[str, list[float]] = {k: [] for k in ("g_pk", "c_pk", "g_c", "g_w", "c_w",
                                                         "g_mm1", "c_mm1")}  # fmt: skip
        for i in range(a.pairs):
            one = dict(args, seed=i + 1)  # each pair its own arrivals, the same on both sides
            sides = [("golat", run_golat), ("c", lambda x: run_c(binary, x))]
            got = {}
            for name, fn in sides if i % 2 == 0 else sides[::-1]:
                got[name] = fn(one)
                trials.append({"point": [rho, arrivals, pinned], "side": name, "pair": i,
                               **got[name]})  # fmt: skip
            g, c = got["golat"], got["c"]
            rows["g_w"].append(g["wait_ns"] / 1e3)
            rows["c_w"].append(c["wait_ns"] / 1e3)
            rows["g_c"].append(g["wait_ns"] / c["wait_ns"] if c["wait_ns"] > 0 else float("nan"))
            if arrivals == "poisson":
                rows["g_pk"].append(g["wait_ns"] / pk_wait_ns(rate, g))
                rows["c_pk"].append(c["wait_ns"] / pk_wait_ns(rate, c))
            if a.dist == "exp":
                rows["g_mm1"].append(g["latency_ns"] / mm1_latency_ns(rate, g))
                rows["c_mm1"].append(c["latency_ns"] / mm1_latency_ns(rate, c))
        if arrivals == "poisson":
            g_col, c_col = spread(rows["g_pk"]), spread(rows["c_pk"])
        else:
            g_col = spread(rows["g_w"], "{:.1f}") + " µs"
            c_col = spread(rows["c_w"], "{:.1f}") + " µs"
        line = (f"{rho:>4} {arrivals:9} {'yes' if pinned else 'no':7} {g_col:>22} {c_col:>22} "
                f"{spread(rows['g_c']):>22}")  # fmt: skip
        if a.dist == "exp":
            line += f" {spread(rows['g_mm1']):>22} {spread(rows['c_mm1']):>22}"
        print(line, flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"args": vars(a), "trials": trials,
                                            "when": time.time()}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
