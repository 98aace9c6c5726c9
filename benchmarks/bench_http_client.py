"""golat's HTTP client against servers on loopback: which engine is the most faithful, and
the issue's done-when command against nginx and ``golat serve``.

    python benchmarks/bench_http_client.py engines [--reps 7] [--seconds 2]
    python benchmarks/bench_http_client.py done-when [--reps 7] [--seconds 30]

Every trial is ``golat run http:url=... --json -`` in a fresh process (so the thread count
and peak RSS it reports are that trial's), the sides alternated in rotating order, and the
tables give the median with min..max of each figure.

engines: nginx (1 worker, a 2-byte file) answers every engine at a rate it meets easily, so
the server is never the bottleneck and the client's own distortion shows: its start delay
(send - intended start, in the latency of every request) and the latency over the
reference round trip (one connection, closed loop, blocking: the least a client adds).

done-when: ``golat run http:url=http://127.0.0.1:PORT/ --rate 20000 --connections 1000
--duration 30s`` against nginx and against ``golat serve`` (default settings).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import statistics
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402


@contextlib.contextmanager
def nginx() -> Iterator[str]:
    """nginx (1 worker, a 2-byte page) on loopback; yields its URL."""
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    with peers.nginx_server(exe, body=b"ok") as addr:
        yield f"http://{addr}/"


golat_run = peers.golat_run


def fmt_ns(v: float) -> str:
    if v != v:
        return "-"
    for unit, div in (("s", 1e9), ("ms", 1e6), ("µs", 1e3)):
        if v >= div:
            return f"{v / div:.3g} {unit}"
    return f"{v:.0f} ns"


def cell(vals: list[float], kind: str) -> str:
    f = {"ns": fmt_ns, "rate": lambda v: f"{v:,.0f}", "n": lambda v: f"{v:,.0f}",
         "s": lambda v: f"{v:.2f}", "mib": lambda v: f"{v:.0f}"}[kind]  # fmt: skip
    med = statistics.median(vals)
    return f"{f(med)} ({f(min(vals))}..{f(max(vals))})" if len(vals) > 1 else f(med)


COLUMNS = [("p50", "P50", "ns"), ("p99", "P99", "ns"), ("p99_9", "P99.9", "ns"),
           ("service_p50", "service P50", "ns"), ("delay_p50", "start delay P50", "ns"),
           ("delay_p99", "start delay P99", "ns"), ("rate", "achieved req/s", "rate"),
           ("errors", "errors", "n"), ("queued", "queued", "n"), ("threads", "threads", "n"),
           ("rss_mib", "peak RSS MiB", "mib"), ("cpu_s", "CPU s", "s")]  # fmt: skip


def table(rows: dict[str, list[dict[str, Any]]], lead: str) -> str:
    head = f"| {lead} | " + " | ".join(c[1] for c in COLUMNS) + " |"
    out = [head, "|" + "---|" * (len(COLUMNS) + 1)]
    for name, trials in rows.items():
        out.append(f"| {name} | " + " | ".join(cell([t[k] for t in trials], kind)
                                                for k, _, kind in COLUMNS) + " |")  # fmt: skip
    return "\n".join(out)


def alternate(sides: dict[str, Any], reps: int) -> dict[str, list[dict[str, Any]]]:
    """Run every side reps times, in rotating order (A B C, B C A, ...)."""
    names = list(sides)
    out: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for r in range(reps):
        for n in names[r % len(names) :] + names[: r % len(names)]:
            t = sides[n]()
            out[n].append(t)
            print(f"  rep {r + 1} {n}: P50 {fmt_ns(t['p50'])} P99 {fmt_ns(t['p99'])} "
                  f"delay P99 {fmt_ns(t['delay_p99'])} {t['rate']:,.0f} req/s "
                  f"{t['threads']} threads", file=sys.stderr, flush=True)  # fmt: skip
    return out


SCENARIOS = [(2, 2000), (100, 5000), (1000, 10000)]


def engines(args: argparse.Namespace) -> str:
    secs = f"{args.seconds:g}s"
    parts = []
    with nginx() as url:
        common = ["--duration", secs, "--warmup", "500ms"]
        ref = alternate({"reference": lambda: golat_run(f"http:url={url}", "--requests", "20000",
                                                         "--warmup", "500ms")}, 3)  # fmt: skip
        parts.append("Reference round trip (1 connection, closed loop, blocking engine): "
                     f"P50 {cell([t['p50'] for t in ref['reference']], 'ns')}, "
                     f"`{ref['reference'][0]['command']}`")  # fmt: skip
        for conns, rate in SCENARIOS:
            sides: dict[str, Any] = {}
            for engine in ("blocking", "epoll", "netpoll"):
                if engine == "blocking" and conns > 100:
                    continue  # a thread per connection
                workers = conns if engine == "blocking" else 1
                flags = ["--rate", str(rate), *common, "--workers", str(workers)]
                wl = f"http:url={url},connections={conns},engine={engine}"
                sides[engine] = lambda wl=wl, flags=flags: golat_run(wl, *flags)
            print(f"{conns} connections at {rate}/s", file=sys.stderr)
            rows = alternate(sides, args.reps)
            parts.append(f"\n{conns} connections at {rate:,} req/s, {args.reps} trials each "
                         f"(e.g. `{rows['epoll'][0]['command']}`):\n")  # fmt: skip
            parts.append(table(rows, "engine"))
    return "\n".join(parts)


def done_when(args: argparse.Namespace) -> str:
    flags = ["--rate", "20000", "--connections", "1000", "--duration", f"{args.seconds:g}s"]
    with nginx() as ngx, peers.golat_serve() as addr:
        gs = f"http://{addr}/"
        rows = alternate({
            "nginx": lambda: golat_run(f"http:url={ngx}", *flags),
            "golat serve": lambda: golat_run(f"http:url={gs}", *flags),
        }, args.reps)  # fmt: skip
    cmd = rows["nginx"][0]["command"].replace(ngx, "http://127.0.0.1:PORT/")
    return f"`{cmd}`, {args.reps} trials each, alternated:\n\n" + table(rows, "server")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["engines", "done-when"])
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--seconds", type=float, default=None)
    args = p.parse_args()
    if args.seconds is None:
        args.seconds = 2.0 if args.what == "engines" else 30.0
    machine = subprocess.run(["uname", "-sr"], capture_output=True, text=True).stdout.strip()
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"machine: {machine}, load average at start {' '.join(load)}\n")
    print(engines(args) if args.what == "engines" else done_when(args))


if __name__ == "__main__":
    main()
