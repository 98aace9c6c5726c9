"""Ramps: a rate schedule in steps (text, JSON, the core's steps), per-step results and the
knee."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

import golat
from golat import Histogram, Ramp, RunSettings
from golat._ramp import Segment, StepResult, knee
from golat.errors import ConfigError
from golat.workloads import Spin


def test_text_forms():
    r = Ramp.parse("1000..20000/30s")
    assert r.segments == (Segment(1000, 20000, 30, 30),)
    assert str(r) == "1000..20000/30s" and r.duration == 30
    steps = r.steps()
    assert len(steps) == 30 and steps[0] == (1000, 1e9) and steps[-1] == (20000, 1e9)
    assert str(Ramp.parse("1000..20000x5/30s")) == "1000..20000x5/30s"
    assert [s for s, _ in Ramp.parse("1000..3000x3/3s").steps()] == [1000, 2000, 3000]
    held = Ramp.parse("500/2s, 2k/1500ms")
    assert str(held) == "500/2s,2000/1500ms" and held.steps() == [(500, 2e9), (2000, 1.5e9)]
    assert Ramp.steps_of([(500, 2), (2000, 1.5)]) == held
    # Durations that do not split evenly: the steps still add up to the segment.
    odd = Ramp.parse("10..20x3/1s")
    assert sum(d for _, d in odd.steps()) == 1_000_000_000


def test_settings_take_a_ramp():
    s = RunSettings(rate="100..300x3/3s")
    assert isinstance(s.rate, Ramp) and s.planned_duration == 3
    assert RunSettings.parse(str(s)) == s
    assert RunSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert s.to_args() == ["--rate", "100..300/3s"]  # one step a second: the default
    assert RunSettings(rate=[(100, 1), (200, 2)]).rate == Ramp.parse("100/1s,200/2s")
    assert RunSettings(rate="100/1s", duration=1).duration == 1


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"rate": "100..200/2s", "duration": 5}, "leave duration unset or give that"),
        ({"rate": "100..200/2s", "requests": 5}, "leave requests unset"),
        ({"rate": "0..200/2s"}, "rate rate must be"),
        ({"rate": "100..200"}, "cannot read '100..200'"),
        ({"rate": "100..200/fast"}, "cannot read 'fast' as a duration"),
        ({"rate": "100..200x0/2s"}, "1..1000 steps"),
        ({"rate": "100..200x5/2ms"}, "shorter than 1 ms"),
        ({"rate": "100..200x1001/1001s"}, "1..1000 steps"),
        ({"rate": [(100, 1), "x"]}, "must be .rate req/s, duration s. pairs"),
        ({"rate": "100/40min,100/40min"}, "at most 1h"),
    ],
)
def test_bad_ramps(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        RunSettings(**kwargs)


def _step(rate: float, p99_us: float, achieved: float | None = None, n: int = 1000) -> StepResult:
    h = Histogram()
    h.record([int(p99_us * 1000)] * n)
    done = rate if achieved is None else achieved
    return StepResult(rate, 0.0, 1.0, n, int(done), 0, 0, h)


def test_knee_definition():
    ok = [_step(1000, 100), _step(2000, 110), _step(3000, 120)]
    assert knee(ok).rate is None and "held up to 3,000" in knee(ok).reason
    # The tail breaks at 4000 (P99 over 3x the lowest before) and stays broken.
    k = knee([*ok, _step(4000, 400), _step(5000, 900)])
    assert (k.rate, k.broken_at) == (3000, 3) and "over 3x" in k.reason
    # Overloaded (achieved < 95 % of offered) is broken too, even with a quiet tail.
    k = knee([*ok, _step(4000, 100, achieved=3000)])
    assert (k.rate, k.broken_at) == (3000, 3) and "below 95%" in k.reason
    # One slow step the next recovers from is not the knee.
    k = knee([*ok, _step(4000, 400), _step(5000, 130), _step(6000, 500), _step(7000, 500)])
    assert (k.rate, k.broken_at) == (5000, 5)
    # Broken from the start: no knee, and the reason says to start lower.
    k = knee([_step(1000, 100, achieved=10), _step(2000, 100, achieved=10)])
    assert k.rate is None and k.broken_at == 0 and "start the ramp lower" in k.reason


def test_a_ramp_run_reports_each_step():
    r = golat.run(Spin(ns=1000), rate="200..600x3/900ms", workers=2, warmup=0.1)
    assert [s.rate for s in r.steps] == [200, 400, 600]
    assert [round(s.start_s, 3) for s in r.steps] == [0, 0.3, 0.6]
    for s in r.steps:
        # Every arrival due in the step was sent and measured (constant gaps: exact).
        assert s.requests == pytest.approx(s.rate * s.duration_s, abs=2)
        assert s.latency.count == s.requests
    assert sum(s.requests for s in r.steps) == r.requests
    assert r.config["rate_steps"][0] == {"rate": 200, "duration_ns": 300_000_000}
    assert r.knee() is not None and golat.Result.from_json(r.to_json()).steps[2].requests == (
        r.steps[2].requests
    )
    assert "steps (latency of the requests due in each step)" in r.table()


def test_a_ramp_plots_its_steps(tmp_path):
    pytest.importorskip("matplotlib")
    r = golat.run(Spin(ns=1000), rate="200..400x2/400ms")
    assert r.plot(tmp_path / "ramp.png").stat().st_size > 10_000


def test_a_ramp_from_the_command_line():
    out = subprocess.run(
        [sys.executable, "-m", "golat", "run", "spin:ns=1us", "--rate", "100..300x2/400ms",
         "--quiet"], capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "golat run spin:ns=1us --rate 100..300x2/400ms" in out.stdout
    assert "knee" in out.stdout or "no knee" in out.stdout


def test_ramp_results_merge_step_by_step():
    a = golat.run(Spin(ns=1000), rate="100..300x2/400ms")
    b = golat.run(Spin(ns=1000), rate="100..300x2/400ms")
    m = golat.merge([a, b])
    assert [s.rate for s in m.steps] == [200, 600]
    assert [s.requests for s in m.steps] == [x.requests + y.requests
                                             for x, y in zip(a.steps, b.steps)]  # fmt: skip
    assert m.steps[1].latency.count == a.steps[1].latency.count + b.steps[1].latency.count
    assert golat.Result.from_json(m.to_json()).steps[0].requests == m.steps[0].requests
    assert Ramp.parse("100..300x2/400ms") / 2 == Ramp.parse("50..150x2/400ms")
