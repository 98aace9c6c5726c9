"""HdrHistogram interval logs: golat's writer and strict reader, the round trip, and
interop both ways with the hdrhistogram package (hdrh)."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import synthetic_result
from hypothesis import given, settings
from hypothesis import strategies as st

import golat
from golat import IntervalLog
from golat._hlog import LogInterval
from golat.errors import ConfigError
from golat.workloads import Noop

HDRH_HIGHEST = 3_600_000_000_000


@pytest.fixture(scope="module")
def run_result():
    return golat.run(Noop(), rate=4000, duration=0.4, workers=2, timeline=0.1)


def test_result_log_has_every_interval_and_tag(run_result):
    r = run_result
    log = IntervalLog.from_text(r.to_hlog())
    tags = ["latency", "service", "latency.w0", "service.w0", "latency.w1", "service.w1"]
    assert log.tags() == tags
    assert len(log.intervals) == len(tags) * len(r.timeline)
    assert log.base_time_ns == log.start_time_ns == r.window_unix_ns
    assert log.histogram("latency") == r.latency
    assert log.histogram("service") == r.service
    for i, w in enumerate(r.workers):
        assert log.histogram(f"latency.w{i}") == w.latency
        assert log.histogram(f"service.w{i}") == w.service
    merged = [iv for iv in log.intervals if iv.tag == "latency"]
    assert [iv.histogram.count for iv in merged] == r.timeline.count.tolist()
    assert merged[1].start_ns == round(r.timeline.interval_s * 1e9)
    assert log.absolute_start_ns(merged[1]) == r.window_unix_ns + merged[1].start_ns


def test_cli_run_writes_hlog(tmp_path):
    from golat._cli import main

    out = tmp_path / "run.hlog"
    assert main(["run", "noop", "--rate", "2000", "--duration", "0.3s", "--timeline", "0.1s",
                 "--hlog", str(out), "--quiet"]) == 0  # fmt: skip
    log = golat.read_hlog(out)
    assert log.version == "1.3"
    assert log.histogram("latency").count == log.histogram("latency.w0").count > 0


def test_old_result_gives_one_interval():
    from conftest import ROOT

    r = golat.Result.from_json((ROOT / "tests/data/result-v2.json").read_text())
    assert r.window_unix_ns is None and not r.timeline.has_histograms
    log = IntervalLog.from_text(r.to_hlog())
    assert log.start_time_ns is None and log.base_time_ns is None
    assert {iv.start_ns for iv in log.intervals} == {0}
    assert log.histogram("latency") == r.latency


def test_hdrh_reads_golat_log(run_result, tmp_path):
    """The hdrhistogram package's log reader reads golat's file: same tags, same counts."""
    pytest.importorskip("hdrh")
    from hdrh.histogram import HdrHistogram
    from hdrh.log import HistogramLogReader

    path = tmp_path / "golat.hlog"
    path.write_text(run_result.to_hlog())
    ours = golat.read_hlog(path)
    reader = HistogramLogReader(str(path), HdrHistogram(1, HDRH_HIGHEST, 2))
    theirs = []
    while (h := reader.get_next_interval_histogram()) is not None:
        theirs.append(h)
    reader.close()
    assert len(theirs) == len(ours.intervals)
    for iv, h in zip(ours.intervals, theirs):
        assert h.get_tag() == iv.tag
        assert h.get_total_count() == iv.histogram.count
        for p in (50, 99, 100):
            assert h.get_value_at_percentile(p) == iv.histogram.percentile(p)
    # its absolute times: BaseTime + the interval's start
    assert reader.base_time_sec == pytest.approx(run_result.window_unix_ns / 1e9)


def test_golat_reads_hdrh_log(tmp_path):
    """golat reads a log the hdrhistogram package wrote (no tags; its StartTime header is
    broken, so only the version, legend and BaseTime headers are written)."""
    pytest.importorskip("hdrh")
    from hdrh.histogram import HdrHistogram
    from hdrh.log import HistogramLogWriter

    rng = np.random.default_rng(7)
    buf = io.StringIO()
    w = HistogramLogWriter(buf)
    w.output_log_format_version()
    w.output_legend()
    w.output_base_time(1_700_000_000_000)
    written = []
    for k in range(3):
        h = HdrHistogram(1, HDRH_HIGHEST, 3)
        for v in rng.lognormal(10, 1.5, 500).astype(np.int64) + 1:
            h.record_value(int(v))
        w.output_interval_histogram(h, start_time_stamp_sec=k, end_time_stamp_sec=k + 1)
        written.append(h)
    path = tmp_path / "hdrh.hlog"
    path.write_text(buf.getvalue())
    log = golat.read_hlog(path)
    assert log.version == "1.2" and log.tags() == [None]
    assert log.base_time_ns == 1_700_000_000 * 10**9
    assert len(log.intervals) == 3
    for k, (iv, h) in enumerate(zip(log.intervals, written)):
        assert iv.start_ns == k * 10**9 and iv.length_ns == 10**9
        assert iv.histogram.precision == 3
        assert iv.histogram.count == h.get_total_count()
        for p in (0, 50, 90, 99, 99.9, 100):
            assert iv.histogram.percentile(p) == h.get_value_at_percentile(p)
    assert log.histogram(None).count == 1500


@pytest.mark.parametrize(
    "text, what",
    [
        ("1.0,1.0,2.0\n", "4 fields"),
        ("Tag=a b,0,1,2,HISTFAAAA\n", "bad tag"),
        ("-1,1,2,HISTFAAAA\n", "start '-1'"),
        ("0,1e3,2,HISTFAAAA\n", "length '1e3'"),
        ("0,1,x,HISTFAAAA\n", "max 'x'"),
        ("0,1,2,notbase64!\n", "histogram"),
        ("#[StartTime: soon]\n", "StartTime"),
        ("#[BaseTime: 1.5]\n", "BaseTime"),
        ("#[Histogram log format version one]\n", "version header"),
    ],
)
def test_reader_is_strict(text, what):
    with pytest.raises(ConfigError, match="hlog line 2") as err:
        IntervalLog.from_text("#comment\n" + text)
    assert what in str(err.value)


def test_intervals_validate():
    h = golat.Histogram()
    with pytest.raises(ConfigError, match="tag"):
        LogInterval("a,b", 0, 1, 0.0, h)
    with pytest.raises(ConfigError, match="start_ns"):
        LogInterval("a", -1, 1, 0.0, h)
    with pytest.raises(ConfigError, match="no interval tagged"):
        IntervalLog().histogram("latency")


values = st.lists(st.integers(0, 10**12), max_size=30)
intervals = st.builds(
    lambda tag, start, length, max_k, vals, p: LogInterval(
        tag, start, length, max_k / 1000, _hist(vals, p)
    ),
    st.one_of(st.none(), st.from_regex(r"[A-Za-z0-9._/=-]{1,12}", fullmatch=True)),
    st.integers(0, 10**15),
    st.integers(0, 10**12),
    st.integers(0, 10**9),
    values,
    st.sampled_from([2, 3]),
)
logs = st.builds(
    IntervalLog,
    intervals=st.lists(intervals, max_size=6),
    start_time_ns=st.one_of(st.none(), st.integers(0, 4 * 10**18)),
    base_time_ns=st.one_of(st.none(), st.integers(0, 4 * 10**18)),
    comments=st.lists(
        st.from_regex(
            r"[^\[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029][^\r\n\x0b\x0c"
            r"\x1c-\x1e\x85\u2028\u2029]{0,20}",
            fullmatch=True,
        ),
        max_size=3,
    ),  # fmt: skip
)


def _hist(vals, precision):
    h = golat.Histogram(precision)
    h.record(np.array(vals, dtype=np.int64))
    return h


@settings(max_examples=150, deadline=None)
@given(logs)
def test_hlog_round_trip(log):
    text = log.to_text()
    back = IntervalLog.from_text(text)
    assert back == log
    assert back.to_text() == text


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.lists(st.integers(1, 10**9), max_size=8), min_size=1, max_size=4),
                min_size=1, max_size=3))  # fmt: skip
def test_result_log_round_trip(workers):
    """A result's log reads back to the result's histograms, interval by interval."""
    r = synthetic_result(workers)
    log = IntervalLog.from_text(r.to_hlog())
    for k in range(len(r.timeline)):
        row = [iv for iv in log.intervals if iv.start_ns == round(k * r.timeline.interval_s * 1e9)]
        assert row[0].tag == "latency" and row[0].histogram == r.timeline.histogram(k)
        for w in range(len(workers)):
            got = {iv.tag: iv.histogram for iv in row}
            assert got[f"latency.w{w}"] == r.timeline.histogram(k, "latency", w)
            assert got[f"service.w{w}"] == r.timeline.histogram(k, "service", w)
