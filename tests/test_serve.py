"""golat.Server and `golat serve`: loopback only, Prometheus metrics, bad input, signals."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from conftest import assert_core_back_to

import golat
from golat import Server, runtime
from golat._serve import server_config
from golat.errors import ConfigError
from golat.workloads import HTTP, Alloc, Spin


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def test_routes_and_stats():
    with Server(handler=Spin(ns=1_000), path="/work", body_bytes=10) as s:
        assert s.host == "127.0.0.1" and s.port > 0
        assert fetch(s.url + "/work") == (200, b"x" * 10)
        assert fetch(s.url + "/status/503")[0] == 503
        assert fetch(s.url + "/elsewhere")[0] == 404
        st = s.stats()
        assert {c: h.count for c, h in st.by_status.items()} == {200: 1, 404: 1, 503: 1}
        assert st.connections_total >= 1
    final = s.stop()  # stopping twice is fine and keeps the stats
    assert final.requests == 3
    with pytest.raises(ConfigError, match="stopped"):
        s.stats()


_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.e+-]+|\+Inf|NaN)$")


def parse_prometheus(text: str) -> dict[str, list[tuple[str, float]]]:
    """Strict enough for the text format 0.0.4: HELP/TYPE comments and samples only."""
    samples: dict[str, list[tuple[str, float]]] = {}
    types = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("gauge", "counter", "histogram"), line
            types[name] = kind
            continue
        m = _SAMPLE.match(line)
        assert m, f"not a Prometheus sample line: {line!r}"
        samples.setdefault(m.group(1), []).append((m.group(2) or "", float(m.group(3))))
    for name in samples:
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or base in types, f"{name} has no TYPE line"
    return samples


def test_metrics_endpoint_format():
    with Server(handler=Spin(ns=1_000)) as s:
        for _ in range(5):
            fetch(s.url + "/")
        fetch(s.url + "/status/500")
        status, body = fetch(s.url + "/metrics")
        assert status == 200
        m = parse_prometheus(body.decode())
        assert m["go_goroutines"][0][1] >= 1
        for hist in ("go_gc_pauses_seconds", "go_sched_latencies_seconds"):
            buckets = [v for _, v in m[hist + "_bucket"]]
            assert buckets == sorted(buckets)  # cumulative
            assert buckets[-1] == m[hist + "_count"][0][1]
        name = "golat_http_request_duration_seconds"
        ok = [(lab, v) for lab, v in m[name + "_bucket"] if 'code="200"' in lab]
        assert ok[-1] == ('{code="200",le="+Inf"}', 5.0)
        assert [v for _, v in ok] == sorted(v for _, v in ok)
        assert ('{code="500"}', 1.0) in m[name + "_count"]
        assert ('{code="200"}', 5.0) in m["golat_http_requests_total"]
        assert s.metrics_text().startswith("# HELP go_goroutines")


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "::", "example.com", "192.168.1.1"])
def test_non_loopback_refused(host):
    with pytest.raises(ConfigError, match="not a loopback address"):
        Server(host=host)


def test_allow_remote_builds_config():
    # Only the document is checked: binding a reachable port is not done in tests.
    assert server_config(host="0.0.0.0", allow_remote=True)["host"] == "0.0.0.0"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"port": 70000}, "port"),
        ({"path": "x"}, "path"),
        ({"path": "/metrics"}, "choose two"),
        ({"workers": 0}, "workers"),
        ({"handler": HTTP()}, "cannot be an HTTP"),
        ({"max_header_bytes": 10}, "max_header_bytes"),
        ({"gc": "sometimes"}, "gc"),
    ],
)
def test_bad_server_settings(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Server(**kwargs)


def _raw(port: int, payload: bytes, wait: float = 3.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as c:
        c.sendall(payload)
        try:
            return c.recv(4096)
        except (socket.timeout, ConnectionResetError):
            return b""


def test_survives_bad_input_and_keeps_histogram():
    with Server(read_header_timeout=0.2, max_header_bytes=4096) as s:
        assert fetch(s.url + "/")[0] == 200
        assert b" 400 " in _raw(s.port, b"\x00\x01\x02 garbage\r\n\r\n")
        assert b" 431 " in _raw(s.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000
                                + b"\r\n\r\n")  # fmt: skip
        # A slow client sends half a request line and stalls past read_header_timeout.
        started = time.monotonic()
        reply = _raw(s.port, b"GET / HT")
        waited = time.monotonic() - started
        assert 0.15 < waited < 2.5, waited  # cut by the timeout, not at once, not never
        assert reply == b"" or b" 400 " in reply or b" 408 " in reply
        # A client that disconnects mid-request.
        with socket.create_connection(("127.0.0.1", s.port)) as c:
            c.sendall(b"GET / HTTP/1.1\r\nHo")
        assert fetch(s.url + "/")[0] == 200
        st = s.stats()
        assert st.requests == 2 and list(st.by_status) == [200]


def test_server_stop_leaves_no_goroutines():
    Server().stop()
    runtime.gc()
    before, fds = runtime.metrics().goroutines, len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        with Server(workers=2) as s:
            fetch(s.url + "/")
    assert_core_back_to(before, fds)


def test_http_workload_drives_a_server():
    with Server(handler=Spin(ns=1_000)) as s:
        r = golat.run(HTTP(url=(f"http://127.0.0.1:{s.port}/", "/status/404")), requests=40)
        info = r.extra["workload_info"]
        assert not info["in_process_server"] and info["errors"] == 0
        assert {c: h.count for c, h in r.by_status().items()} == {200: 20, 404: 20}
        assert s.stats().requests == r.requests + r.warmup_requests


def _serve(*args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "golat", "serve", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_serve_command_stops_on_signal(sig):
    p = _serve("--workload", "spin:2us", "--duration", "60s")
    try:
        first = p.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:(\d+)/", first)
        assert m, first + p.stderr.read()
        url = f"http://127.0.0.1:{m.group(1)}"
        assert fetch(url + "/")[0] == 200
        p.send_signal(sig)
        out, err = p.communicate(timeout=10)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err
    assert f"stopped by {sig.name}" in out and "1 request in" in out
    assert "200" in out and "Traceback" not in err


def test_serve_command_refuses_non_loopback():
    p = _serve("--host", "0.0.0.0")
    out, err = p.communicate(timeout=10)
    assert p.returncode == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "not a loopback address" in lines[0] and "--allow-remote" in lines[0]


def test_busy_port_is_a_config_error():
    """It once panicked in Go (a deferred clean-up on a nil server)."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        for _ in range(2):  # the failed start leaves the core usable
            with pytest.raises(ConfigError, match=f"port {port} is in use"):
                Server(port=port, workers=2)
        p = _serve("--port", str(port))
        out, err = p.communicate(timeout=10)
    assert p.returncode == 2 and f"port {port} is in use" in err and "panic" not in err
    with Server() as s:  # and the core still serves
        assert fetch(s.url + "/")[0] == 200


