"""golat's HTTP client against servers on loopback: which engine is the most faithful, and
the issue's done-when command against nginx and ``golat serve``.

    python benchmarks/bench_http_client.py engines [--reps 7] [--seconds 2]
    python benchmarks/bench_http_client.py done-when [--reps 7] [--seconds 30]
    python benchmarks/bench_http_client.py serve-cost [--reps 7] [--seconds 3]

Every trial is ``golat run http:url=... --json -`` in a fresh process (so the thread count
and peak RSS it reports are that trial's), the sides alternated in rotating order, and the
tables give the median with min..max of each figure.

engines: nginx (1 worker, a 2-byte file) answers every engine at a rate it meets easily, so
the server is never the bottleneck and the client's own distortion shows: its start delay
(send - intended start, in the latency of every request) and the latency over the
reference round trip (one connection, closed loop, blocking: the least a client adds).

done-when: ``golat run http:url=http://127.0.0.1:PORT/ --rate 20000 --connections 1000
--duration 30s`` against nginx and against ``golat serve`` (default settings).

serve-cost: nginx and ``golat serve`` (no settings, and on its own CPU with each tuning
step) saturated by golat's client on another CPU: requests/s and the server's CPU time per
request, where the rate goes.
"""

from __future__ import annotations

import argparse
import contextlib
import os
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


SERVE_VARIANTS = {
    "nginx": None,
    "golat serve (no settings)": (),
    "golat serve --cpus S": ("--cpus", "{cpu}"),
    "golat serve --cpus S --gc managed": ("--cpus", "{cpu}", "--gc", "managed"),
    "golat serve --cpus S --lock true": ("--cpus", "{cpu}", "--lock", "true"),
}


def serve_cost(args: argparse.Namespace) -> str:
    """Each server saturated by golat's client (64 connections, closed loop) on its own
    CPU: requests/s and the server's CPU time per request (from /proc/PID/stat)."""
    client, server = peers.split_cpus()
    secs = f"{args.seconds:g}s"
    rows: dict[str, list[dict[str, Any]]] = {}
    with contextlib.ExitStack() as stack:
        sides = {}
        for name, flags in SERVE_VARIANTS.items():
            procs: list[subprocess.Popen] = []
            if flags is None:
                exe = shutil.which("nginx") or "/usr/sbin/nginx"
                addr = stack.enter_context(peers.nginx_server(exe, cpu=server, procs=procs))
            else:
                # no settings: on every CPU, as a user would start it
                addr = stack.enter_context(peers.golat_serve(
                    *(f.format(cpu=server) for f in flags), procs=procs))  # fmt: skip

            def side(addr: str = addr, pid: int = procs[0].pid) -> dict[str, Any]:
                before = cpu_seconds(pid)
                t = golat_run(f"http:url=http://{addr}/,connections=64", "--duration", secs,
                              cpu=client)  # fmt: skip
                used = cpu_seconds(pid) - before
                # the run's warm-up and set-up are in `used`, its requests in the rate
                served = t["rate"] * args.seconds
                return {**t, "server_us": used / served * 1e6, "server_cpu_s": used}

            sides[name] = side
        for r in range(args.reps):
            names = list(sides)
            for n in names[r % len(names) :] + names[: r % len(names)]:
                t = sides[n]()
                rows.setdefault(n, []).append(t)
                print(f"  rep {r + 1} {n}: {t['rate']:,.0f} req/s, server "
                      f"{t['server_us']:.1f} µs CPU a request", file=sys.stderr)  # fmt: skip
    out = [f"client `golat run http:url=...,connections=64 --duration {secs}` on CPU {client}; "
           f"servers on CPU {server} (golat serve with no settings: every CPU); {args.reps} "
           "trials each, rotating order", "",
           "| server | req/s | server CPU µs a request | server CPU s in the run |",
           "|---|---|---|---|"]  # fmt: skip
    for n, trials in rows.items():
        out.append(f"| {n.replace('S', str(server))} | {cell([t['rate'] for t in trials], 'rate')}"
                   f" | {cell([t['server_us'] for t in trials], 's')} | "
                   f"{cell([t['server_cpu_s'] for t in trials], 's')} |")  # fmt: skip
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=["engines", "done-when", "serve-cost"])
    p.add_argument("--reps", type=int, default=7)
    p.add_argument("--seconds", type=float, default=None)
    args = p.parse_args()
    if args.seconds is None:
        args.seconds = {"engines": 2.0, "done-when": 30.0, "serve-cost": 3.0}[args.what]
    machine = subprocess.run(["uname", "-sr"], capture_output=True, text=True).stdout.strip()
    load = Path("/proc/loadavg").read_text().split()[:3]
    print(f"machine: {machine}, load average at start {' '.join(load)}\n")
    print({"engines": engines, "done-when": done_when, "serve-cost": serve_cost}[args.what](args))


if __name__ == "__main__":
    main()
