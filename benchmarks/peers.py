"""Peer benchmarks: golat measured against the tools people trust, in one run.

    python benchmarks/peers.py --out report          # writes report.md and report.json
    python benchmarks/peers.py --only http_client --reps 3
    python benchmarks/peers.py --list

Every pair runs golat's side and the peer's side alternately (A B B A A B ...) in the same
run, ``--reps`` times, and reports each metric's ratio golat / peer with its median and
spread (min..max) across repetitions, beside the machine it ran on. A pair whose peer
cannot run here, or that needs a golat feature this golat lacks, is SKIPPED with the reason
printed and kept in the report; nothing is left out silently.

Peers come from Debian (wrk, nginx-light, rt-tests). Missing ones are installed with
apt-get when the suite runs as root (it says so first; ``--no-install`` prevents it);
otherwise their pairs are skipped.

The pairs (``--list``):
  floor        noop request in golat's loop vs a plain Go loop reading the clock twice
  embedding    the same run document through Python (golat.run) vs the pure-Go runner
  http_client  golat's HTTP client vs wrk against the same `golat serve`, paced, 1 connection
  http_closed  the same closed loop, N connections each (both saturate the server)
  http_server  `golat serve` vs nginx, both under the same wrk closed loop
  service_time golat's P50 against a server that spins 1 ms, at 20 % load, vs 1 ms plus the
               loopback round trip (wrk, one connection, closed loop)
  http_closed_1  golat vs wrk, closed loop, one connection: P50
  http_max_rate  golat vs wrk, 64 connections on nginx: most requests/s (client on one CPU,
               nginx on another)
  stall        `golat serve --stall 1s:50ms` at 10k req/s over 64 connections: golat's
               corrected P99 (20-60 ms) beside wrk's
  ten_thousand 10,000 connections at 20k req/s for 30 s on nginx: errors, RSS, threads
               (against the same run with 100 connections)
  serve_default, serve_tuned  `golat serve` (no settings; its own CPU and managed GC) vs
               nginx (1 worker), client and server on separate CPUs: most requests/s and
               the corrected P99 at half of nginx's maximum
  histogram    golat.Histogram vs the hdrhistogram package: record cost, percentile error
  timer        golat Timer (clock_nanosleep) vs cyclictest: wake-up lateness
  jitter       golat Jitter vs oslat: max and P99.9 gap
  compare      golat.compare's stage table on the allocation workload (no peer: ratios to
               its baseline stage)
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_rt_tools as rt_tools  # noqa: E402
from _common import build_go_runner, run_go  # noqa: E402

import golat  # noqa: E402
from golat import _env, _native, _pmqos, _run, workloads  # noqa: E402
from golat._units import format_ns  # noqa: E402

REPORT_FORMAT = "golat-peers"
REPORT_VERSION = 1


class Skip(Exception):
    """A pair cannot run here; the message says why (printed and reported)."""


Metrics = dict[str, float]


@dataclass
class Metric:
    """How to read and judge one metric of a pair. ``target`` is the (low, high) range the
    ratio golat / peer should fall in, when the pair makes a claim."""

    unit: str
    description: str
    target: tuple[float, float] | None = None
    # the range golat's own median should fall in, where the claim is about the value
    ours_target: tuple[float, float] | None = None


@dataclass
class PairRun:
    """One pair, set up: two sides that each return their metrics for one repetition."""

    ours: Callable[[], Metrics]
    peer: Callable[[], Metrics]
    metrics: dict[str, Metric]
    ours_label: str = "golat"
    peer_label: str = "peer"
    notes: list[str] = field(default_factory=list)
    close: Callable[[], None] = lambda: None
    # False only where the peer side reads what the golat side just measured (compare)
    alternate: bool = True


@dataclass
class Pair:
    name: str
    title: str
    setup: Callable[[Context], PairRun]
    seconds_per_rep: float  # rough, for --list and planning


@dataclass
class Context:
    reps: int
    quick: bool
    tools: dict[str, str | None]
    tmp: Path
    log: Callable[[str], None] = print
    cache: dict[str, Any] = field(default_factory=dict)


# ---------------------------------------------------------------- the framework


def measure(run: PairRun, reps: int, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Run both sides ``reps`` times, alternating which goes first (ABBA), and summarize
    every metric: both sides' values, the ratios golat / peer, their median and spread."""
    ours: list[Metrics] = []
    peer: list[Metrics] = []
    order: list[str] = []
    for i in range(reps):
        sides = (("ours", run.ours), ("peer", run.peer))
        if i % 2 and run.alternate:
            sides = sides[::-1]
        for which, fn in sides:
            values = fn()
            (ours if which == "ours" else peer).append(values)
            order.append(which)
        log(f"    rep {i + 1}/{reps}: " + "; ".join(
            f"{m} {_fmt(ours[-1][m], spec.unit)} vs {_fmt(peer[-1][m], spec.unit)}"
            for m, spec in run.metrics.items() if m in ours[-1] and m in peer[-1]
        ))  # fmt: skip
    out: dict[str, Any] = {}
    for m, spec in run.metrics.items():
        a = [v[m] for v in ours if m in v]
        b = [v[m] for v in peer if m in v]
        ratios = [x / y for x, y in zip(a, b) if y]
        entry: dict[str, Any] = {
            "unit": spec.unit, "description": spec.description, "ours": a, "peer": b,
            "ratios": ratios, "target": list(spec.target) if spec.target else None,
            "ours_target": list(spec.ours_target) if spec.ours_target else None,
        }  # fmt: skip
        if ratios:
            med = statistics.median(ratios)
            entry.update(ratio_median=med, ratio_min=min(ratios), ratio_max=max(ratios))
            entry.update(ours_median=statistics.median(a), peer_median=statistics.median(b))
            if spec.target:
                entry["meets_target"] = spec.target[0] <= med <= spec.target[1]
        if a and spec.ours_target:
            entry["ours_median"] = statistics.median(a)
            lo, hi = spec.ours_target
            entry["meets_ours_target"] = lo <= entry["ours_median"] <= hi
        out[m] = entry
    return {"metrics": out, "order": order}


