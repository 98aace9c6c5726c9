"""golat.merge, golat merge and golat report: lossless merging of results."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import ROOT, synthetic_result
from hypothesis import given, settings
from hypothesis import strategies as st

import golat
from golat._cli import main
from golat.errors import ConfigError
from golat.workloads import Noop

DATA = ROOT / "tests" / "data"


def test_merged_percentiles_are_those_of_the_union():
    """The merged P99 is the P99 of every raw value of every input (recorded in one plain
    Histogram), which the mean of the inputs' P99s is not."""
    rng = np.random.default_rng(3)
    parts = [rng.lognormal(mu, 1.0, n).astype(np.int64) + 1
             for mu, n in ((9, 5000), (11, 300), (10, 2000))]  # fmt: skip
    results = [synthetic_result([[p[: len(p) // 2].tolist(), p[len(p) // 2 :].tolist()]],
                                hostname=f"h{i}") for i, p in enumerate(parts)]  # fmt: skip
    m = golat.merge(results)
    plain = golat.Histogram()
    plain.record(np.concatenate(parts))
    assert m.latency == plain
    assert m.latency.count == sum(len(p) for p in parts) == m.requests
    for p in (50, 90, 99, 99.9, 99.99, 100):
        assert m.latency.percentile(p) == plain.percentile(p)
    mean_of_p99 = np.mean([r.latency.percentile(99) for r in results])
    assert abs(mean_of_p99 - plain.percentile(99)) > 0.05 * plain.percentile(99)
    assert [x.extra["label"] for x in m.inputs] == ["h0", "h1", "h2"]
    assert m.environment["hostnames"] == ["h0", "h1", "h2"]
    assert m.environment["cpu_model"] == "test CPU"  # shared by every input


def test_merge_keeps_workers_and_aligns_timelines():
    base = 1_800_000_000_000_000_000
    a = synthetic_result([[[100, 200], [300]], [[400], [500, 600]]], window_unix_ns=base)
    # starts 2.1 intervals later: its intervals land on slots 2 and 3
    b = synthetic_result([[[7000], [8000, 9000]]], window_unix_ns=base + 210_000_000,
                         hostname="b")  # fmt: skip
    m = golat.merge([a, b])
    assert [w.extra["input"] for w in m.workers] == [0, 0, 1]
    assert [w.id for w in m.workers] == [0, 1, 2]
    assert m.workers[2].latency == b.workers[0].latency
    tl = m.timeline
    assert len(tl) == 4 and tl.workers == 3
    assert tl.count.tolist() == [3, 3, 1, 2]
    assert tl.histogram(2, worker=2) == b.timeline.histogram(0)
    assert tl.histogram(0, worker=2).count == 0
    assert tl.max_ns.tolist() == [400, 600, 7000, 9000]
    assert "moved by up to 10.000 ms" in " ".join(m.extra["merged"]["notes"])
    assert m.window_unix_ns == base
    # a merged result merges again as its inputs
    mm = golat.merge([m, synthetic_result([[[1]]], hostname="c")])
    assert len(mm.inputs) == 3 and mm.latency.count == m.latency.count + 1
    assert [w.extra["input"] for w in mm.workers] == [0, 0, 1, 2]


def test_an_input_that_cut_its_backlog_makes_the_merge_overloaded():
    a = synthetic_result([[[100, 200]]])
    b = synthetic_result([[[300]]], hostname="b")
    b.extra["backlog_cut_ns"] = 1_200_000_000
    assert golat.merge([a, a]).backlog_cut_s is None
    m = golat.merge([a, b])
    assert m.backlog_cut_s == 1.2 and "stopped serving its backlog 1.20 s" in m.overload
    assert golat.Result.from_json(m.to_json()).overload == m.overload


def test_merge_refuses_incompatible_inputs():
    a = synthetic_result([[[100]]])
    with pytest.raises(ConfigError, match="different precisions"):
        golat.merge([a, synthetic_result([[[100]]], precision=3)])
    other = synthetic_result([[[100]]], workload={"kind": "spin", "ns": 10})
    with pytest.raises(ConfigError, match="different workloads.*force"):
        golat.merge([a, other])
    assert golat.merge([a, other], force=True).requests == 2
    with pytest.raises(ConfigError, match="one or more"):
        golat.merge([])
    with pytest.raises(ConfigError, match="labels"):
        golat.merge([a, a], labels=["x"])


def test_timeline_left_out_when_intervals_differ():
    m = golat.merge([synthetic_result([[[1]]]), synthetic_result([[[1]]], interval_s=0.2)])
    assert m.timeline is None
    assert "intervals differ" in m.extra["merged"]["notes"][0]


def test_old_versions_still_read_and_merge():
    old = [golat.Result.from_json((DATA / f"result-v{v}.json").read_text()) for v in (1, 2, 3)]
    assert old[0].timeline is None
    assert all(r.start_unix_ns is None and r.inputs == [] for r in old)
    assert not any(r.timeline.has_histograms for r in old[1:])
    m = golat.merge(old, force=True)
    assert m.latency.count == sum(r.latency.count for r in old)
    assert m.timeline is None
    back = golat.Result.from_json(m.to_json())
    assert back.to_json() == m.to_json()


def test_v4_reader_is_strict():
    m = golat.merge([synthetic_result([[[5]]]), synthetic_result([[[7]]], hostname="b")])
    d = json.loads(m.to_json())
    for change, what in (
        (lambda d: d.update(surprise=1), "unknown key"),
        (lambda d: d.update(start_unix_ns=-5), "start_unix_ns"),
        (
            lambda d: d["inputs"][0]["histograms"]["latency"].update(
                counts=[[1, 1]], min_ns=1, max_ns=1
            ),
            "not the sum",
        ),  # fmt: skip
        (lambda d: d["workers"][0].update(input=9), "'input' index"),
        (
            lambda d: [
                row.append(row[0])
                for which in ("latency", "service")
                for row in d["timeline"]["histograms"][which]
            ],
            "3 workers'",
        ),  # fmt: skip
        (lambda d: d["timeline"]["histograms"]["latency"][0].append("x"), "worker 2"),
        (lambda d: d["timeline"]["histograms"].update(latency=[["AAAA", "AAAA"]]), "interval 0"),
    ):
        bad = json.loads(json.dumps(d))
        change(bad)
        with pytest.raises(ConfigError, match=what):
            golat.Result.from_json(json.dumps(bad))


result_parts = st.lists(
    st.lists(st.lists(st.integers(0, 10**11), max_size=6), min_size=1, max_size=3),
    min_size=1, max_size=3,
)  # fmt: skip


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(result_parts, st.integers(0, 10**9)), min_size=1, max_size=3),
       st.sampled_from([2, 3]))  # fmt: skip
def test_merged_result_json_round_trip(inputs, precision):
    """Property: any merge is the union of its inputs, and its JSON reads back unchanged."""
    base = 1_800_000_000_000_000_000
    results = [synthetic_result(w, window_unix_ns=base + off, precision=precision,
                                hostname=f"h{i}") for i, (w, off) in enumerate(inputs)]  # fmt: skip
    m = golat.merge(results)
    plain = golat.Histogram(precision)
    for r in results:
        for w in r.workers:
            plain.merge(w.latency)
    assert m.latency == plain and m.requests == sum(r.requests for r in results)
    if m.timeline is not None:
        assert int(m.timeline.count.sum()) == m.requests
    text = m.to_json()  # compared as text: NaN (no sched latency here) is not equal to itself
    back = golat.Result.from_json(text)
    assert back.to_json() == text
    assert back.latency == m.latency and len(back.inputs) == len(results)


@pytest.fixture(scope="module")
def three_files(tmp_path_factory):
    """Three result files from three different runs."""
    d = tmp_path_factory.mktemp("results")
    paths = []
    for i, (rate, workers) in enumerate(((2000, 1), (3000, 2), (1000, 1))):
        p = d / f"run{i}.json"
        assert (
            main(
                [
                    "run",
                    "noop",
                    "--rate",
                    str(rate),
                    "--duration",
                    "0.3s",
                    "--workers",
                    str(workers),
                    "--timeline",
                    "0.1s",
                    "--json",
                    str(p),
                    "--quiet",
                ]
            )
            == 0
        )
        paths.append(p)
    return paths


def test_cli_merge_and_report(three_files, tmp_path, capsys):
    out = tmp_path / "all.json"
    hlog = tmp_path / "all.hlog"
    assert main(["merge", *map(str, three_files), "-o", str(out), "--hlog", str(hlog)]) == 0
    m = golat.Result.from_json(out.read_text())
    parts = [golat.Result.from_json(p.read_text()) for p in three_files]
    assert m.requests == sum(p.requests for p in parts)
    assert m.latency == parts[0].latency + parts[1].latency + parts[2].latency
    assert [x.extra["label"] for x in m.inputs] == ["run0", "run1", "run2"]  # one host: files
    assert len(m.workers) == 4
    assert golat.read_hlog(hlog).histogram("latency") == m.latency
    capsys.readouterr()
    assert main(["report", *map(str, three_files)]) == 0
    text = capsys.readouterr().out
    assert "merged (3 inputs)" in text
    for name, p in zip(("run0", "run1", "run2"), parts):
        line = next(x for x in text.splitlines() if x.startswith(name + " "))
        assert f"{p.requests:,}" in line
    assert main(["report", str(out)]) == 0
    assert "merged (3 inputs)" in capsys.readouterr().out


def test_cli_merge_refuses_clearly(three_files, tmp_path, capsys):
    spin = tmp_path / "spin.json"
    golat.run(golat.workloads.Spin(ns=1000), requests=50).to_json()
    spin.write_text(golat.run(golat.workloads.Spin(ns=1000), requests=50).to_json())
    code = main(["merge", str(three_files[0]), str(spin), "-o", str(tmp_path / "x.json")])
    assert code == 2
    assert "different workloads" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text("{}")
    assert main(["report", str(bad)]) == 2
    assert "bad.json" in capsys.readouterr().err


def test_single_run_table_unchanged_by_merge_code():
    r = golat.run(Noop(), requests=100)
    assert "per input" not in r.table()
