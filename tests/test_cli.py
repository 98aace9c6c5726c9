"""The golat command: tables, files, exit codes, one-line errors, --help everywhere."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import wait_until_core_loaded

import golat


def golat_cmd(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "golat", *args], capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def test_run_prints_an_aligned_table(tmp_path):
    out_json, out_hgrm = tmp_path / "r.json", tmp_path / "r.hgrm"
    p = golat_cmd("run", "spin:2us", "--rate", "2000", "--duration", "0.2s", "--warmup", "50ms",
                  "--json", str(out_json), "--hgrm", str(out_hgrm))  # fmt: skip
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    header = next(line for line in lines if "P99.99" in line)
    for h in ("P50", "P90", "P99", "P99.9", "P99.99", "max", "mean", "stddev"):
        assert h in header.split()
    rows = [line for line in lines if line.startswith(("latency", "service"))]
    assert len(rows) == 2
    assert len({len(header), *(len(r) for r in rows)}) == 1, "columns do not line up"
    r = golat.Result.from_json(out_json.read_text())
    assert abs(r.requests - 400) <= 1
    assert "Percentile" in out_hgrm.read_text()


def test_slo_exit_codes():
    ok = golat_cmd("run", "noop", "--requests", "500", "--slo", "p50<=10s")
    assert ok.returncode == 0 and "SLO met" in ok.stdout
    broken = golat_cmd("run", "noop", "--requests", "500", "--slo", "p50<=1ns,max<=1ns")
    assert broken.returncode == 1
    assert "p50<=1 ns broken" in broken.stderr


@pytest.mark.parametrize(
    "args, match",
    [
        (["run", "warp"], "unknown workload 'warp'"),
        (["run", "noop", "--rate", "-5"], "rate"),
        (["run", "noop", "--duration", "soon"], "cannot read 'soon' as a duration"),
        (["run", "noop", "--gc", "maybe"], "--gc must be"),
        (["run", "noop", "--stall", "1s"], "--stall must be EVERY:DURATION"),
        (["run", "noop", "--slo", "p99 fast"], "cannot read SLO bound"),
        (["run", "alloc:size=0"], "size"),
        (["run", "noop", "--memory-limit", "0"], "--memory-limit must be >= 1"),
    ],
)
def test_bad_input_is_one_line_and_no_traceback(args, match):
    p = golat_cmd(*args)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1, p.stderr
    assert match in p.stderr


@pytest.mark.parametrize("args", [["--help"], ["run", "--help"], ["info", "--help"]])
def test_help(args):
    p = golat_cmd(*args)
    assert p.returncode == 0 and "usage: golat" in p.stdout


def test_info_text_and_json():
    p = golat_cmd("info")
    assert p.returncode == 0, p.stderr
    assert "go_version" in p.stdout and "node 0 cpus" in p.stdout
    j = json.loads(golat_cmd("info", "--json").stdout)
    assert j["runtime"]["gomaxprocs"] >= 1 and j["topology"]["nodes"]


def test_ctrl_c_prints_what_was_measured_and_exits_130():
    import signal
    import time

    p = subprocess.Popen([sys.executable, "-m", "golat", "run", "noop", "--rate", "1000",
                          "--duration", "600s", "--quiet"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)  # fmt: skip
    wait_until_core_loaded(p)
    time.sleep(0.5)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted: the run was stopped" in out and "P99.99" in out
    assert "Traceback" not in err


def test_a_closed_pipe_is_quiet():
    # `golat run ... | head -1`: the reader goes away; no error message, no traceback
    p = subprocess.Popen([sys.executable, "-m", "golat", "run", "noop", "--requests", "100",
                          "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    p.stdout.close()
    err = p.stderr.read().decode()
    assert p.wait(timeout=60) == 141
    assert err == ""