def run_pairs(pairs: list[Pair], ctx: Context) -> list[dict[str, Any]]:
    results = []
    for p in pairs:
        ctx.log(f"\n== {p.name}: {p.title}")
        started = time.monotonic()
        entry: dict[str, Any] = {"name": p.name, "title": p.title}
        try:
            run = p.setup(ctx)
        except Skip as why:
            ctx.log(f"   SKIPPED {p.name}: {why}")
            entry.update(status="skipped", reason=str(why))
            results.append(entry)
            continue
        except Exception as err:  # a pair that cannot start must not take the others down
            ctx.log(f"   FAILED {p.name}: {type(err).__name__}: {err}")
            entry.update(status="failed", reason=f"{type(err).__name__}: {err}")
            results.append(entry)
            continue
        try:
            entry.update(measure(run, ctx.reps, ctx.log), status="ok", notes=run.notes,
                         ours_label=run.ours_label, peer_label=run.peer_label)  # fmt: skip
        except Skip as why:
            ctx.log(f"   SKIPPED {p.name}: {why}")
            entry.update(status="skipped", reason=str(why))
        except Exception as err:  # a broken pair must not take the others down
            ctx.log(f"   FAILED {p.name}: {type(err).__name__}: {err}")
            entry.update(status="failed", reason=f"{type(err).__name__}: {err}")
        finally:
            run.close()
        entry["seconds"] = round(time.monotonic() - started, 1)
        for m, e in entry.get("metrics", {}).items():
            if "ratio_median" not in e and e.get("ours_target"):
                ctx.log(f"   {m}: golat {_fmt(e['ours_median'], e['unit'])}" + _target_text(e))
            if "ratio_median" in e:
                ctx.log(f"   {m}: ratio {e['ratio_median']:.3f} (min {e['ratio_min']:.3f}, "
                        f"max {e['ratio_max']:.3f}, n={len(e['ratios'])})"
                        + _target_text(e))  # fmt: skip
        results.append(entry)
    return results


def _target_text(e: dict[str, Any]) -> str:
    out = ""
    if e.get("target"):
        out += f"  target {_range(e['target'])}: {'met' if e.get('meets_target') else 'NOT met'}"
    if e.get("ours_target"):
        lo, hi = (_fmt(v, e["unit"]) for v in e["ours_target"])
        out += (f"  golat's value {lo}..{hi}: "
                f"{'met' if e.get('meets_ours_target') else 'NOT met'}")  # fmt: skip
    return out


def _range(target: list[float] | tuple[float, float]) -> str:
    lo, hi = target
    return f">= {lo:g}" if hi >= 1e9 else f"{lo:g}..{hi:g}"


def _fmt(v: float, unit: str) -> str:
    if unit == "ns":
        return format_ns(v)
    if unit == "req/s":
        return f"{v:,.0f} req/s"
    return f"{v:.4g} {unit}".strip()


# ---------------------------------------------------------------- peers and helpers

PEER_PACKAGES = {"wrk": "wrk", "nginx": "nginx-light", "cyclictest": "rt-tests",
                 "oslat": "rt-tests"}  # fmt: skip


def find_tools() -> dict[str, str | None]:
    found = {}
    for tool in PEER_PACKAGES:
        found[tool] = shutil.which(tool) or next(
            (p for p in (f"/usr/sbin/{tool}", f"/usr/bin/{tool}") if os.access(p, os.X_OK)),
            None,
        )
    return found


def ensure_peers(install: bool, log: Callable[[str], None] = print) -> dict[str, str | None]:
    """The peers' paths; missing ones are installed with apt-get when allowed and root."""
    tools = find_tools()
    missing = sorted({PEER_PACKAGES[t] for t, p in tools.items() if p is None})
    if not missing:
        return tools
    if install and os.geteuid() == 0 and shutil.which("apt-get"):
        log(f"peers: installing {' '.join(missing)} with apt-get (running as root; "
            "--no-install skips this)")  # fmt: skip
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        cmd = ["apt-get", "install", "-y", "-q", *missing]
        if subprocess.run(cmd, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True)
            p = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if p.returncode != 0:
                log(f"peers: apt-get failed: {p.stderr.strip().splitlines()[-1:]}")
        tools = find_tools()
    still = sorted(t for t, p in tools.items() if p is None)
    if still:
        pkgs = " ".join(sorted({PEER_PACKAGES[t] for t in still}))
        log(f"peers: not available: {', '.join(still)}; their pairs will be skipped "
            f"(Debian: apt-get install {pkgs})")  # fmt: skip
    return tools


def need(ctx: Context, tool: str) -> str:
    path = ctx.tools.get(tool)
    if not path:
        raise Skip(f"{tool} is not installed (Debian package {PEER_PACKAGES[tool]})")
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def on_cpu(cpu: int | None) -> list[str]:
    """The command prefix that runs a child on one CPU (every thread of it), or none."""
    if cpu is None:
        return []
    if not shutil.which("taskset"):
        raise Skip("taskset is not installed (Debian package util-linux)")
    return ["taskset", "-c", str(cpu)]


def split_cpus() -> tuple[int, int]:
    """A CPU for the load generator and another for the server."""
    allowed = sorted(os.sched_getaffinity(0))
    if len(allowed) < 2:
        raise Skip(f"needs two CPUs (one for the client, one for the server); allowed {allowed}")
    return allowed[0], allowed[-1]


