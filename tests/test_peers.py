"""benchmarks/peers.py's pair framework, with fake peers (no wrk or nginx needed)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def peers():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("peers", ROOT / "benchmarks" / "peers.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["peers"] = mod  # dataclasses look their module up while the class is made
    spec.loader.exec_module(mod)
    return mod


def fake_run(peers, calls, ours=10.0, peer=8.0, **kw):
    def side(name, value):
        def fn():
            calls.append(name)
            return {"p50": value * (1 + 0.01 * len(calls)), "rate": 100.0}

        return fn

    return peers.PairRun(
        side("ours", ours), side("peer", peer),
        {"p50": peers.Metric("ns", "latency P50", (0.85, 1.15)),
         "rate": peers.Metric("req/s", "rate")},
        **kw,
    )  # fmt: skip


def test_measure_alternates_and_reports_spread(peers):
    calls = []
    out = peers.measure(fake_run(peers, calls), reps=4, log=lambda s: None)
    assert calls == ["ours", "peer", "peer", "ours", "ours", "peer", "peer", "ours"]
    p50 = out["metrics"]["p50"]
    assert len(p50["ratios"]) == 4 and len(p50["ours"]) == len(p50["peer"]) == 4
    assert p50["ratio_min"] <= p50["ratio_median"] <= p50["ratio_max"]
    assert 1.2 < p50["ratio_median"] < 1.3 and p50["meets_target"] is False
    rate = out["metrics"]["rate"]
    assert rate["ratio_median"] == 1.0 and "meets_target" not in rate


def test_measure_without_alternation(peers):
    calls = []
    peers.measure(fake_run(peers, calls, alternate=False), reps=2, log=lambda s: None)
    assert calls == ["ours", "peer", "ours", "peer"]


def test_skips_are_printed_and_reported(peers, tmp_path):
    lines, calls, closed = [], [], []

    def skip_at_setup(ctx):
        raise peers.Skip("fakepeer is not installed")

    def skip_mid_run(ctx):
        def peer():
            raise peers.Skip("fakepeer cannot run here")

        run = fake_run(peers, calls, close=lambda: closed.append(1))
        run.peer = peer
        return run

    def broken(ctx):
        run = fake_run(peers, calls)
        run.ours = lambda: 1 / 0
        return run

    def cannot_start(ctx):
        raise RuntimeError("golat serve did not start")

    pairs = [
        peers.Pair("absent", "a peer that is not there", skip_at_setup, 1),
        peers.Pair("unable", "a peer that cannot run", skip_mid_run, 1),
        peers.Pair("broken", "a pair that fails", broken, 1),
        peers.Pair("no_start", "a pair whose set-up fails", cannot_start, 1),
        peers.Pair("fine", "a pair that works", lambda ctx: fake_run(peers, calls), 1),
    ]
    ctx = peers.Context(reps=2, quick=True, tools={}, tmp=tmp_path, log=lines.append)
    results = peers.run_pairs(pairs, ctx)
    assert [r["status"] for r in results] == ["skipped", "skipped", "failed", "failed", "ok"]
    assert closed == [1]  # a pair's close runs even when it is skipped mid-way
    text = "\n".join(lines)
    assert "SKIPPED absent: fakepeer is not installed" in text
    assert "SKIPPED unable: fakepeer cannot run here" in text
    assert "FAILED broken: ZeroDivisionError" in text
    assert "FAILED no_start: RuntimeError: golat serve did not start" in text
    report = {"machine": peers.machine(), "started": "now", "reps": 2, "seconds": 1.0,
              "peer_versions": {}, "pairs": results}  # fmt: skip
    md = peers.markdown(report)
    assert "**SKIPPED**: fakepeer is not installed" in md
    assert "| p50 |" in md and "0.85..1.15" in md
    json.dumps(report, default=str)


def test_need_skips_missing_tool(peers, tmp_path):
    ctx = peers.Context(reps=1, quick=True, tools={"wrk": None}, tmp=tmp_path)
    with pytest.raises(peers.Skip, match="wrk is not installed .*Debian package wrk"):
        peers.need(ctx, "wrk")


def test_a_tool_that_fails_is_a_skip_with_its_reason(peers, tmp_path):
    import subprocess

    def broken(args, tmp):
        raise subprocess.CalledProcessError(1, ["cyclictest", "-q"], stderr=b"no RT here")

    ctx = peers.Context(reps=1, quick=True, tools={}, tmp=tmp_path)
    with pytest.raises(peers.Skip, match="cyclictest cannot run here: .*no RT here"):
        peers._rt_tool(broken, peers._rt_args(ctx))


def test_parse_wrk(peers):
    out = """Running 2s test @ http://127.0.0.1:1/
  Latency Distribution
     50%   33.00us
     75%   36.00us
     90%    1.20ms
     99%    2.00s
  106490 requests in 2.10s, 7.62MB read
Requests/sec:  50708.53
"""
    m = peers.parse_wrk(out)
    assert m == {"p50": 33_000.0, "p75": 36_000.0, "p90": 1_200_000.0, "p99": 2e9,
                 "rate": 50708.53}  # fmt: skip
    with pytest.raises(RuntimeError, match="cannot read"):
        peers.parse_wrk("nothing")


def test_tool_histogram_percentile(peers):
    hist = {1: 50, 2: 49, 9: 1}  # the rt-tests tools' {µs: count} histograms
    assert peers.rt_tools.hist_percentile(hist, 50) == 1
    assert peers.rt_tools.hist_percentile(hist, 99) == 2
    assert peers.rt_tools.hist_percentile(hist, 100) == 9


def test_list(peers, capsys):
    assert peers.main(["--list"]) == 0
    assert "http_client" in capsys.readouterr().out


def test_a_metric_can_judge_golats_own_value(peers):
    run = peers.PairRun(
        lambda: {"p99": 40e6}, lambda: {"p99": 1e6},
        {"p99": peers.Metric("ns", "P99", ours_target=(20e6, 60e6))},
    )  # fmt: skip
    e = peers.measure(run, reps=3, log=lambda s: None)["metrics"]["p99"]
    assert e["ours_median"] == 40e6 and e["meets_ours_target"] is True
    assert "golat's value 20 ms..60 ms: met" in peers._target_text(e)
    assert peers._range((0.8, 1e9)) == ">= 0.8" and peers._range((0, 1.5)) == "0..1.5"
    run.ours = lambda: {"p99": 2e6}
    e = peers.measure(run, reps=1, log=lambda s: None)["metrics"]["p99"]
    assert e["meets_ours_target"] is False


def test_every_pair_is_listed(peers, capsys):
    assert peers.main(["--list"]) == 0
    out = capsys.readouterr().out
    for name in ("service_time", "http_closed_1", "http_max_rate", "stall", "ten_thousand",
                 "serve_default", "serve_tuned"):  # fmt: skip
        assert name in out
