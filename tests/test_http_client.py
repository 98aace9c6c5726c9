"""The HTTP client against real servers started on loopback by the tests: a tiny Python
server (http.server in a thread, plain and TLS), ``golat serve`` and nginx. Nothing here
sends traffic off this machine."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from conftest import stop_process

import golat
from golat.errors import ConfigError
from golat.workloads import HTTP

# A loaded machine may fall behind a rate: that is the result's business, not these tests'.
pytestmark = pytest.mark.filterwarnings("ignore::golat.errors.OverloadWarning")


# --- servers ----------------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # One write per answer, sent at once: a header write and a body write with Nagle on
    # would wait for the client's delayed ACK (40 ms) every time.
    wbufsize = 1 << 16
    disable_nagle_algorithm = True
    seen: list[tuple[str, str, str, bytes]]

    def _answer(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        self.seen.append((self.command, self.path, self.headers.get("X-Test", ""), body))
        if self.path.startswith("/reset"):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
            self.close_connection = True
            return  # closed with RST, no answer
        out = b"ok"
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(out)

    do_GET = do_POST = do_PUT = do_HEAD = _answer

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def python_server(tls: ssl.SSLContext | None = None):
    """An HTTP/1.1 server in a thread on 127.0.0.1; yields (url, the requests it saw)."""
    seen: list = []
    handler = type("H", (_Handler,), {"seen": seen})
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    srv.daemon_threads = True
    if tls is not None:
        srv.socket = tls.wrap_socket(srv.socket, server_side=True)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    t.start()
    try:
        yield f"{'https' if tls else 'http'}://127.0.0.1:{srv.server_address[1]}", seen
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(5)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> dict[str, Path]:
    """A CA and a server certificate for 127.0.0.1 it signed, made with openssl."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("openssl is not installed (.ci/apt-packages.txt has it)")
    d = tmp_path_factory.mktemp("certs")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], check=True, capture_output=True, cwd=d, timeout=60)

    run("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
        "-subj", "/CN=golat test CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign")  # fmt: skip
    run("req", *ec, "-keyout", "srv.key", "-out", "srv.csr", "-subj", "/CN=127.0.0.1")
    (d / "ext").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-out", "srv.pem", "-days", "2", "-extfile", "ext")  # fmt: skip
    return {"ca": d / "ca.pem", "cert": d / "srv.pem", "key": d / "srv.key"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 10) -> None:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        if proc.poll() is not None:
            raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


NGINX_CONF = """daemon off;
master_process off;
worker_processes 1;
worker_rlimit_nofile 20000;
pid {d}/nginx.pid;
error_log {d}/error.log warn;
events {{ worker_connections 16384; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {d}/body;
  proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi;
  uwsgi_temp_path {d}/uwsgi;
  scgi_temp_path {d}/scgi;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    {tls}
    location / {{ root {d}/www; }}
  }}
}}
"""


