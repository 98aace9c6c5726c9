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
        [--variants default,poll0.5,notimeline] [--json out.json]

--variants runs golat several ways in the same alternation, to measure suspects: default;
pollS (the Python thread polls the run every S s throughout; poll0.05 was golat's default
before it slept toward a run's planned end); notimeline (no per-interval record, so no
sampler goroutine).

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
import golat, golat._run
a = json.loads(sys.argv[1])
warnings.simplefilter("ignore")
v = a["variant"]
if v.startswith("poll"):  # the Python thread polls the run every S s
    golat._run.POLL_S = golat._run.POLL_FAR_S = float(v[4:])
wl = golat.workloads.Spin(ns=a["service_ns"], dist=a["dist"], sigma=a["sigma"], seed=a["seed"]) \\
    if a["dist"] != "const" else golat.workloads.Spin(ns=a["service_ns"])
kw = dict(rate=a["rate"], arrivals=a["arrivals"], duration=a["duration"], warmup=a["warmup"],
          precision=3, seed=a["seed"])
if a["cpu"] >= 0:
    kw["cpus"] = [a["cpu"]]
if v == "notimeline":
    kw["timeline"] = None
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
    return float("nan") if rho >= 1 else lam * m["service_sq_ns2"] / (2 * (1 - rho))


def mm1_latency_ns(rate: float, m: dict) -> float:
    rho = rate / 1e9 * m["service_ns"]
    return float("nan") if rho >= 1 else m["service_ns"] / (1 - rho)


def spread(xs: list[float], fmt: str = "{:.2f}") -> str:
    """'median (min-max)' of xs; a trial whose measured load reached 1 (nan) is counted
    apart: '+2 at load >= 1'."""
    over = sum(1 for x in xs if x != x)
    xs = [x for x in xs if x == x]
    tail = f" +{over} at load >= 1" if over else ""
    if not xs:
        return "n/a" + tail
    return (fmt.format(statistics.median(xs)) + " (" + fmt.format(min(xs)) + "-"
            + fmt.format(max(xs)) + ")" + tail)  # fmt: skip


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
    ap.add_argument("--variants", default="default", help="golat variants, comma-separated")
    ap.add_argument("--json", help="write every trial here")
    a = ap.parse_args()
    binary = build_reference()
    trials: list[dict] = []
    print(f"service {a.service_ns} ns ({a.dist}), {a.pairs} pairs a point, {a.duration} s "
          f"measured + {a.warmup} s warm-up a trial; pinned: CPU {a.cpu}", flush=True)  # fmt: skip
    variants = a.variants.split(",")
    header = f"{'rho':>4} {'arrivals':9} {'pinned':7} {'side':18} {'wait/P-K or wait µs':>24}"
    header += f" {'/C wait':>20} {'invol. switches':>16}"
    if a.dist == "exp":
        header += f" {'latency/M/M/1':>20}"
    print(header, flush=True)
    for rho, arrivals, pinned in parse_points(a.points):
        rate = rho / (a.service_ns / 1e9)
        args = {"rate": rate, "service_ns": a.service_ns, "dist": a.dist, "sigma": a.sigma,
                "arrivals": arrivals, "duration": a.duration, "warmup": a.warmup,
                "cpu": a.cpu if pinned else -1}  # fmt: skip
        sides = ["C", *(f"golat {v}" for v in variants)]
        got: dict[str, list[dict]] = {name: [] for name in sides}
        for i in range(a.pairs):
            one = dict(args, seed=i + 1)  # each round its own arrivals, the same on every side
            order = sides[i % len(sides) :] + sides[: i % len(sides)]  # rotate who goes first
            for name in order:
                if name == "C":
                    m = run_c(binary, one)
                else:
                    m = run_golat(dict(one, variant=name.split(" ", 1)[1]))
                got[name].append(m)
                trials.append({"point": [rho, arrivals, pinned], "side": name, "round": i, **m})
        for name in sides:
            ms = got[name]
            if arrivals == "poisson":
                col = spread([m["wait_ns"] / pk_wait_ns(rate, m) for m in ms])
            else:
                col = spread([m["wait_ns"] / 1e3 for m in ms], "{:.1f}") + " µs"
            vs_c = "" if name == "C" else spread(
                [m["wait_ns"] / c["wait_ns"] if c["wait_ns"] > 0 else float("nan")
                 for m, c in zip(ms, got["C"])])  # fmt: skip
            sw = spread([float(m.get("involuntary_switches", -1)) for m in ms
                         if m.get("involuntary_switches", -1) >= 0], "{:.0f}")  # fmt: skip
            line = (f"{rho:>4} {arrivals:9} {'yes' if pinned else 'no':7} {name:18} {col:>24} "
                    f"{vs_c:>20} {sw:>16}")  # fmt: skip
            if a.dist == "exp":
                line += f" {spread([m['latency_ns'] / mm1_latency_ns(rate, m) for m in ms]):>20}"
            print(line, flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps({"args": vars(a), "trials": trials,
                                            "when": time.time()}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
