"""The run model's codecs round-trip: every workload kind (text form and document form),
RunSettings (text, command-line flags, JSON) and compare stages (text, JSON), for any
valid values (Hypothesis strategies built from the declarations themselves)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import golat
from golat import _params, _settings, workloads
from golat._comparison import Stage
from golat._settings import RUN, THREAD, RunSettings
from golat.errors import ConfigError

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SMALL_BYTES = 1 << 30  # keeps Alloc/MemChase below half of any test machine's memory


def kind_values(kind: _params.Kind, name: str = "") -> st.SearchStrategy:
    """Every valid value of a declared kind."""
    if isinstance(kind, _params.OrNone):
        return st.none() | kind_values(kind.inner, name)
    if isinstance(kind, _params.Seconds):
        q = kind.quantum_ns
        return st.integers(-(-kind.lo_ns // q), kind.hi_ns // q).map(lambda n: n * q / 1e9)
    if isinstance(kind, _params.Nanos):
        return st.integers(kind.lo, kind.hi)
    if isinstance(kind, _params.Micros):
        return st.integers(kind.lo, kind.hi)
    if isinstance(kind, _params.Bytes):
        return st.integers(kind.lo, min(kind.hi, SMALL_BYTES))
    if isinstance(kind, _params.Int):
        return st.integers(kind.lo, kind.hi)
    if isinstance(kind, _params.Float):
        return st.floats(kind.lo, min(kind.hi, 1e12), allow_nan=False).filter(
            lambda v: not (kind.lo_open and v == kind.lo)
        )
    if isinstance(kind, _params.Choice):
        return st.sampled_from(kind.options)
    if isinstance(kind, _params.Flag):
        return st.booleans()
    if isinstance(kind, _params.Text):
        return st.sampled_from(TEXT_EXAMPLES[name])
    if type(kind).__name__ == "_NestedWorkload":
        return st.deferred(lambda: st.one_of([workload_of(c) for c in NESTABLE]))
    if type(kind).__name__ == "_Paths":
        path = st.from_regex(r"/[a-z0-9/._-]{0,12}", fullmatch=True)
        return path | st.lists(path, min_size=2, max_size=4).map(tuple)
    if type(kind).__name__ == "_StallKind":
        sec = _params.Seconds(1, 3_600_000_000_000)
        return st.none() | st.builds(golat.Stall, kind_values(sec), kind_values(sec))
    if type(kind).__name__ == "_GCKind":
        return st.none() | st.sampled_from(["off", "default", "managed"]) | st.integers(-1, 10**6)
    if type(kind).__name__ == "_CPUsKind":
        ids = st.lists(st.integers(0, 255), min_size=1, max_size=6, unique=True).map(tuple)
        return st.none() | st.sampled_from(["auto", "node:0", "node:3"]) | ids
    raise AssertionError(f"no strategy for {kind!r} ({name}): add one here")


TEXT_EXAMPLES = {
    "target": ["127.0.0.1:8080", "localhost:80", "[::1]:443"],
    "policy": ["fifo:1", "fifo:80", "rr:99"],
    "numa": ["local", "interleave", "bind:0", "bind:2"],
}
NESTABLE = [c for c in workloads.kinds().values() if c is not workloads.HTTP]


def workload_of(cls: type[workloads.Workload]) -> st.SearchStrategy:
    fields = {name: kind_values(kind, name) for name, kind, _ in cls.params()}
    return st.builds(cls, **fields)


ALL_KINDS = sorted(workloads.kinds())


def test_every_kind_is_declared_and_covered():
    assert ALL_KINDS == ["alloc", "http", "jitter", "memchase", "noop", "pooled_alloc", "spin",
                         "syscall", "timer"]  # fmt: skip


@pytest.mark.parametrize("kind", ALL_KINDS)
@FAST
@given(data=st.data())
def test_workload_text_and_document_round_trip(kind, data):
    w = data.draw(workload_of(workloads.kinds()[kind]))
    assert workloads.parse(str(w)) == w
    assert workloads.from_spec(w.spec()) == w
    assert workloads.from_spec(json.loads(json.dumps(w.spec()))) == w


def test_units_in_text_mean_what_python_means():
    assert workloads.parse("spin:ns=2000") == workloads.Spin(ns=2000)  # a bare ns is ns
    assert workloads.parse("spin:2us") == workloads.Spin(ns=2000)
    assert workloads.parse("timer:interval=0.0002") == workloads.Timer(interval=200e-6)  # s
    assert workloads.parse("timer:interval=200us") == workloads.Timer(interval=200e-6)
    assert str(workloads.Spin(ns=10_000)) == "spin:ns=10us"
    assert workloads.parse("alloc:size=1KiB,live_bytes=256MiB").live_bytes == 256 << 20


@pytest.mark.parametrize(
    "text, match",
    [
        ("spin:nss=2", "unknown parameter 'nss'; allowed: ns"),
        ("spin", "missing parameter"),
        ("spin:ns=2,ns=3", "given twice"),
        ("noop:1", "takes no parameters"),
        ("timer:interval=fast", "cannot read 'fast' as a duration"),
        ("warp", "unknown workload 'warp'"),
    ],
)
def test_workload_text_errors(text, match):
    with pytest.raises(ConfigError, match=match):
        workloads.parse(text)


def test_workload_documents_are_strict():
    with pytest.raises(ConfigError, match="unknown key 'interval'"):
        workloads.from_spec({"kind": "timer", "interval": 0.001})
    with pytest.raises(ConfigError, match="unknown workload"):
        workloads.from_spec({"kind": "bogus"})


# --- run settings ---------------------------------------------------------------------------


@st.composite
def run_settings(draw) -> RunSettings:
    values = {}
    for f in dataclasses.fields(RunSettings):
        if draw(st.booleans()):
            values[f.name] = draw(kind_values(f.metadata["kind"], f.name))
    try:
        return RunSettings(**values)
    except ConfigError:
        assume(False)  # a combination the model refuses (gc_threshold without managed ...)
        raise


@FAST
@given(run_settings())
def test_settings_text_json_and_flags_round_trip(s):
    assert RunSettings.parse(str(s)) == s
    assert RunSettings.from_dict(json.loads(json.dumps(s.to_dict()))) == s
    p = argparse.ArgumentParser()
    _settings.add_flags(p, (RUN, THREAD))
    args = p.parse_args(shlex.split(s.args_text()))
    assert RunSettings(**_settings.from_flags(args, (RUN, THREAD))) == s


@FAST
@given(run_settings(), st.booleans(), st.dictionaries(
    st.sampled_from(["GOGC", "GODEBUG", "GOMAXPROCS"]),
    st.sampled_from(["off", "1", "gctrace=1,schedtrace=1000", "asyncpreemptoff=1"]),
    max_size=2))  # fmt: skip
def test_stage_text_and_json_round_trip(s, pooled, env):
    stage = Stage("st", s.changed(), env, pooled=pooled)
    assert Stage.parse(str(stage)) == stage
    assert Stage.from_dict(json.loads(json.dumps(stage.to_dict()))) == stage


def test_settings_are_validated_once_with_named_errors():
    with pytest.raises(ConfigError, match="unknown setting 'rat'; allowed: rate"):
        RunSettings(**{"rate": 1}).replace(rat=3)
    with pytest.raises(ConfigError, match="gc_threshold is only for gc='managed'"):
        RunSettings(gc_threshold="1GiB")
    with pytest.raises(ConfigError, match="unknown setting 'speed'"):
        RunSettings.from_dict({"speed": 1})
    with pytest.raises(ConfigError, match="unknown setting 'rat'"):
        golat.run(workloads.Noop(), rat=10)
    assert RunSettings(memory_limit="2GiB").memory_limit == 2 << 30


def test_the_core_document_carries_only_core_settings():
    from golat._run import prepare

    doc = prepare(workloads.Noop(), RunSettings(cpu_dma_latency=0, requests=5)).doc
    assert "cpu_dma_latency" not in json.dumps(doc)
    direct = {f.name for f in dataclasses.fields(RunSettings)
              if f.metadata["core"] == "direct"}  # fmt: skip
    assert direct <= {k.removesuffix("_ns") for k in doc}