def test_serve_command_duration():
    p = _serve("--duration", "0.3s")
    out, err = p.communicate(timeout=10)
    assert p.returncode == 0, err
    assert "duration reached; 0 requests" in out


@pytest.mark.skipif(not shutil.which("wrk"), reason="wrk is not installed (.ci/apt-packages.txt)")
def test_wrk_drives_golat_serve():
    with Server(workers=2) as s:
        p = subprocess.run(["wrk", "-t1", "-c2", "-d1s", "--latency", s.url + "/"],
                           capture_output=True, text=True, timeout=30)  # fmt: skip
        assert p.returncode == 0, p.stderr
        served = int(re.search(r"(\d+) requests in", p.stdout).group(1))
        st = s.stats()
        # wrk counts only answered requests; the server may have answered a few more.
        assert list(st.by_status) == [200] and served <= st.requests <= served + 2


# --- the run model's settings that apply to a server ---------------------------------------


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rate": 1000}, "do not apply to a server"),
        ({"cpus": [4096]}, "not allowed here"),
        ({"gomaxprocs": 0}, "gomaxprocs"),
        ({"stall": "1s"}, "EVERY:DURATION"),
        ({"gc_threshold": "64MiB"}, "only for gc='managed'"),
    ],
)
def test_bad_server_tuning(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        Server(**kwargs)


def test_tuning_reaches_the_server_and_is_undone():
    cpu = max(os.sched_getaffinity(0))
    before, procs = os.sched_getaffinity(0), runtime.gomaxprocs()
    with Server(cpus=[cpu], lock_os_thread=True, workers=1, gc="off") as s:
        # Every thread of the process runs on the server's CPU, this one included.
        assert os.sched_getaffinity(0) == {cpu}
        assert fetch(s.url + "/")[0] == 200
        st = s.stats().raw
        assert st["cpus"] == [cpu] and st["gomaxprocs"] == 1 and st["lock_os_thread"]
        assert "1 handler worker on locked threads, GOMAXPROCS 1" in s.tuning_text()
        assert s.config["gc"]["memory_limit"] > 0  # GC off is never unbounded
    assert os.sched_getaffinity(0) == before and runtime.gomaxprocs() == procs


def test_managed_gc_collects_between_requests():
    with Server(gc="managed", gc_threshold="1MiB", workers=1,
                handler=Alloc(size=4096, count=64)) as s:  # fmt: skip
        for _ in range(100):  # 256 KiB a request: the threshold is passed many times
            fetch(s.url + "/")
        deadline = time.monotonic() + 5
        while s.stats().raw["managed_gc_collections"] == 0 and time.monotonic() < deadline:
            time.sleep(0.02)
        st = s.stats().raw
    assert st["managed_gc"] and st["managed_gc_collections"] > 0


def test_a_stalled_server_shows_in_corrected_latency():
    # 50 ms stalls every 250 ms at 400 req/s: ~20 requests meet each stall, so more than
    # 1 % of requests wait 25..50 ms; the corrected P99 shows it.
    with Server(stall="250ms:50ms", workers=1) as s:
        r = golat.run(HTTP(url=s.url + "/"), rate=400, duration=1.5)
        stalls = s.stats().raw["stalls"]
    assert stalls >= 4
    assert r.summary()["p99"] >= 20e6 and r.summary()["max"] >= 40e6


def test_serve_command_takes_the_tuning_flags():
    cpu = max(os.sched_getaffinity(0))
    p = _serve("--gc", "managed", "--cpus", str(cpu), "--lock", "true", "--gomaxprocs", "1",
               "--stall", "1s:50ms", "--workers", "1", "--for", "0.5s", "--json", "-")  # fmt: skip
    out, err = p.communicate(timeout=20)
    assert p.returncode == 0, err
    assert "1 handler worker on locked threads, GOMAXPROCS 1" in out.splitlines()[1]
    st = json.loads(out[out.index("\n{") :])
    assert st["cpus"] == [cpu] and st["managed_gc"] and st["lock_os_thread"]
    assert st["gomaxprocs"] == 1
