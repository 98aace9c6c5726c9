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
from golat import _native, _params, _settings, workloads
from golat._comparison import Stage
from golat._ramp import RateKind, Segment
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
    if type(kind).__name__ == "_URLs":
        return urls(external=False)
    if type(kind).__name__ == "_Headers":
        return st.lists(HEADER, max_size=4).map(tuple)
    if type(kind).__name__ == "_Weights":
        return st.none() | st.lists(st.floats(1e-3, 1e9), min_size=1, max_size=4).map(tuple)
    if type(kind).__name__ == "_Body":
        return st.none() | st.binary(max_size=64)
    if type(kind).__name__ == "_File":
        return st.none() | st.just(__file__)  # a readable file wherever the tests run
    if type(kind).__name__ == "_StallKind":
        sec = _params.Seconds(1, 3_600_000_000_000)
        return st.none() | st.builds(golat.Stall, kind_values(sec), kind_values(sec))
    if type(kind).__name__ == "_GCKind":
        return st.none() | st.sampled_from(["off", "default", "managed"]) | st.integers(-1, 10**6)
    if type(kind).__name__ == "_CPUsKind":
        ids = st.lists(st.integers(0, 255), min_size=1, max_size=6, unique=True).map(tuple)
        return st.none() | st.sampled_from(["auto", "node:0", "node:3"]) | ids
    if isinstance(kind, RateKind):
        rate = kind_values(_params.Float(1 / 3600, 1e9))
        seconds = lambda n: st.integers(n * 1_000_000, 600 * 10**9).map(lambda ns: ns / 1e9)  # noqa: E731
        segment = st.integers(1, 5).flatmap(
            lambda n: st.builds(Segment, rate, rate, seconds(n), st.just(n))
            | st.builds(Segment, rate, rate, seconds(1), st.just(1))
        )  # fmt: skip
        ramp = st.lists(segment, min_size=1, max_size=4).map(lambda s: golat.Ramp(tuple(s)))
        return st.none() | rate | ramp
    raise AssertionError(f"no strategy for {kind!r} ({name}): add one here")


PATH = st.from_regex(r"/(?:[a-z0-9/._?=&-]|%[0-9A-Fa-f]{2}){0,12}", fullmatch=True)
# Header values with the text form's separators and escapes in them.
HEADER = st.builds(
    "{}: {}".format, st.from_regex(r"[A-Za-z0-9!#$&'*+.^_`|~-]{1,12}", fullmatch=True),
    st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7e), max_size=16).map(str.strip),
)  # fmt: skip
HOSTS = ["127.0.0.1", "localhost", "[::1]", "127.3.4.5"]
REMOTE_HOSTS = ["example.com", "10.1.2.3", "[2001:db8::1]"]


def urls(external: bool, remote: bool = False, scheme: str = "http") -> st.SearchStrategy:
    """One URL (or path) or a tuple of them, as HTTP(url=) takes."""
    if not external:
        return PATH | st.lists(PATH, min_size=2, max_size=4).map(tuple)
    host = st.sampled_from(HOSTS + (REMOTE_HOSTS if remote else []))
    port = st.none() | st.integers(1, 65535)
    origin = st.builds(lambda h, p: f"{scheme}://{h}" + (f":{p}" if p else ""), host, port)
    first = st.builds(lambda o, p: o + p, origin, PATH | st.just(""))
    rest = st.lists(PATH, max_size=3)
    return st.builds(lambda f, r: (f, *r) if r else f, first, rest)


