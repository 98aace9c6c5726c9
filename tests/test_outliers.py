"""The slowest requests and their causes: known causes injected, attribution checked
(never the speed)."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

import golat
from golat import _outliers
from golat.errors import ConfigError
from golat.workloads import Spin

DATA = Path(__file__).resolve().parent / "data"


def outlier(**kw) -> np.void:
    a = np.zeros(1, _outliers.DTYPE)
    a["behind_ns"] = a["prev_end_ns"] = -1
    for k, v in kw.items():
        a[k] = v
    a["latency_ns"] = a["end_ns"] - a["intended_ns"]
    return a[0]


def test_split_in_order_capped_by_the_excess():
    # 10 ms late, P50 1 ms: 4 ms queued behind a GC pause, 3 ms its own pause, 2 ms mark.
    o = outlier(intended_ns=0, start_ns=4_000_000, end_ns=10_000_000, queued_ns=4_000_000,
                behind_ns=0, behind_gc_pause_ns=1_000_000, behind_gc_mark_ns=500_000,
                gc_pause_ns=3_000_000, gc_mark_ns=5_000_000, switches=-1)  # fmt: skip
    parts = _outliers.split(o, 1_000_000)
    assert parts == {"gc_pause": 3e6, "queued.gc_pause": 4e6, "gc_mark": 2e6}
    # a stall larger than the excess takes all of it
    assert _outliers.split(outlier(end_ns=5_000, stall_ns=9_000), 1_000) == {"stall": 4_000}
    # involuntary switches take what the exact causes leave; a late start on an idle worker
    # is named; nothing known: unexplained
    assert _outliers.split(outlier(end_ns=5_000, gc_pause_ns=1_000, switches=2), 0) == {
        "gc_pause": 1_000, "switched": 4_000}  # fmt: skip
    assert _outliers.split(outlier(start_ns=3_000, end_ns=5_000), 1_000) == {
        "late_start": 3_000, "unexplained": 1_000}  # fmt: skip
    assert _outliers.split(outlier(end_ns=500), 1_000) == {}
    # queued until the previous request ended at 1 ms; then the worker did not run it
    # for 3 ms more
    o = outlier(start_ns=4_000_000, end_ns=4_100_000, queued_ns=4_000_000, behind_ns=0,
                prev_end_ns=1_000_000)  # fmt: skip
    assert _outliers.split(o, 0) == {"queued.other": 1e6, "late_start": 3e6,
                                     "unexplained": 1e5}  # fmt: skip


def test_causes_cover_the_tail_by_rank():
    base = dict.fromkeys(_outliers.CORE_FIELDS, 0)
    arr = _outliers.from_records([
        {**base, "intended_ns": i, "end_ns": i + lat, "stall_ns": lat // 2, "behind_ns": -1}
        for i, lat in enumerate([5_000, 9_000, 7_000])
    ])  # fmt: skip
    assert list(arr["latency_ns"]) == [9_000, 7_000, 5_000]  # slowest first
    c = _outliers.causes(arr, requests=2000, percentile=99.9, baseline_ns=1_000, exact=100)
    assert (c.requests, c.covered) == (2, 2)
    assert c.excess_ns == 8_000 + 6_000
    assert c.ns == {"stall": 4_500 + 3_500, "unexplained": 8_000 + 6_000 - 8_000}
    assert c.main_shares() == pytest.approx({"stall": 8 / 14, "unexplained": 6 / 14})
    # more in the tail than kept: coverage says so
    c = _outliers.causes(arr, requests=100_000, percentile=99.9, baseline_ns=0, exact=3)
    assert (c.requests, c.covered) == (100, 3)
    assert _outliers.causes(arr[:0], 10, 99, 0, 1) is None


def test_settings_declared_once():
    s = golat.RunSettings(outliers=5, outlier_threshold=0.002)
    assert golat.RunSettings.parse(str(s)) == s
    assert s.to_args() == ["--outliers", "5", "--outlier-threshold", "2ms"]
    with pytest.raises(ConfigError, match="outliers"):
        golat.RunSettings(outliers=-1)


def test_stall_and_the_requests_behind_it():
    r = golat.run(Spin(ns=2000), rate=2000, duration=1.2, stall="400ms:30ms", outliers=1000)
    o = r.outliers
    assert r.stalls >= 2 and r.tail["per_worker"] == 1000
    stalled = o[o["stall_ns"] > 0]
    assert 1 <= len(stalled) <= r.stalls
    assert (stalled["stall_ns"] >= 30_000_000).all()
    behind = o[(o["queued_ns"] > 0) & (o["behind_stall_ns"] > 0)]
    # 30 ms at 2000/s: dozens of requests due while the stalled one ran
    assert len(behind) >= 10
    # each names where its backlog began: at or before a stalled request (which may itself
    # have queued behind a late one on a busy machine)
    for b in behind:
        assert any(b["behind_ns"] <= s["intended_ns"] <= b["start_ns"] for s in stalled)
    parts = [_outliers.split(x, r.value("p50")) for x in stalled]
    assert all(p.get("stall", 0) > 0 for p in parts)
    assert any("queued.stall" in _outliers.split(x, r.value("p50")) for x in behind)
    assert "stall" in r.table()


def test_forced_gc_shows_as_a_pause_on_the_requests_it_overlapped():
    # Back to back, every moment is inside some request; keep every request. The poll
    # loop calls runtime.GC once requests are being served (the run goes on in Go).
    fired = threading.Event()

    def collect(served: int, elapsed_s: float, planned_s: float) -> None:
        if served > 2000 and not fired.is_set():
            golat.runtime.gc()
            fired.set()

    r = golat.run(Spin(ns=20_000), duration=1.0, outliers=100_000, progress=collect)
    assert fired.is_set() and r.gc.forced >= 1
    assert r.tail["gc_pauses"] >= 1
    assert len(r.outliers) == r.requests  # every request kept
    hit = r.outliers[r.outliers["gc_pause_ns"] > 0]
    assert len(hit) >= 1
    assert (hit["gc_pause_ns"] <= hit["latency_ns"]).all()
    if r.tail["marks_known"]:
        assert (r.outliers["gc_mark_ns"] > 0).any()


def test_quiet_closed_loop_spin_has_little_to_explain():
    r = golat.run(Spin(ns=5000), requests=20_000, lock_os_thread=True)
    o = r.outliers
    assert len(o) == 100
    # closed loop: nothing queues; nothing was injected; no managed GC
    for col in ("queued_ns", "stall_ns", "managed_gc_ns", "behind_stall_ns"):
        assert (o[col] == 0).all(), col
    assert (o["switches"] >= 0).all()  # a locked worker's counters are known
    if r.gc.cycles == 0 and r.tail["gc_pauses"] == 0:
        assert (o["gc_pause_ns"] == 0).all()
    c = r.causes(99.9)
    assert c is not None and c.covered == c.requests == 20
    assert not {k for k in c.ns if k.startswith("queued") or k in ("stall", "managed_gc")}


def test_result_json_keeps_outliers_and_old_files_read():
    r = golat.run(Spin(ns=1000), requests=2000, outliers=7)
    back = golat.Result.from_json(r.to_json())
    assert back.tail == r.tail and len(back.outliers) == 7
    assert (back.outliers == r.outliers).all()
    old = golat.Result.from_json((DATA / "result-v4.json").read_text())
    assert old.tail is None and len(old.outliers) == 0 and old.causes() is None
    none = golat.run(Spin(ns=1000), requests=200, outliers=0)
    assert none.tail is None and none.causes() is None


def test_compare_adds_a_row_per_main_cause():
    c = golat.compare(Spin(ns=2000), [golat.Stage("calm"), "stalled:stall=300ms:100ms"],
                      trials=1, rate=2000, duration=1.0, trace=False)  # fmt: skip
    assert not c.failed
    text, md = c.format(), c.markdown()
    for t in c.trials:
        shares = t.result.causes(99.9).main_shares()
        for k in _outliers.MAIN:
            assert t.metrics[f"tail_{k}"] == pytest.approx(shares.get(k, 0.0))
        top = max(shares, key=shares.get)  # always >= 5 %: the row is shown
        assert f"P99.9+: {_outliers.MAIN_LABELS[top]}" in text
        assert f"P99.9+: {_outliers.MAIN_LABELS[top]}" in md
    stalled = c.results("stalled")[0]
    assert (stalled.outliers["stall_ns"] >= 100_000_000).any()