@contextlib.contextmanager
def golat_serve(*args: str, cpu: int | None = None,
                procs: list[subprocess.Popen] | None = None) -> Iterator[str]:  # fmt: skip
    """`golat serve` in a child process (on ``cpu``, with taskset, if given); yields its
    host:port and stops it with SIGTERM. ``procs`` receives the process."""
    p = subprocess.Popen([*on_cpu(cpu), sys.executable, "-m", "golat", "serve", *args],
                         text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    if procs is not None:
        procs.append(p)
    try:
        line = p.stdout.readline()
        m = re.search(r"http://(127\.0\.0\.1:\d+)/", line)
        if not m:
            raise RuntimeError(f"golat serve did not start: {line}{p.stderr.read()}")
        yield m.group(1)
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()


_WRK_UNITS = {"us": 1e3, "ms": 1e6, "s": 1e9}


def parse_wrk(text: str) -> Metrics:
    """wrk --latency output -> p50/p75/p90/p99 in ns and req/s."""
    out: Metrics = {}
    for pct, value, unit in re.findall(r"^\s+(50|75|90|99)%\s+([0-9.]+)(us|ms|s)\s*$", text, re.M):
        out[f"p{pct}"] = float(value) * _WRK_UNITS[unit]
    m = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    if m:
        out["rate"] = float(m.group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)", text)
    if errors:
        out["errors"] = 1.0
    if "p50" not in out:
        raise RuntimeError(f"cannot read wrk's output:\n{text}")
    return out


def wrk(ctx: Context, url: str, *, connections: int, seconds: float,
        script: str | None = None, cpu: int | None = None) -> Metrics:  # fmt: skip
    cmd = [*on_cpu(cpu), need(ctx, "wrk"), "-t1", f"-c{connections}",
           f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "5s"]  # fmt: skip
    if script:
        cmd += ["-s", script]
    p = subprocess.run([*cmd, url], capture_output=True, text=True, timeout=seconds + 30)
    if p.returncode != 0:
        raise RuntimeError(f"wrk failed: {p.stderr.strip()}")
    return parse_wrk(p.stdout)


def golat_run(workload: str, *flags: str, cpu: int | None = None) -> dict[str, Any]:
    """``golat run WORKLOAD FLAGS --json -`` in a fresh process (on ``cpu``, with taskset,
    if given; so the threads and peak RSS it reports are this run's): its figures."""
    argv = [sys.executable, "-m", "golat", "run", workload, *flags, "--quiet", "--json", "-"]
    p = subprocess.run([*on_cpu(cpu), *argv], capture_output=True, text=True, timeout=900)
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {p.returncode}: {p.stderr.strip()[-500:]}")
    doc = json.loads(p.stdout[p.stdout.index("\n{") :])
    lat, svc = doc["summary"]["latency"], doc["summary"]["service"]
    delay = _p50_p99(doc["histograms"]["start_delay"])
    info, proc = doc["extra"]["workload_info"], doc["extra"]["process"]
    return {
        "p50": lat["p50"], "p99": lat["p99"], "p99_9": lat["p99_9"], "max": lat["max"],
        "service_p50": svc["p50"], "delay_p50": delay[0], "delay_p99": delay[1],
        "rate": doc["achieved_rate"], "errors": info["errors"],
        "queued": info["queued"]["requests"], "threads": proc["threads"],
        "rss_mib": proc["max_rss_bytes"] / 2**20, "cpu_s": proc["cpu_s"],
        "command": " ".join([*on_cpu(cpu), "golat", "run", workload, *flags]),
    }  # fmt: skip


def _p50_p99(h: dict[str, Any]) -> tuple[float, float]:
    hist = golat.Histogram.from_json(json.dumps(h))
    if not hist.count:
        return float("nan"), float("nan")
    return float(hist.percentile(50)), float(hist.percentile(99))


# ---------------------------------------------------------------- the pairs


def setup_floor(ctx: Context) -> PairRun:
    n = 200_000 if ctx.quick else 1_000_000

    def ours() -> Metrics:
        r = golat.run(workloads.Noop(), requests=n)
        return {"ns_per_request": r.measured_s * 1e9 / r.requests}

    def peer() -> Metrics:
        return {"ns_per_request": _native.clock_pair_loop(n) / n}

    return PairRun(ours, peer, {"ns_per_request": Metric(
        "ns", "wall time per noop request (golat: loop, 2 clock reads, 3 histogram records) "
        "/ per iteration of a plain Go loop reading the clock twice")},  # fmt: skip
        peer_label="Go clock-pair loop (same process)",
        notes=[f"{n:,} requests / iterations per repetition, closed loop"])  # fmt: skip


def setup_embedding(ctx: Context) -> PairRun:
    try:
        runner = ctx.cache.get("golatrun") or build_go_runner()
    except Exception as err:
        raise Skip(f"cannot build the pure-Go runner go_core/cmd/golatrun: {err}") from err
    ctx.cache["golatrun"] = runner
    prep = _run.prepare(workloads.Spin(2000), golat.RunSettings(
        rate=20_000, duration=0.5 if ctx.quick else 1.0, warmup=0.1))  # fmt: skip
    doc = prep.doc

    def ours() -> Metrics:
        s = _run.execute(prep).summary()
        return {"p50": s["p50"], "p99": s["p99"]}

    def peer() -> Metrics:
        g = run_go(runner, doc)
        return {"p50": float(g["latency_p50_ns"]), "p99": float(g["latency_p99_ns"])}

    return PairRun(ours, peer, {
        "p50": Metric("ns", "latency P50, spin 2 µs at 20k req/s", (0.0, 1.05)),
        "p99": Metric("ns", "latency P99, same runs"),
    }, ours_label="golat.run (Python)", peer_label="golatrun (pure Go, same loop code)",
        notes=["the same run document; Python only starts, polls and collects"])  # fmt: skip


PACED_LUA = """-- one request per connection, then `delay` ms of think time (wrk has no rate flag)
function delay()
  return {ms}
end
"""


def setup_http_client(ctx: Context) -> PairRun:
    need(ctx, "wrk")
    delay_ms, seconds = 5, (2.0 if ctx.quick else 3.0)
    script = ctx.tmp / "paced.lua"
    script.write_text(PACED_LUA.replace("{ms}", str(delay_ms)))
    stack = contextlib.ExitStack()
    addr = stack.enter_context(golat_serve("--workload", "noop", "--workers", "2"))
    # wrk: each request is sent delay_ms after the previous answer, so the rate is a bit
    # under 1000/delay_ms; golat runs open loop at that rate, one connection, one worker.
    rate = 1000.0 / (delay_ms + 0.1)

    def ours() -> Metrics:
        r = golat.run(workloads.HTTP(url=f"http://{addr}/"), rate=rate, duration=seconds,
                      warmup=0.2)  # fmt: skip
        s, svc = r.summary(), r.summary("service")
        return {"p50": s["p50"], "p99": s["p99"], "service_p50": svc["p50"],
                "rate": r.achieved_rate}  # fmt: skip

    def peer() -> Metrics:
        m = wrk(ctx, f"http://{addr}/", connections=1, seconds=seconds, script=str(script))
        m["service_p50"] = m["p50"]  # wrk's latency is service time: send to last byte
        return m

    return PairRun(ours, peer, {
        "service_p50": Metric("ns", "P50 from the actual send to the last byte: what wrk's "
                              "latency is, on both sides (the agreement test)", (0.85, 1.15)),
        "p50": Metric("ns", "latency P50: golat's is from the intended start (it adds the "
                      "client's own start delay, coordinated omission corrected); wrk's is "
                      "from the send"),
        "p99": Metric("ns", "latency P99 (wrk's P99 is not corrected for coordinated omission)"),
        "rate": Metric("req/s", "achieved request rate"),
    }, ours_label="golat HTTP client", peer_label=f"wrk -t1 -c1, Lua delay() {delay_ms} ms",
        notes=[f"one `golat serve --workload noop --workers 2` child process serves both; "
               f"{seconds:g} s per side per repetition; at this light load the server is idle "
               "between requests, so open loop (golat) and paced closed loop (wrk) see the "
               "same requests"], close=stack.close)  # fmt: skip


def setup_http_closed(ctx: Context) -> PairRun:
    need(ctx, "wrk")
    n, seconds = 4, (1.0 if ctx.quick else 2.0)
    stack = contextlib.ExitStack()
    addr = stack.enter_context(golat_serve("--workload", "noop", "--workers", "2"))

    def ours() -> Metrics:
        r = golat.run(workloads.HTTP(url=f"http://{addr}/", connections=n), workers=n,
                      duration=seconds, warmup=0.2)  # fmt: skip
        s = r.summary()
        return {"p50": s["p50"], "p99": s["p99"], "rate": r.achieved_rate}

    def peer() -> Metrics:
        return wrk(ctx, f"http://{addr}/", connections=n, seconds=seconds)

    return PairRun(ours, peer, {
        "p50": Metric("ns", f"latency P50, closed loop, {n} connections"),
        "p99": Metric("ns", "latency P99"),
        "rate": Metric("req/s", "requests/s the client drove the server to"),
    }, ours_label=f"golat HTTP client, {n} workers x 1 connection",
        peer_label=f"wrk -t1 -c{n}",
        notes=["both saturate the server: P50 is then set by throughput (Little's law), which "
               "depends on how much CPU each client leaves the server on this machine — "
               "informative, not an agreement test"], close=stack.close)  # fmt: skip


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


@contextlib.contextmanager
def nginx_server(exe: str, *, body: bytes = b"", cpu: int | None = None,
                 procs: list[subprocess.Popen] | None = None) -> Iterator[str]:  # fmt: skip
    """nginx with one worker (on ``cpu``, if given) serving ``body`` as its index page from
    a generated config on 127.0.0.1; yields host:port. Skip if it does not start.
    ``procs`` receives the process (the only one: no master process)."""
    d = Path(tempfile.mkdtemp(prefix="golat-nginx-"))
    (d / "www").mkdir()
    (d / "www" / "index.html").write_bytes(body)
    port = free_port()
    (d / "nginx.conf").write_text(NGINX_CONF.format(d=d, port=port))
    proc = subprocess.Popen([*on_cpu(cpu), exe, "-p", str(d), "-c", str(d / "nginx.conf")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    if procs is not None:
        procs.append(proc)
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.poll() is not None else "timeout"
                raise Skip(f"nginx did not start: {err.strip()[:300]}")
            time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(d, ignore_errors=True)


def setup_http_server(ctx: Context) -> PairRun:
    need(ctx, "wrk")
    n, seconds = 4, (1.0 if ctx.quick else 2.0)
    stack = contextlib.ExitStack()
    try:  # the same empty body as golat serve's
        port = stack.enter_context(nginx_server(need(ctx, "nginx"))).rpartition(":")[2]
        addr = stack.enter_context(golat_serve("--workload", "noop", "--workers", "2"))
    except BaseException:
        stack.close()
        raise

    def ours() -> Metrics:
        return wrk(ctx, f"http://{addr}/", connections=n, seconds=seconds)

    def peer() -> Metrics:
        return wrk(ctx, f"http://127.0.0.1:{port}/", connections=n, seconds=seconds)

    return PairRun(ours, peer, {
        "rate": Metric("req/s", f"requests/s under wrk -t1 -c{n} (higher is better)"),
        "p50": Metric("ns", "wrk's latency P50"),
        "p99": Metric("ns", "wrk's latency P99"),
    }, ours_label="golat serve (net/http, noop handler)",
        peer_label="nginx, 1 worker, empty static file",
        notes=["both answer 200 with an empty body; the server and wrk share the machine's "
               "CPUs, as they would in any loopback test"], close=stack.close)  # fmt: skip


def _target_server(ctx: Context, stack: contextlib.ExitStack, cpu: int | None = None) -> str:
    """nginx (an empty page) when installed, else ``golat serve``: host:port."""
    if ctx.tools.get("nginx"):
        return stack.enter_context(nginx_server(need(ctx, "nginx"), cpu=cpu))
    return stack.enter_context(golat_serve("--workload", "noop", "--workers", "1", cpu=cpu))


def setup_service_time(ctx: Context) -> PairRun:
    need(ctx, "wrk")
    seconds = 1.5 if ctx.quick else 3.0
    stack = contextlib.ExitStack()
    spin = stack.enter_context(golat_serve("--workload", "spin:1ms", "--workers", "1"))
    noop = stack.enter_context(golat_serve("--workload", "noop", "--workers", "1"))
    rate = 200  # one worker serves 1,000 req/s of 1 ms: 20 % load

    def ours() -> Metrics:
        r = golat.run(workloads.HTTP(url=f"http://{spin}/"), rate=rate, duration=seconds,
                      warmup=0.3)  # fmt: skip
        return {"p50": r.summary()["p50"], "service_p50": r.summary("service")["p50"]}

    def peer() -> Metrics:  # service time + the loopback round trip, closed loop, 1 conn
        rtt = wrk(ctx, f"http://{noop}/", connections=1, seconds=min(seconds, 2.0))["p50"]
        return {"p50": 1e6 + rtt, "service_p50": 1e6 + rtt}

    return PairRun(ours, peer, {
        "p50": Metric("ns", f"golat's latency P50 at {rate} req/s (20 % load) against a server "
                      "that spins 1 ms / 1 ms + wrk -c1's P50 on the same server without the "
                      "spin", (0.95, 1.05)),
        "service_p50": Metric("ns", "golat's service time P50 (from its actual send) against "
                              "the same reference: where an excess is, before or after the "
                              "send"),
    }, ours_label="golat HTTP client, open loop, 1 connection",
        peer_label="1 ms + loopback round trip (wrk -t1 -c1, closed loop, noop server)",
        notes=["`golat serve --workload spin:1ms --workers 1` and a noop twin, both child "
               "processes; at 20 % load a request rarely waits for the one before"],
        close=stack.close)  # fmt: skip


def setup_http_closed_1(ctx: Context) -> PairRun:
    need(ctx, "wrk")
    seconds = 1.0 if ctx.quick else 2.0
    stack = contextlib.ExitStack()
    addr = _target_server(ctx, stack)

    def ours() -> Metrics:
        r = golat.run(workloads.HTTP(url=f"http://{addr}/"), duration=seconds, warmup=0.2)
        return {"p50": r.summary()["p50"], "rate": r.achieved_rate}

    def peer() -> Metrics:
        return wrk(ctx, f"http://{addr}/", connections=1, seconds=seconds)

    return PairRun(ours, peer, {
        "p50": Metric("ns", "latency P50, closed loop, one connection", (0.9, 1.1)),
        "rate": Metric("req/s", "requests/s (one at a time)"),
    }, ours_label="golat HTTP client, closed loop, 1 connection", peer_label="wrk -t1 -c1",
        notes=[f"server: {'nginx, 1 worker' if ctx.tools.get('nginx') else 'golat serve'}"],
        close=stack.close)  # fmt: skip


def setup_http_max_rate(ctx: Context) -> PairRun:
    need(ctx, "wrk")
    client, server = split_cpus()
    n, seconds = 64, (1.5 if ctx.quick else 3.0)
    stack = contextlib.ExitStack()
    addr = stack.enter_context(nginx_server(need(ctx, "nginx"), cpu=server))
    flags = ("--duration", f"{seconds:g}s", "--warmup", "300ms")

    def ours() -> Metrics:
        return golat_run(f"http:url=http://{addr}/,connections={n}", *flags, cpu=client)

    def peer() -> Metrics:
        return wrk(ctx, f"http://{addr}/", connections=n, seconds=seconds, cpu=client)

    return PairRun(ours, peer, {
        "rate": Metric("req/s", f"most requests/s the client drives, closed loop, {n} "
                       "connections, one thread (the client's own cost)", (0.8, 1e9)),
        "p50": Metric("ns", "latency P50 (closed loop: set by throughput)"),
    }, ours_label=f"golat run (1 worker, {n} connections, epoll)", peer_label=f"wrk -t1 -c{n}",
        notes=[f"client on CPU {client}, nginx (1 worker) on CPU {server}, each with taskset"],
        close=stack.close)  # fmt: skip


def setup_stall(ctx: Context) -> PairRun:
    need(ctx, "wrk")
    client, server = split_cpus()
    n, rate, seconds = 64, 10_000, (3.0 if ctx.quick else 5.0)
    stack = contextlib.ExitStack()
    addr = stack.enter_context(golat_serve("--stall", "1s:50ms", "--workers", "1", cpu=server))
    flags = ("--rate", str(rate), "--duration", f"{seconds:g}s", "--warmup", "500ms")

    def ours() -> Metrics:
        return golat_run(f"http:url=http://{addr}/,connections={n}", *flags, cpu=client)

    def peer() -> Metrics:
        return wrk(ctx, f"http://{addr}/", connections=n, seconds=seconds, cpu=client)

    return PairRun(ours, peer, {
        "p99": Metric("ns", "latency P99: golat's from each request's intended start (it "
                      "shows the stall), wrk's from the send (closed loop: the stall delays "
                      "the next sends instead)", ours_target=(20e6, 60e6)),
        "p50": Metric("ns", "latency P50"),
        "rate": Metric("req/s", "requests/s"),
    }, ours_label=f"golat run --rate {rate} over {n} connections",
        peer_label=f"wrk -t1 -c{n} (closed loop)",
        notes=["`golat serve --stall 1s:50ms`: every request that comes during a 50 ms stall, "
               "once a second, waits for its end; ~5 % of a second's requests meet one, so "
               "the corrected P99 is ~40 ms",
               f"client on CPU {client}, server on CPU {server}"], close=stack.close)  # fmt: skip


def setup_ten_thousand(ctx: Context) -> PairRun:
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < 10_100:
        raise Skip(f"needs a file-descriptor limit over 10,100 (hard limit {hard})")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    stack = contextlib.ExitStack()
    stack.callback(resource.setrlimit, resource.RLIMIT_NOFILE, (soft, hard))
    addr = stack.enter_context(nginx_server(need(ctx, "nginx")))
    seconds = 10 if ctx.quick else 30
    url = f"http:url=http://{addr}/"

    def ours() -> Metrics:
        return golat_run(f"{url},connections=10000", "--rate", "20000", "--duration",
                         f"{seconds}s")  # fmt: skip

    def peer() -> Metrics:
        return golat_run(f"{url},connections=100", "--rate", "20000", "--duration", "5s")

    return PairRun(ours, peer, {
        "errors": Metric("", "connection errors, timeouts, resets", ours_target=(0, 0)),
        "threads": Metric("", "OS threads of the client process (must not grow with "
                          "connections)", (0, 1.25)),
        "rss_mib": Metric("MiB", "peak RSS of the client process"),
        "p99": Metric("ns", "latency P99"),
        "rate": Metric("req/s", "achieved requests/s"),
    }, ours_label=f"golat run, 10,000 connections, 20k req/s, {seconds} s",
        peer_label="the same with 100 connections, 5 s",
        notes=["nginx, 1 worker; each side a fresh `golat run` process"],
        close=stack.close)  # fmt: skip


# `golat serve` against nginx, the load generator and the server on separate CPUs.
TUNED = ("--cpus", "{cpu}", "--gc", "managed")  # GOMAXPROCS follows: the number of cpus


def _server_sides(ctx: Context, stack: contextlib.ExitStack, tuned: bool,
                  client: int, server: int) -> tuple[str, str]:  # fmt: skip
    ngx = stack.enter_context(nginx_server(need(ctx, "nginx"), cpu=server))
    if tuned:
        args = [a.format(cpu=server) for a in TUNED]
        ours = stack.enter_context(golat_serve(*args))
    else:
        ours = stack.enter_context(golat_serve())
    return ours, ngx


def _nginx_max(ctx: Context, ngx: str, client: int, seconds: float) -> float:
    """nginx's most requests/s under golat's client (64 connections, closed loop), median
    of 3, measured once per suite run (the fixed rate of the server pairs is half of it)."""
    if "nginx_max" not in ctx.cache:
        runs = [golat_run(f"http:url=http://{ngx}/,connections=64", "--duration",
                          f"{seconds:g}s", cpu=client)["rate"] for _ in range(3)]  # fmt: skip
        ctx.cache["nginx_max"] = statistics.median(runs)
        ctx.log(f"   nginx's maximum: {', '.join(f'{r:,.0f}' for r in runs)} req/s")
    return ctx.cache["nginx_max"]


def _setup_serve(ctx: Context, tuned: bool) -> PairRun:
    client, server = split_cpus()
    seconds = 1.5 if ctx.quick else 3.0
    stack = contextlib.ExitStack()
    try:
        ours_addr, ngx = _server_sides(ctx, stack, tuned, client, server)
        half = round(_nginx_max(ctx, ngx, client, seconds) / 2)
    except BaseException:
        stack.close()
        raise

    def side(addr: str) -> Callable[[], Metrics]:
        def run() -> Metrics:
            url = f"http:url=http://{addr}/,connections=64"
            sat = golat_run(url, "--duration", f"{seconds:g}s", "--warmup", "300ms", cpu=client)
            fixed = golat_run(url, "--rate", str(half), "--duration", f"{seconds:g}s",
                              "--warmup", "500ms", cpu=client)  # fmt: skip
            return {"max_rate": sat["rate"], "sat_p99": sat["p99"], "p50": fixed["p50"],
                    "p99": fixed["p99"], "p99_9": fixed["p99_9"],
                    "errors": sat["errors"] + fixed["errors"]}  # fmt: skip

        return run

    which = "tuned" if tuned else "default"
    flags = " ".join(a.format(cpu=server) for a in TUNED) if tuned else "(no flags)"
    return PairRun(side(ours_addr), side(ngx), {
        "max_rate": Metric("req/s", "most requests/s (golat's client, closed loop, 64 "
                           "connections)", (0.8, 1e9) if tuned else None),
        "p99": Metric("ns", f"latency P99 at {half:,} req/s (half nginx's maximum), 64 "
                      "connections, coordinated omission corrected",
                      (0, 1.5) if tuned else None),
        "p50": Metric("ns", "latency P50 at the same rate"),
        "p99_9": Metric("ns", "latency P99.9 at the same rate"),
        "sat_p99": Metric("ns", "latency P99 at saturation (closed loop)"),
    }, ours_label=f"golat serve {flags} ({which})",
        peer_label=f"nginx, 1 worker, taskset -c {server}",
        notes=[f"client (`golat run`, 1 worker, epoll) on CPU {client} with taskset; nginx on "
               f"CPU {server}" + (f"; golat serve pinned by its own --cpus {server}" if tuned
                                  else "; golat serve with no settings, on every CPU"),
               "each repetition: a closed-loop run for the maximum, then an open-loop run at "
               "the fixed rate"], close=stack.close)  # fmt: skip


def setup_serve_default(ctx: Context) -> PairRun:
    return _setup_serve(ctx, tuned=False)


def setup_serve_tuned(ctx: Context) -> PairRun:
    return _setup_serve(ctx, tuned=True)


def setup_histogram(ctx: Context) -> PairRun:
    try:
        from hdrh.histogram import HdrHistogram
    except ImportError as err:
        raise Skip("the hdrhistogram package is not installed (pip install hdrhistogram)") from err
    import numpy as np

    rng = np.random.default_rng(1)
    values = (rng.lognormal(np.log(200_000), 1.0, 200_000) + 1).astype(np.int64)
    ps = [50, 90, 99, 99.9, 99.99]
    exact = np.percentile(values, ps, method="inverted_cdf")
    few = [int(v) for v in values[:20_000]]

    def max_rel_error(got: list[float]) -> float:
        return max(abs(g - e) / e for g, e in zip(got, exact))

    def ours() -> Metrics:
        h = golat.Histogram(2)
        t = time.perf_counter()
        h.record(values)
        array_ns = (time.perf_counter() - t) * 1e9 / len(values)
        h1 = golat.Histogram(2)
        t = time.perf_counter()
        for v in few:
            h1.record(v)
        one_ns = (time.perf_counter() - t) * 1e9 / len(few)
        return {"record_bulk_ns": array_ns, "record_one_ns": one_ns,
                "percentile_max_rel_error": max_rel_error(list(h.percentiles(ps)))}  # fmt: skip

    def peer() -> Metrics:
        h = HdrHistogram(1, 3_600_000_000_000, 2)
        t = time.perf_counter()
        for v in values.tolist():
            h.record_value(v)
        bulk_ns = (time.perf_counter() - t) * 1e9 / len(values)
        h1 = HdrHistogram(1, 3_600_000_000_000, 2)
        t = time.perf_counter()
        for v in few:
            h1.record_value(v)
        one_ns = (time.perf_counter() - t) * 1e9 / len(few)
        return {"record_bulk_ns": bulk_ns, "record_one_ns": one_ns,
                "percentile_max_rel_error": max_rel_error(
                    [h.get_value_at_percentile(p) for p in ps])}  # fmt: skip

    return PairRun(ours, peer, {
        "record_bulk_ns": Metric("ns", "ns per value recording 200k values (golat: one numpy "
                                 "array call; hdrhistogram: record_value per value, its only "
                                 "way)"),
        "record_one_ns": Metric("ns", "ns per record call of one int from Python"),
        "percentile_max_rel_error": Metric("", "largest relative error of P50..P99.99 against "
                                           "numpy's exact percentiles (2 significant digits)"),
    }, ours_label="golat.Histogram", peer_label="hdrhistogram (HdrHistogram_py)",
        notes=["lognormal values around 200 µs, the same for both"])  # fmt: skip


def _pick_cpu() -> int:
    return max(os.sched_getaffinity(0))


def _rt_args(ctx: Context, **kw: Any) -> argparse.Namespace:
    """Settings for bench_rt_tools' runners: the same CPU, interval and policy for golat and
    the tool, and cyclictest's default /dev/cpu_dma_latency of 0 on both sides (as root)."""
    a = argparse.Namespace(cpu=_pick_cpu(), interval=200, duration=1 if ctx.quick else 2,
                           policy=None, dma_latency=0 if os.geteuid() == 0 else None)  # fmt: skip
    vars(a).update(kw)
    return a


def _rt_tool(fn: Callable[..., dict], args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        try:
            return fn(args, tmp)
        except subprocess.CalledProcessError as err:
            raise Skip(f"{err.cmd[0]} cannot run here: {(err.stderr or b'')[:200]!r}") from err


def setup_timer(ctx: Context) -> PairRun:
    need(ctx, "cyclictest")
    args = _rt_args(ctx)
    us = lambda r: {k: r[k] * 1000.0 for k in ("p50", "p99")}  # noqa: E731 - µs grid -> ns

    return PairRun(
        lambda: us(rt_tools.golat_timer(args)), lambda: us(_rt_tool(rt_tools.cyclictest, args)),
        {"p50": Metric("ns", "wake-up lateness P50", (0.0, 1.2)),
         "p99": Metric("ns", "wake-up lateness P99", (0.0, 1.2))},
        ours_label="golat Timer(clock_nanosleep)",
        peer_label=(f"cyclictest -t1 -a{args.cpu} -i{args.interval} (SCHED_OTHER, as golat; "
                    f"cpu_dma_latency {args.dma_latency} on both)"),
        notes=["values on cyclictest's grid: whole µs, truncated (golat's ns truncated alike)",
               "runs by benchmarks/bench_rt_tools.py, which also does SCHED_FIFO"],
    )  # fmt: skip


def setup_jitter(ctx: Context) -> PairRun:
    need(ctx, "oslat")
    args = _rt_args(ctx)
    keys = ("max", "p99_9")
    ns = lambda r: {k: r[k] * 1000.0 for k in keys}  # noqa: E731 - µs buckets -> ns

    return PairRun(
        lambda: ns(rt_tools.golat_jitter_nopreempt(args)),
        lambda: ns(_rt_tool(rt_tools.oslat, args)),
        {"max": Metric("ns", "largest gap", (0.0, 1.2)),
         "p99_9": Metric("ns", "P99.9 gap (1 µs buckets: equal unless a tail shows)", (0.0, 1.2))},
        ours_label="golat Jitter (child with GODEBUG=asyncpreemptoff=1)",
        peer_label=f"oslat -c {args.cpu}",
        notes=["values on oslat's grid: 1 µs buckets labelled floor(µs)+1, golat's alike",
               "golat runs in a child started with GODEBUG=asyncpreemptoff=1: otherwise the Go "
               "runtime preempts the busy loop every 10 ms (see docs/threads-and-numa.md)"],
    )  # fmt: skip


def setup_compare(ctx: Context) -> PairRun:
    wl = workloads.Alloc(size=1024, count=16, live_bytes=64 << 20)
    table: dict[str, Any] = {}

    def ours() -> Metrics:
        c = golat.compare(wl, trials=3, rate=20_000, duration=1.0, warmup=0.2)
        rows = {r["stage"]: r for r in c.table()}
        table.update(rows)
        base = next(iter(rows.values()))
        gc = rows.get("gc", base)
        return {"gc_p99_99": gc["p99_99_ns"], "gc_p99": gc["p99_ns"],
                "baseline_p99_99": base["p99_99_ns"]}  # fmt: skip

    def peer() -> Metrics:  # the baseline stage is this table's reference
        base = next(iter(table.values()))
        return {"gc_p99_99": base["p99_99_ns"], "gc_p99": base["p99_ns"],
                "baseline_p99_99": base["p99_99_ns"]}  # fmt: skip

    run = PairRun(ours, peer, {
        "gc_p99_99": Metric("ns", "P99.99 of the gc stage / baseline stage", (0.0, 0.3)),
        "gc_p99": Metric("ns", "P99 of the gc stage / baseline stage"),
    }, ours_label="gc stage", peer_label="baseline stage",
        notes=["alloc 16 x 1 KiB per request, 64 MiB live, 20k req/s; each repetition is a "
               "whole golat.compare (3 trials per stage, child processes); the full table is "
               "in the JSON report"])  # fmt: skip
    run.notes.append("the stage table is in the JSON report under 'compare_table'")
    run.alternate = False
    ctx.cache["compare_table"] = table
    return run


def setup_truth(rho: float) -> Callable[[Context], PairRun]:
    """golat against the minimal C open loop of benchmarks/truth.py at utilisation rho,
    Poisson arrivals, Spin(10 µs), worker unpinned: mean wait, and each side's over P-K."""

    def setup(ctx: Context) -> PairRun:
        import shutil as _shutil

        import truth

        if not _shutil.which(os.environ.get("CC", "cc")):
            raise Skip("no C compiler (cc) for the reference loop")
        binary = truth.build_reference()
        rate = rho / 10e-6
        args = {"rate": rate, "service_ns": 10_000, "dist": "const", "sigma": 1.0,
                "arrivals": "poisson", "duration": 0.5 if ctx.quick else 1.0, "warmup": 0.2,
                "cpu": -1}  # fmt: skip
        seeds = {"golat": 0, "c": 0}  # the k-th trial of each side draws the same arrivals

        def metrics(m: dict[str, Any]) -> Metrics:
            return {"wait_us": m["wait_ns"] / 1e3,
                    "wait_over_pk": m["wait_ns"] / truth.pk_wait_ns(rate, m)}  # fmt: skip

        def side(name: str) -> Callable[[], Metrics]:
            def one() -> Metrics:
                seeds[name] += 1
                a = dict(args, seed=seeds[name])
                m = truth.run_golat(dict(a, variant="default")) if name == "golat" else (
                    truth.run_c(binary, a))  # fmt: skip
                return metrics(m)

            return one

        return PairRun(side("golat"), side("c"), {
            "wait_us": Metric("µs", "mean wait (actual - intended start)", target=(0, 1.1)),
            "wait_over_pk": Metric("x", "mean wait over Pollaczek-Khinchine from the trial's "
                                   "own service moments"),
        }, peer_label="C reference loop (benchmarks/truth_ref.c)",
            notes=[f"rho {rho}, Poisson arrivals at {rate:,.0f}/s, Spin(10 µs), unpinned; "
                   "the full table: python benchmarks/truth.py"])  # fmt: skip

    return setup


PAIRS = [
    Pair("floor", "harness floor: noop request vs a plain Go loop reading the clock twice",
         setup_floor, 1),
    Pair("embedding", "embedding cost: golat.run from Python vs the pure-Go runner",
         setup_embedding, 3),
    Pair("http_client", "HTTP client: golat vs wrk against the same `golat serve`, paced",
         setup_http_client, 7),
    Pair("http_closed", "HTTP client: golat vs wrk, closed loop, 4 connections",
         setup_http_closed, 5),
    Pair("http_server", "HTTP server: `golat serve` vs nginx under wrk", setup_http_server, 5),
    Pair("service_time", "known service time: spin 1 ms at 20 % load vs 1 ms + round trip",
         setup_service_time, 7),
    Pair("http_closed_1", "HTTP client: golat vs wrk, closed loop, 1 connection",
         setup_http_closed_1, 5),
    Pair("http_max_rate", "HTTP client: most requests/s vs wrk, 64 connections on nginx",
         setup_http_max_rate, 8),
    Pair("stall", "a server that stalls 50 ms a second: golat's corrected P99 vs wrk's",
         setup_stall, 12),
    Pair("ten_thousand", "10,000 connections at 20k req/s for 30 s: errors, RSS, threads",
         setup_ten_thousand, 40),
    Pair("serve_default", "`golat serve` (no settings) vs nginx, separate CPUs",
         setup_serve_default, 16),
    Pair("serve_tuned", "`golat serve` tuned (its own CPU, managed GC) vs nginx",
         setup_serve_tuned, 16),
    Pair("histogram", "histogram: golat vs hdrhistogram, record cost and percentile error",
         setup_histogram, 1),
    Pair("timer", "timer wake-up: golat Timer vs cyclictest", setup_timer, 5),
    Pair("jitter", "jitter: golat Jitter vs oslat", setup_jitter, 7),
    Pair("compare", "golat compare on the allocation workload (gc stage vs baseline)",
         setup_compare, 40),
    Pair("truth_50", "open loop vs a minimal C loop, Poisson arrivals at 50 % load",
         setup_truth(0.5), 5),
    Pair("truth_80", "open loop vs a minimal C loop, Poisson arrivals at 80 % load",
         setup_truth(0.8), 5),
]  # fmt: skip


# ---------------------------------------------------------------- the report


def machine() -> dict[str, Any]:
    env = _env.collect()
    m = golat.runtime.metrics()
    env.update(go_version=m.go_version, gomaxprocs=m.gomaxprocs,
               load_average=list(os.getloadavg()))  # fmt: skip
    return env


def peer_versions(tools: dict[str, str | None]) -> dict[str, str]:
    out = {}
    for tool, path in tools.items():
        if not path:
            continue
        flag = {"wrk": ["-v"], "nginx": ["-v"], "cyclictest": ["--help"], "oslat": ["--help"]}
        p = subprocess.run([path, *flag[tool]], capture_output=True, text=True, timeout=10)
        text = (p.stdout + p.stderr).strip().splitlines()
        out[tool] = text[0][:100] if text else "?"
    return out


def markdown(report: dict[str, Any]) -> str:
    m = report["machine"]
    lines = [
        "# golat peer benchmarks", "",
        f"Run {report['started']} on `{m.get('hostname')}`: {m.get('cpu_model')}, "
        f"CPUs {m.get('cpus_online')} (affinity {m.get('cpu_affinity')}), {m.get('kernel')}, "
        f"Go {m.get('go_version')} (GOMAXPROCS {m.get('gomaxprocs')}), Python "
        f"{m.get('python')}, governor {m.get('governor')}, THP {m.get('thp')}, load average "
        f"at start {', '.join(f'{x:.2f}' for x in m.get('load_average', []))}.", "",
        f"{report['reps']} repetitions per pair, golat and peer alternated (ABBA). Ratio = "
        f"golat / peer per repetition; the table gives the median ratio and its spread "
        f"(min..max). Total time {report['seconds']:.0f} s.", "",
        "Peers: " + ", ".join(f"{k} ({v})" for k, v in report["peer_versions"].items()), "",
        ("/dev/cpu_dma_latency held at 0 µs for the whole run, for golat and every peer alike "
         "(as cyclictest does by default; `--no-tune` leaves it alone)."
         if report.get("cpu_dma_latency_us") == 0 else
         "/dev/cpu_dma_latency left as it was (not root, or `--no-tune`)."), "",
    ]  # fmt: skip
    for p in report["pairs"]:
        lines += [f"## {p['name']}: {p['title']}", ""]
        if p["status"] != "ok":
            lines += [f"**{p['status'].upper()}**: {p['reason']}", ""]
            continue
        lines += [f"golat side: {p['ours_label']}; peer: {p['peer_label']}.", "",
                  "| metric | golat (median) | peer (median) | ratio (median) | spread | "
                  "target |", "|---|---|---|---|---|---|"]  # fmt: skip
        for name, e in p["metrics"].items():
            if "ratio_median" not in e:
                ours = _fmt(e["ours_median"], e["unit"]) if "ours_median" in e else "-"
                tgt = "-"
                if e.get("ours_target"):
                    lo, hi = (_fmt(v, e["unit"]) for v in e["ours_target"])
                    tgt = f"golat {lo}..{hi} {'met' if e['meets_ours_target'] else '**not met**'}"
                lines.append(f"| {name} | {ours} | - | - | - | {tgt} |")
                continue
            tgt = "-"
            if e.get("target"):
                tgt = f"{_range(e['target'])} {'met' if e['meets_target'] else '**not met**'}"
            if e.get("ours_target"):
                lo, hi = (_fmt(v, e["unit"]) for v in e["ours_target"])
                ok = "met" if e["meets_ours_target"] else "**not met**"
                tgt = ("" if tgt == "-" else tgt + "; ") + f"golat {lo}..{hi} {ok}"
            lines.append(
                f"| {name} | {_fmt(e['ours_median'], e['unit'])} | "
                f"{_fmt(e['peer_median'], e['unit'])} | {e['ratio_median']:.3f} | "
                f"{e['ratio_min']:.3f}..{e['ratio_max']:.3f} | {tgt} |"
            )
        lines.append("")
        for name, e in p["metrics"].items():
            lines.append(f"- {name}: {e['description']}")
        lines += [f"- note: {n}" for n in p.get("notes", [])]
        lines += [f"- took {p.get('seconds', 0):.0f} s", ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="peers-report", help="report path without extension "
                    "(writes OUT.md and OUT.json; default peers-report)")  # fmt: skip
    ap.add_argument("--reps", type=int, default=5, help="repetitions per pair (default 5)")
    ap.add_argument("--only", default=None, help="comma-separated pair names")
    ap.add_argument("--quick", action="store_true", help="shorter runs")
    ap.add_argument("--no-install", action="store_true", help="never apt-get install peers")
    ap.add_argument("--list", action="store_true", help="list the pairs and exit")
    ap.add_argument(
        "--no-tune",
        action="store_true",
        help="leave /dev/cpu_dma_latency alone (default as root: held at 0 for the "
        "whole run, for golat and every peer alike, as cyclictest does)",
    )
    args = ap.parse_args(argv)
    if args.list:
        for p in PAIRS:
            print(f"{p.name:<12} ~{p.seconds_per_rep:>3.0f} s/rep  {p.title}")
        return 0
    if args.reps < 1:
        ap.error("--reps must be >= 1")
    pairs = PAIRS
    if args.only:
        names = [n.strip() for n in args.only.split(",") if n.strip()]
        unknown = sorted(set(names) - {p.name for p in PAIRS})
        if unknown:
            ap.error(f"unknown pairs {unknown}; known: {[p.name for p in PAIRS]}")
        pairs = [p for p in PAIRS if p.name in names]
    started = time.monotonic()
    tools = ensure_peers(install=not args.no_install)
    # Deep CPU idle states add tens of µs to every wake-up on some machines (seen on the
    # development VM: golat's paced HTTP client 1.34x wrk untuned, 1.08x with this held).
    # Hold the same bound for both sides of every pair, as cyclictest does for itself.
    dma = None if args.no_tune or os.geteuid() != 0 else 0
    with _pmqos.cpu_dma_latency(dma), tempfile.TemporaryDirectory(prefix="golat-peers-") as tmp:
        ctx = Context(reps=args.reps, quick=args.quick, tools=tools, tmp=Path(tmp))
        report: dict[str, Any] = {
            "format": REPORT_FORMAT, "version": REPORT_VERSION,
            "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "machine": machine(),
            "peer_versions": peer_versions(tools), "reps": args.reps, "quick": args.quick,
            "cpu_dma_latency_us": dma,
        }  # fmt: skip
        report["pairs"] = run_pairs(pairs, ctx)
        if ctx.cache.get("compare_table"):
            report["compare_table"] = ctx.cache["compare_table"]
    report["seconds"] = time.monotonic() - started
    out = Path(args.out)
    out.with_suffix(".json").write_text(json.dumps(report, indent=1, default=str))
    out.with_suffix(".md").write_text(markdown(report))
    skipped = [p["name"] for p in report["pairs"] if p["status"] != "ok"]
    print(f"\nwrote {out.with_suffix('.md')} and {out.with_suffix('.json')} in "
          f"{report['seconds']:.0f} s" + (f"; not measured: {', '.join(skipped)}"
                                          if skipped else ""))  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
