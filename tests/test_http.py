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
    assert info["server_side"]["requests"] == r.requests + r.warmup_requests
    # The server's own duration of a request cannot exceed the client's view of it.
    assert info["server_side"]["p50_ns"] <= r.summary()["p50"]


def test_status_split_per_path_and_code():
    r = golat.run(HTTP(path=("/", "/status/503", "/status/404")), requests=90)
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


def test_refused_target_is_a_core_error():
    with pytest.raises(golat.errors.CoreError, match="cannot connect"):
        golat.run(HTTP(target="127.0.0.1:1"), requests=5)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"path": "nope"}, "must start with '/'"),
        ({"path": "/a b"}, "spaces"),
        ({"path": ()}, "1..64 paths"),
        ({"body_bytes": -1}, "body_bytes"),
        ({"connections": 0}, "connections"),
        ({"target": "10.0.0.1:80"}, "not a loopback"),
        ({"target": "example.com:80"}, "not a loopback"),
        ({"target": "127.0.0.1"}, "host:port"),
        ({"handler": "noop"}, "golat workload"),
        ({"handler": HTTP()}, "cannot itself"),
        ({"timeout": 0}, "timeout"),
    ],
)
def test_bad_http_arguments(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        HTTP(**kwargs)


def test_more_connections_than_workers_refused():
    with pytest.raises(ConfigError, match="use workers=4"):
        golat.run(HTTP(connections=4), requests=5, workers=2)


def test_loopback_targets_accepted():
    for t in ("127.0.0.1:8080", "localhost:80", "[::1]:8080"):
        assert HTTP(target=t).spec()["target"] == t


def test_parse_http():
    wl = parse("http:path=/;/status/503,body_bytes=1KiB,handler=spin:10us,connections=2")
    assert wl == HTTP(path=("/", "/status/503"), body_bytes=1024, handler=Spin(ns=10_000),
                      connections=2)  # fmt: skip
    assert str(wl).startswith("http:path=/;/status/503,body_bytes=1KiB")
    assert parse(str(wl)) == wl
