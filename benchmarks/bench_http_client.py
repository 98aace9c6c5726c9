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
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import peers  # noqa: E402

NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  keepalive_timeout 300s;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    location / {{ root {d}/www; }}
  }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, proc: subprocess.Popen) -> None:
    end = time.monotonic() + 10
    while time.monotonic() < end and proc.poll() is None:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@contextlib.contextmanager
def nginx() -> Iterator[str]:
    exe = shutil.which("nginx") or "/usr/sbin/nginx"
    d = Path(tempfile.mkdtemp(prefix="golat-nginx-"))
    (d / "www").mkdir()
    (d / "www" / "index.html").write_bytes(b"ok")
    port = free_port()
    (d / "nginx.conf").write_text(NGINX_CONF.format(d=d, port=port))
    p = subprocess.Popen([exe, "-p", str(d), "-c", str(d / "nginx.conf")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    try:
        wait_port(port, p)
        yield f"http://127.0.0.1:{port}/"
    finally:
        p.terminate()
        p.wait(10)
        shutil.rmtree(d, ignore_errors=True)


def golat_run(workload: str, *flags: str) -> dict[str, Any]:
    """One trial in a fresh process: its figures."""
    argv = [sys.executable, "-m", "golat", "run", workload, *flags, "--quiet", "--json", "-"]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=900)
    if p.returncode not in (0,):
        raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()[-500:]}")
    doc = json.loads(p.stdout[p.stdout.index("\n{") :])
    lat, svc = doc["summary"]["latency"], doc["summary"]["service"]
    delay = _percentiles(doc["histograms"]["start_delay"])
    info, proc = doc["extra"]["workload_info"], doc["extra"]["process"]
    return {
        "p50": lat["p50"], "p99": lat["p99"], "p99_9": lat["p99_9"], "max": lat["max"],
        "service_p50": svc["p50"], "delay_p50": delay[0], "delay_p99": delay[1],
        "rate": doc["achieved_rate"], "errors": info["errors"],
        "queued": info["queued"]["requests"], "threads": proc["threads"],
        "rss_mib": proc["max_rss_bytes"] / 2**20, "cpu_s": proc["cpu_s"],
        "command": " ".join(["golat", "run", workload, *flags]),
    }  # fmt: skip


def _percentiles(h: dict[str, Any]) -> tuple[float, float]:
    from golat import Histogram

    hist = Histogram.from_json(json.dumps(h))
    if not hist.count:
        return float("nan"), float("nan")
    return float(hist.percentile(50)), float(hist.percentile(99))


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
