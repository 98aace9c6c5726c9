"""A run always stops: Ctrl-C (SIGINT) to `golat run` during each of the core's long waits
ends the process with 130 promptly, and the run it was in reports itself interrupted.

The core's bound is 200 ms (benchmarks/bench_stop.py measures it, core and CLI); these
tests assert a generous 3 s (the process's exit under a load of 6 on 2 cores once passed
2 s), while a wait that ignores the stop (10 s or more in every case below) still fails."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time

import pytest
from conftest import stop_process, wait_until_core_loaded

import golat
from golat.errors import ConfigError

BOUND_S = 3.0


def _default_sigint() -> None:
    # A child of a shell's background job starts with SIGINT ignored, and Python then
    # installs no KeyboardInterrupt handler: give the child the default disposition.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def interrupt_run(tmp_path, *args: str, settle_s: float = 1.0) -> tuple[float, dict]:
    """Start `golat run ARGS`, SIGINT it once it has been in its run for settle_s, and
    return the seconds from the signal to its exit (which must be 130) and its result."""
    out = tmp_path / "result.json"
    p = subprocess.Popen(
        [sys.executable, "-m", "golat", "run", *args, "--quiet", "--json", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_default_sigint,
    )  # fmt: skip
    try:
        wait_until_core_loaded(p)
        time.sleep(settle_s)
        assert p.poll() is None, p.communicate()
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail("golat run did not end within 30 s of SIGINT")
        took = time.monotonic() - sent
        _, err = p.communicate()
    finally:
        stop_process(p)
    assert p.returncode == 130, err
    result = json.loads(out.read_text())
    assert result["interrupted"] is True  # the signal came inside the run, not before it
    return took, result


def test_sigint_during_a_long_arrival_gap(tmp_path):
    # The first request is due at once, the next 10 s later.
    took, result = interrupt_run(tmp_path, "noop", "--rate", "0.1", "--requests", "3")
    assert result["requests"] == 1
    assert took < BOUND_S, f"exited {took:.2f} s after SIGINT"


@pytest.mark.parametrize("method", ["clock_nanosleep", "go"])
def test_sigint_during_a_long_timer_interval(tmp_path, method):
    took, result = interrupt_run(tmp_path, f"timer:interval=10s,method={method}",
                                 "--duration", "30s")  # fmt: skip
    assert result["requests"] == 1
    assert took < BOUND_S, f"exited {took:.2f} s after SIGINT"


def test_sigint_during_a_stall(tmp_path):
    # The first request of the measured window starts a 60 s stall.
    took, result = interrupt_run(tmp_path, "noop", "--rate", "100", "--duration", "120s",
                                 "--stall", "1ms:60s")  # fmt: skip
    assert result["stalls"] == 1
    assert took < BOUND_S, f"exited {took:.2f} s after SIGINT"


def test_sigint_during_a_long_spin(tmp_path):
    # A request is work, served to its end, but a spin of a minute is cut short by a stop.
    took, result = interrupt_run(tmp_path, "spin:ns=60s", "--requests", "2")
    assert took < BOUND_S, f"exited {took:.2f} s after SIGINT"


@pytest.mark.parametrize("engine", ["blocking", "epoll", "netpoll"])
def test_sigint_during_a_request_that_is_never_answered(tmp_path, engine):
    # The listening socket completes TCP handshakes in the kernel and never answers.
    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        url = f"http://127.0.0.1:{srv.getsockname()[1]}/"
        took, result = interrupt_run(tmp_path, f"http:url={url},timeout=60s,engine={engine}",
                                     "--rate", "1", "--duration", "60s")  # fmt: skip
    # The request in flight was cut short, not counted (nor any failure of another).
    assert result["requests"] == 0, result.get("classes")
    assert took < BOUND_S, f"exited {took:.2f} s after SIGINT"


def test_a_rate_whose_gaps_leave_int64_is_refused_with_the_range():
    # 1e-12/s is a gap of 1e21 ns; the allowed range is one arrival an hour to one a ns.
    allowed = r"rate must be in 0\.000277778\.\.1000000000"
    with pytest.raises(ConfigError, match=allowed):
        golat.run(golat.workloads.Noop(), rate=1e-12, duration=0.01)
    with pytest.raises(ConfigError, match=allowed):
        golat.measure(lambda: None, rate=1e-12, duration=0.01)
    with golat.Pool(workers=1) as pool, pytest.raises(ConfigError, match=allowed):
        pool.run(golat.workloads.Noop(), rate=1e-12, duration=0.01)
