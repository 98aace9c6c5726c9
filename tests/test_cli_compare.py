"""CLI smoke tests: golat compare (table, files, SLO exit status, Ctrl-C) and run --gc managed."""

import json
import os
import signal
import subprocess
import sys

import pytest

import golat
from golat._cli import main

QUICK = ["--stages", "baseline,gc", "--trials", "2", "--duration", "0.15s", "--warmup",
         "0.05s", "--rate", "2000", "--quiet"]  # fmt: skip
WL = "alloc:size=1KiB,count=4,live_bytes=2MiB"


def test_compare_prints_table_and_writes_files(tmp_path, capsys):
    js, md = tmp_path / "c.json", tmp_path / "c.md"
    rc = main(["compare", WL, *QUICK, "--json", str(js), "--markdown", str(md),
               "--slo", "p99<=60s"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0
    assert "baseline" in out and "P99.99" in out and "SLO met" in out
    d = json.loads(js.read_text())
    assert [r["stage"] for r in d["table"]] == ["baseline", "gc"]
    assert md.read_text().startswith("| metric | baseline | gc |")


def test_compare_slo_broken_exits_nonzero_naming_the_bound(capsys):
    rc = main(["compare", WL, *QUICK, "--slo", "p50<=1ns,p99<=60s"])
    err = capsys.readouterr().err
    assert rc == 1
    assert "gc: p50<=1 ns broken" in err and "p99<=" not in err


def test_compare_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    png = tmp_path / "c.png"
    assert main(["compare", "spin:ns=1us", *QUICK, "--plot", str(png)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_compare_bad_input(capsys):
    assert main(["compare", "noop", "--stages", "fast"]) == 2
    assert "unknown stage 'fast'" in capsys.readouterr().err
    assert main(["compare", "noop", "--slo", "p99 about 1ms"]) == 2


def test_compare_ctrl_c_prints_what_was_measured():
    cmd = [sys.executable, "-m", "golat", "compare", "spin:ns=1us", "--stages", "baseline,gc",
           "--trials", "3", "--duration", "2s", "--warmup", "0s", "--rate", "2000"]  # fmt: skip
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)  # fmt: skip
    line = p.stderr.readline()  # the first trial's progress line
    assert line.startswith("[1/6] baseline"), line
    os.killpg(p.pid, signal.SIGINT)  # as a terminal's Ctrl-C: parent and child
    out, err = p.communicate(timeout=60)
    assert p.returncode == 130, err
    assert "interrupted" in err and "interrupted: 1 trial measured" in out
    assert "baseline" in out


def test_run_managed_gc(capsys, tmp_path):
    rc = main(["run", "alloc:size=1KiB,count=16,live_bytes=1MiB", "--rate", "20000",
               "--requests", "4000", "--gc", "managed", "--gc-threshold", "8MiB", "--quiet",
               "--timeline", "0.1s", "--json", str(tmp_path / "r.json")])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "managed GC:" in out
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["gc"]["controller_cycles"] >= 1 and d["timeline"]["interval_s"] == 0.1


def test_run_bad_gc(capsys):
    assert main(["run", "noop", "--requests", "10", "--gc", "sometimes"]) == 2
    assert "managed" in capsys.readouterr().err


def test_parse_stage():
    parse_stage = golat.Stage.parse
    st = parse_stage("nopreempt:gc=managed,pooled=1,GODEBUG=asyncpreemptoff=1,workers=2")
    assert st.name == "nopreempt" and st.pooled
    assert st.settings == {"gc": "managed", "workers": 2}
    assert st.env == {"GODEBUG": "asyncpreemptoff=1"}
    assert parse_stage("off:gc=off,timeline=0.1").settings == {"gc": "off", "timeline": 0.1}
    # values may hold commas: CPU lists and GODEBUG's own list
    st = parse_stage("p:cpus=0,1,GODEBUG=gctrace=1,schedtrace=1000,gc=off")
    assert st.settings == {"cpus": (0, 1), "gc": "off"}
    assert st.env == {"GODEBUG": "gctrace=1,schedtrace=1000"}
    assert parse_stage(str(st)) == st
    with pytest.raises(ValueError, match="key=value"):
        parse_stage("x:gc")
    with pytest.raises(ValueError, match="unknown setting 'turbo'"):
        parse_stage("x:turbo=1")


def test_compare_custom_stages(capsys):
    rc = main(["compare", "spin:ns=1us", "--stages", "baseline", "--stage", "off:gc=off,GOGC=off",
               "--trials", "1", "--duration", "0.1s", "--warmup", "0s", "--rate", "2000",
               "--quiet"])  # fmt: skip
    out = capsys.readouterr().out
    assert rc == 0 and "baseline" in out and " off" in out


class _Called(Exception):
    pass


@pytest.mark.parametrize("command", [["compare"], ["fleet", "--scheduler", "tcp://x:1", "compare"]])
def test_both_compare_commands_take_one_preset(monkeypatch, command):
    """golat compare and golat fleet compare build from one preset: without a workload the
    quick one allocates 64 KiB a request in 1 s trials, the full one 16 KiB in 5 s trials;
    flags still override it."""
    import golat._compare
    import golat.fleet

    seen = []

    def record(wl, stages, trials, settings=None, **kw):
        seen.append((str(wl), settings))
        raise _Called

    monkeypatch.setattr(golat._compare, "compare", record)
    monkeypatch.setattr(golat.fleet, "compare", record)
    for extra, want_wl, want_s in (
        (["--quick"], "alloc:size=1KiB,count=64,live_bytes=256MiB", (1.0, 0.3)),
        ([], "alloc:size=1KiB,count=16,live_bytes=256MiB", (5.0, 1.0)),
        (["spin:ns=1us", "--quick", "--duration", "2s"], "spin:ns=1us", (2.0, 0.3)),
    ):
        with pytest.raises(_Called):
            main([*command, *extra])
        wl, s = seen.pop()
        assert (wl, (s.duration, s.warmup), s.rate) == (want_wl, want_s, 10_000.0)