@contextlib.contextmanager
def nginx(tmp: Path, certs: dict[str, Path] | None = None):
    """nginx (Debian's nginx-light) with one worker and a generated config on 127.0.0.1
    and a free port, serving a 2-byte index.html; yields its URL."""
    exe = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx")
                                     else None)  # fmt: skip
    if exe is None:
        pytest.skip("nginx is not installed (.ci/apt-packages.txt has nginx-light)")
    (tmp / "www").mkdir(parents=True, exist_ok=True)
    (tmp / "www" / "index.html").write_bytes(b"ok")
    port = free_port()
    tls = ""
    if certs:
        tls = f"ssl_certificate {certs['cert']}; ssl_certificate_key {certs['key']};"
    conf = NGINX_CONF.format(d=tmp, port=f"{port} ssl" if certs else port, tls=tls)
    (tmp / "nginx.conf").write_text(conf)
    p = subprocess.Popen([exe, "-p", str(tmp), "-c", str(tmp / "nginx.conf")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        wait_for_port(port, p)
        yield f"{'https' if certs else 'http'}://127.0.0.1:{port}"
    finally:
        stop_process(p)


@contextlib.contextmanager
def golat_serve(*args: str):
    """``golat serve`` in a child process; yields its URL."""
    p = subprocess.Popen([sys.executable, "-m", "golat", "serve", *args],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        first = p.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+)/", first)
        assert m, first + p.stderr.read()
        yield m.group(1)
    finally:
        p.terminate()
        try:
            p.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.communicate()


def golat_run(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "golat", "run", *args, "--quiet"],
                          capture_output=True, text=True, timeout=timeout)  # fmt: skip


# --- the request a URL asks for ----------------------------------------------------------


def test_method_headers_body_and_urls_reach_the_server():
    with python_server() as (url, seen):
        wl = HTTP(url=(url + "/a?x=1", "/b"), method="POST", headers=("X-Test: yes; really",),
                  body=b'{"n": 1}', connections=2, engine="epoll")  # fmt: skip
        r = golat.run(wl, rate=200, duration=0.5, warmup=0.1)
    assert r.extra["workload_info"]["errors"] == 0
    assert {m for m, _, _, _ in seen} == {"POST"}
    assert {h for _, _, h, _ in seen} == {"yes; really"}
    assert {b for _, _, _, b in seen} == {b'{"n": 1}'}
    paths = Counter(p for _, p, _, _ in seen)
    assert set(paths) == {"/a?x=1", "/b"} and abs(paths["/a?x=1"] - paths["/b"]) <= 2
    assert sum(paths.values()) == r.requests + r.warmup_requests
    assert set(r.by_class()) == {"200 POST /a?x=1", "200 POST /b"}


def test_weights_draw_urls_in_proportion(tmp_path):
    body = tmp_path / "body.bin"
    body.write_bytes(bytes(range(256)) * 4)
    with python_server() as (url, seen):
        wl = HTTP(url=(url + "/heavy", "/light"), weights=(3, 1), method="PUT",
                  body_file=str(body))  # fmt: skip
        r = golat.run(wl, requests=400, seed=5)
        paths = Counter(p for _, p, _, _ in seen)
        again = golat.run(wl, requests=400, seed=5)  # the same seed draws the same URLs
    assert paths["/heavy"] + paths["/light"] == 400
    assert 0.65 < paths["/heavy"] / 400 < 0.85  # 3:1, drawn (binomial sd 2 %)
    assert {b for _, _, _, b in seen} == {body.read_bytes()}
    assert {k: h.count for k, h in again.by_class().items()} == {
        k: h.count for k, h in r.by_class().items()
    }


def test_head_requests_have_no_body():
    with python_server() as (url, seen):
        r = golat.run(HTTP(url=url + "/", method="HEAD"), requests=20)
    assert r.extra["workload_info"]["errors"] == 0 and len(seen) == 20
    assert list(r.by_class()) == ["200 HEAD /"]


def test_errors_are_counted_by_kind_as_status_0():
    with python_server() as (url, _):
        r = golat.run(HTTP(url=(url + "/", "/reset")), requests=40, workers=1)
    info = r.extra["workload_info"]
    kinds = info["errors_by_kind"]
    assert info["errors"] == 20 and set(kinds) <= {"reset", "closed"}, info
    assert sum(kinds.values()) == 20
    assert r.by_status()[0].count == 20 and r.by_status()[200].count == 20
    assert any(k.startswith("error ") and k.endswith(" GET /reset") for k in r.by_class())


# --- https --------------------------------------------------------------------------------


def _tls(certs: dict[str, Path]) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(certs["cert"], certs["key"])
    return ctx


@pytest.mark.parametrize("engine", ["blocking", "epoll", "netpoll"])
def test_https_trusts_the_given_ca(certs, engine):
    with python_server(_tls(certs)) as (url, seen):
        n = 1 if engine == "blocking" else 3
        r = golat.run(HTTP(url=url + "/s", ca_file=str(certs["ca"]), connections=n,
                           engine=engine), requests=30)  # fmt: skip
    info = r.extra["workload_info"]
    # A request quota ends the run with other connections' requests still in flight:
    # the server sees them, the result does not count them.
    assert info["tls"] and info["errors"] == 0 and 30 <= len(seen) <= 30 + n, info
    assert r.requests == 30
    # The handshakes happened before the measured window: one per connection, up front.
    assert info["dials"] == n


def test_https_without_the_ca_fails_naming_tls(certs):
    with python_server(_tls(certs)) as (url, _):
        with pytest.raises(golat.errors.CoreError, match="tls: .*certificate"):
            golat.run(HTTP(url=url + "/"), requests=3)


# --- golat serve and nginx, from the command line ----------------------------------------


def _threads() -> int:
    return len(os.listdir("/proc/self/task"))


def test_threads_do_not_grow_with_connections():
    """Peak OS threads of the process during a run: 1,000 connections on one worker's
    event loop take no more threads than 10 do."""
    peaks = {10: 0, 1000: 0}
    with golat_serve("--workload", "noop", "--workers", "1") as url:
        for n in peaks:

            def note(*_: object, n: int = n) -> None:
                peaks[n] = max(peaks[n], _threads())

            r = golat.run(HTTP(url=url + "/", connections=n), rate=2000, duration=0.5,
                          progress=note)  # fmt: skip
            assert r.extra["workload_info"]["errors"] == 0
            assert r.extra["workload_info"]["engine"] == "epoll"
    assert peaks[1000] <= peaks[10] + 2, peaks


def test_golat_serve_from_the_command_line():
    with golat_serve("--workload", "spin:5us", "--workers", "2") as url:
        p = golat_run(f"http:url={url}/", "--rate", "2000", "--connections", "100",
                      "--duration", "1s", "--json", "-")  # fmt: skip
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith(f"golat run http:url={url}/,connections=100 --rate 2000")
    doc = json.loads(out[out.index("\n{") :])
    info = doc["extra"]["workload_info"]
    assert info["connections"] == 100 and info["engine"] == "epoll" and info["errors"] == 0
    assert doc["requests"] == pytest.approx(2000, abs=2)
    assert len(info["queued"]["per_connection"]) == 100
    assert "HTTP client: 100 connections" in out


def test_a_ramp_against_golat_serve_reports_steps_and_knee():
    with golat_serve("--workload", "noop", "--workers", "1") as url:
        p = golat_run(f"http:url={url}/", "--rate", "500..2000x4/2s", "--connections", "20")
    assert p.returncode == 0, p.stderr
    assert "steps (latency of the requests due in each step)" in p.stdout
    assert re.search(r"knee: [\d,]+ req/s|no knee|already broken", p.stdout)


def test_remote_hosts_are_refused_without_allow_remote():
    p = golat_run("http:url=http://10.255.255.1/", "--requests", "1")
    assert p.returncode == 2 and "--allow-remote" in p.stderr
    with pytest.raises(ConfigError, match="not a loopback"):
        HTTP(url="http://192.0.2.1:8080/")


def test_nginx(tmp_path):
    with nginx(tmp_path) as url:
        r = golat.run(HTTP(url=url + "/", connections=500), rate=5000, duration=1, warmup=0.2)
    info = r.extra["workload_info"]
    assert info["errors"] == 0 and info["connections"] == 500, info
    assert list(r.by_class()) == ["200 GET /"]
    # Every request due in the window was sent and answered (the machine's load may delay
    # them; their latency says so).
    assert r.requests == pytest.approx(5000, abs=2)


def test_ten_thousand_connections(tmp_path):
    """wrk2's scale on loopback: 10,000 connections, each with its own schedule, on one
    worker's event loop; every request answered, the thread count that of a small run."""
    import resource

    if resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 10_100:
        pytest.skip("needs a file-descriptor limit over 10,100")
    with nginx(tmp_path) as url:
        r = golat.run(HTTP(url=url + "/", connections=10_000), rate=5000, duration=1)
    info = r.extra["workload_info"]
    assert info["errors"] == 0 and info["connections"] == 10_000 and info["dials"] == 10_000
    assert r.requests == pytest.approx(5000, abs=2)
    assert r.extra["process"]["threads"] < 40, r.extra["process"]


def test_nginx_https(tmp_path, certs):
    with nginx(tmp_path, certs) as url:
        r = golat.run(HTTP(url=url + "/", connections=20, ca_file=str(certs["ca"])), rate=1000,
                      duration=0.5)  # fmt: skip
    assert r.extra["workload_info"]["errors"] == 0 and r.requests == pytest.approx(500, abs=2)


def test_compare_takes_the_same_settings(tmp_path):
    with golat_serve("--workload", "noop", "--workers", "1") as url:
        wl = HTTP(url=url + "/", connections=8)
        c = golat.compare(wl, ["baseline", "gc"], trials=1, rate=500, duration=0.3, warmup=0.1)
    assert not c.failed, [t.error for t in c.failed]
    for t in c.trials:
        assert t.result.workload == wl and t.result.extra["workload_info"]["errors"] == 0
