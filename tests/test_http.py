"""The HTTP workload: an in-process loopback server and a keep-alive client in the core."""

from __future__ import annotations

import os

import pytest
from conftest import assert_core_back_to

import golat
from golat import runtime
from golat.errors import ConfigError
from golat.workloads import HTTP, Noop, Spin, parse


def test_http_run_measures_every_request():
    r = golat.run(HTTP(handler=Spin(ns=2_000)), requests=200, workers=2)
    assert r.requests == 200
    info = r.extra["workload_info"]
    assert info["in_process_server"] and info["server"].startswith("127.0.0.1:")
    assert info["errors"] == 0 and info["connections"] == 2 and info["dials"] == 2
    assert info["engine"] == "blocking"  # one connection per worker
    assert info["server_side"]["requests"] == r.requests + r.warmup_requests
    # The server's own duration of a request cannot exceed the client's view of it.
    assert info["server_side"]["p50_ns"] <= r.summary()["p50"]


def test_status_split_per_path_and_code():
    r = golat.run(HTTP(url=("/", "/status/503", "/status/404")), requests=90)
    classes = r.by_class()
    assert {k: h.count for k, h in classes.items()} == {
        "200 GET /": 30, "503 GET /status/503": 30, "404 GET /status/404": 30,
    }  # fmt: skip
    by_status = r.by_status()
    assert sorted(by_status) == [200, 404, 503]
    assert sum(h.count for h in by_status.values()) == r.latency.count


def test_no_classes_for_other_workloads():
    r = golat.run(Noop(), requests=10)
    assert r.by_class() == {} and r.by_status() == {}


def test_server_and_client_closed_after_run():
    golat.run(HTTP(), requests=20)
    runtime.gc()  # the runtime's lazily started goroutines (GC workers) are counted from here
    before, fds = runtime.metrics().goroutines, len(os.listdir("/proc/self/fd"))
    for _ in range(3):
        golat.run(HTTP(connections=2), requests=20, workers=2)
    assert_core_back_to(before, fds)


def test_refused_url_is_a_core_error():
    with pytest.raises(golat.errors.CoreError, match="cannot connect"):
        golat.run(HTTP(url="http://127.0.0.1:1/"), requests=5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"url": "nope"}, "must be http://host"),
        ({"url": "/a b"}, "spaces"),
        ({"url": ()}, "1..64 urls"),
        ({"url": "http://127.0.0.1/a,b"}, "without ';' or ','"),
        ({"url": "ftp://127.0.0.1/"}, "must be http://host"),
        ({"url": "http://127.0.0.1:99999/"}, "Port out of range"),
        ({"url": ("http://127.0.0.1/", "http://127.0.0.2/")}, "the first's scheme and host"),
        ({"url": ("/a", "http://127.0.0.1/")}, "or a URL first"),
        ({"url": "http://10.0.0.1:80/"}, "not a loopback address.*--allow-remote"),
        ({"url": "http://example.com/"}, "not a loopback"),
        ({"url": "http://127.0.0.1/", "handler": Spin(ns=1)}, "the server is yours"),
        ({"url": "http://127.0.0.1/", "ca_file": __file__}, "for https"),
        ({"ca_file": __file__}, "not the in-process server"),
        ({"url": "https://127.0.0.1/", "ca_file": "/nonexistent.pem"}, "not a readable file"),
        ({"method": "get"}, "upper-case method"),
        ({"headers": ("X-A 1",)}, "'Name: value'"),
        ({"headers": ("Content-Length: 3",)}, "set by golat"),
        ({"headers": ("X-A: a\nb",)}, "control character"),
        ({"weights": (1, 2)}, "one weight per URL"),
        ({"weights": (0,)}, "not all be 0"),
        ({"body": b"a", "body_file": __file__}, "not both"),
        ({"engine": "io_uring"}, "engine\\) must be one of"),
        ({"body_bytes": -1}, "body_bytes"),
        ({"connections": 0}, "connections"),
        ({"handler": "noop"}, "golat workload"),
        ({"handler": HTTP()}, "cannot itself"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_http_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        HTTP(**kwargs)


def test_connections_and_workers():
    with pytest.raises(ConfigError, match="use workers <= 2"):
        golat.run(HTTP(connections=2), requests=5, workers=4)
    with pytest.raises(ConfigError, match="connections=4 needs workers=4"):
        golat.run(HTTP(connections=4, engine="blocking"), requests=5, workers=2)
    r = golat.run(HTTP(connections=4), requests=40, workers=2)  # 2 connections per worker
    assert r.extra["workload_info"]["engine"] == "epoll" and r.requests == 40


def test_loopback_urls_accepted_and_remote_only_when_allowed():
    for u in ("http://127.0.0.1:8080/", "http://localhost/", "https://[::1]:8443/x?y=1"):
        assert HTTP(url=u).spec()["urls"] == [u]
    # Constructing is all these do: no test sends traffic off this machine.
    assert HTTP(url="http://10.1.2.3/", allow_remote=True).allow_remote
    assert str(HTTP(url="http://example.com/", allow_remote=True)).endswith(",allow_remote=yes")


def test_parse_http():
    wl = parse("http:url=/;/status/503,body_bytes=1KiB,handler=spin:10us,connections=2")
    assert wl == HTTP(url=("/", "/status/503"), body_bytes=1024, handler=Spin(ns=10_000),
                      connections=2)  # fmt: skip
    assert str(wl).startswith("http:url=/;/status/503,body_bytes=1KiB")
    assert parse(str(wl)) == wl
    ext = HTTP(url=("http://127.0.0.1:8080/a?b=1", "/c"), method="POST", body=b'{"k": "v;1"}',
               headers=("Content-Type: application/json; charset=utf-8", "X-Ids: 1,2"),
               weights=(3, 1), connections=1000)  # fmt: skip
    assert str(ext) == (
        "http:url=http://127.0.0.1:8080/a?b=1;/c,weights=3;1,method=POST,"
        "headers=Content-Type: application/json%3B charset=utf-8;X-Ids: 1%2C2,"
        'body={"k":%20"v%3B1"},connections=1000'
    )
    assert parse(str(ext)) == ext
