"""The fleet path's overhead: time from the ``golat.fleet.run`` call to the first request,
two Dask workers on loopback (a scheduler and two workers, each its own process), against
the same run in one fresh local process (from ``Popen`` to its first request: spawn, import
golat, load the core, start). Alternated A B / B A, each pair's order flipped.

    python benchmarks/bench_fleet.py [--pairs 7] [--json out.json]

Prints the median and min-max of each side, the fleet's own breakdown (hosts ready, start
margin), and the fleet minus the local figure. Needs ``golat[fleet]``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LOCAL = (
    "import golat;from golat.workloads import Noop;"
    "r=golat.run(Noop(),rate=1000,duration=0.2,timeline=None);print(r.start_unix_ns)"
)


def start_cluster(d: Path) -> tuple[str, list[subprocess.Popen]]:
    sched = d / "scheduler.json"
    procs = [subprocess.Popen(
        [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
         "--port", "0", "--no-dashboard", "--scheduler-file", str(sched)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]  # fmt: skip
    while not sched.exists():
        time.sleep(0.1)
    for name in ("w1", "w2"):
        procs.append(subprocess.Popen(
            [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(sched),
             "--name", name, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host",
             "127.0.0.1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))  # fmt: skip
    return json.loads(sched.read_text())["address"], procs


def fleet_once(client) -> dict[str, float]:
    from golat import fleet
    from golat.workloads import Noop

    called = time.time_ns()
    r = fleet.run(Noop(), client=client, rate=2000, duration=0.2, timeline=None)
    f = r.extra["fleet"]
    first = max(x.start_unix_ns for x in r.inputs)
    ready = max(h["ready_unix_ns"] for h in f["hosts"])
    return {"first_request_s": (first - called) / 1e9, "hosts_ready_s": (ready - called) / 1e9,
            "agreed_start_s": f["startup_s"]}  # fmt: skip


def local_once() -> float:
    t0 = time.time_ns()
    out = subprocess.run([sys.executable, "-c", LOCAL], capture_output=True, text=True,
                         check=True, cwd=tempfile.gettempdir())  # fmt: skip
    return (int(out.stdout.split()[-1]) - t0) / 1e9


def spread(xs: list[float]) -> str:
    return f"{statistics.median(xs) * 1e3:8.1f} ms  ({min(xs) * 1e3:.1f} - {max(xs) * 1e3:.1f})"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=7)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    import distributed

    with tempfile.TemporaryDirectory(prefix="bench-fleet-") as d:
        address, procs = start_cluster(Path(d))
        try:
            with distributed.Client(address) as client:
                client.wait_for_workers(2, timeout=120)
                fleet_once(client)  # warm: the workers import golat once
                local_once()
                fl: list[dict[str, float]] = []
                lo: list[float] = []
                for i in range(args.pairs):
                    for side in ("fleet", "local") if i % 2 == 0 else ("local", "fleet"):
                        if side == "fleet":
                            fl.append(fleet_once(client))
                        else:
                            lo.append(local_once())
        finally:
            for p in reversed(procs):
                p.terminate()
                p.wait(10)
    first = [x["first_request_s"] for x in fl]
    extra = [f - loc for f, loc in zip(first, lo)]
    ready = [x["hosts_ready_s"] for x in fl]
    agreed = [x["agreed_start_s"] for x in fl]
    print(f"{args.pairs} pairs, alternated; median (min - max)")
    print(f"fleet.run, 2 Dask workers: call -> first request   {spread(first)}")
    print(f"  of which: call -> every host ready                {spread(ready)}")
    print(f"            call -> agreed start instant            {spread(agreed)}")
    print(f"golat.run in a fresh local process: Popen -> first {spread(lo)}")
    print(f"fleet minus local, pair by pair:                    {spread(extra)}")
    if args.json:
        Path(args.json).write_text(json.dumps({"fleet": fl, "local_s": lo}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