@st.composite
def http_workloads(draw) -> workloads.HTTP:
    """Valid HTTP workloads: an in-process server's paths, or URLs of a server (https with
    a CA file, remote hosts when allowed)."""
    kinds = {name: kind for name, kind, _ in workloads.HTTP.params()}

    def value(name: str):
        return draw(kind_values(kinds[name], name))

    kw = {n: value(n) for n in ("method", "headers", "connections", "engine", "timeout")}
    body = draw(st.sampled_from(["body", "body_file", None]))
    if body:
        kw[body] = value(body)
    external = draw(st.booleans())
    if external:
        kw["allow_remote"] = value("allow_remote")
        scheme = draw(st.sampled_from(["http", "https"]))
        kw["url"] = draw(urls(True, kw["allow_remote"], scheme))
        if scheme == "https":
            kw["ca_file"] = value("ca_file")
    else:
        kw.update(url=value("url"), handler=value("handler"), body_bytes=value("body_bytes"))
    n = 1 if isinstance(kw["url"], str) else len(kw["url"])
    if draw(st.booleans()):
        kw["weights"] = tuple(draw(st.lists(st.floats(1e-3, 1e9), min_size=n, max_size=n)))
    return workloads.HTTP(**kw)


TEXT_EXAMPLES = {
    "method": ["GET", "POST", "HEAD", "PROPFIND"],
    "policy": ["fifo:1", "fifo:80", "rr:99"],
    "numa": ["local", "interleave", "bind:0", "bind:2"],
}
NESTABLE = [c for c in workloads.kinds().values() if c is not workloads.HTTP]


def workload_of(cls: type[workloads.Workload]) -> st.SearchStrategy:
    if cls is workloads.HTTP:
        return http_workloads()
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


@pytest.mark.parametrize("kind", ALL_KINDS)
@FAST
@given(data=st.data())
def test_workload_python_go_python_is_the_identity(kind, data):
    """The core decodes the document Python sends and echoes what it decoded (as a run
    reports it): reading the echo back gives the same workload, for any valid parameters."""
    w = data.draw(workload_of(workloads.kinds()[kind]))
    echo = _native.workload_echo(w.spec())
    assert echo["kind"] == kind
    assert workloads.from_spec(echo) == w


@pytest.mark.parametrize(
    "doc, match",
    [
        (
            {"kind": "spin", "ns": 5, "nss": 1},
            'workload spin: unknown key "nss" \\(allowed: dist, kind, ns, seed, sigma\\)',
        ),
        ({"kind": "noop", "x": 1}, 'workload noop: unknown key "x"'),
        ({"kind": "timer", "interval": 1000}, 'unknown key "interval"'),
        ({"kind": "spin", "ns": "5"}, '"ns" must be an integer'),
        ({"kind": "warp"}, 'unknown workload kind "warp"'),
    ],
)
def test_the_core_decodes_workloads_strictly(doc, match):
    with pytest.raises(ConfigError, match=match):
        _native.workload_echo(doc)


def test_the_core_refuses_unknown_keys_in_every_document():
    from golat._run import prepare

    doc = prepare(workloads.Noop(), RunSettings(requests=5)).doc
    with pytest.raises(ConfigError, match='run config: unknown key "trials"'):
        _native.run_start({**doc, "trials": 5})  # a Python-only setting never travels
    with pytest.raises(ConfigError, match='unknown key "gc.gc_precent"'):
        _native.run_start({**doc, "gc": {"gc_precent": 5}})
    with pytest.raises(ConfigError, match='pool config: unknown key "wrokers"'):
        _native.pool_new({"version": 1, "wrokers": 2})
    with pytest.raises(ConfigError, match='server config: unknown key "prot"'):
        _native.server_start({"version": 1, "prot": 80})


def test_spin_service_distribution_text():
    assert str(workloads.Spin(ns=10_000)) == "spin:ns=10us"  # the default stays unprinted
    w = workloads.parse("spin:ns=10us,dist=lognormal,sigma=0.5,seed=3")
    assert w == workloads.Spin(ns=10_000, dist="lognormal", sigma=0.5, seed=3)
    assert w.spec() == {"kind": "spin", "ns": 10_000, "dist": "lognormal", "sigma": 0.5, "seed": 3}
    with pytest.raises(ConfigError, match="dist"):
        workloads.parse("spin:ns=10us,dist=pareto")


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
