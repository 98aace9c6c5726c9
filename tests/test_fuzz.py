"""Fuzzing every decoder and parser that reads outside input: whatever the bytes, the
answer is a value or a golat ConfigError, never another exception."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import zlib

import pytest
from conftest import GO_CORE, go_env
from hypothesis import given, settings
from hypothesis import strategies as st

import golat
from golat import _slo, _units, workloads
from golat.errors import ConfigError

FAST = settings(max_examples=300, deadline=None)


def _only_config_errors(fn, *args) -> None:
    try:
        fn(*args)
    except ConfigError:
        pass


@FAST
@given(st.binary(max_size=200))
def test_histogram_decode_raw_bytes(data):
    _only_config_errors(golat.Histogram.decode, base64.b64encode(data).decode())


@FAST
@given(st.binary(max_size=200))
def test_histogram_decode_compressed_garbage(data):
    # A valid outer cookie around random bytes reaches the inner decoder.
    blob = bytes.fromhex("1c849314") + len(zlib.compress(data)).to_bytes(4, "big")
    _only_config_errors(
        golat.Histogram.decode, base64.b64encode(blob + zlib.compress(data)).decode()
    )


@FAST
@given(st.text(max_size=200))
def test_histogram_decode_text(s):
    _only_config_errors(golat.Histogram.decode, s)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@FAST
@given(json_values)
def test_histogram_from_json(doc):
    _only_config_errors(golat.Histogram.from_json, json.dumps(doc))
    if isinstance(doc, dict):
        doc = {**doc, "format": "golat-histogram", "version": 1}
        _only_config_errors(golat.Histogram.from_json, json.dumps(doc))


@FAST
@given(json_values)
def test_result_and_comparison_from_json(doc):
    for cls, fmt, version in ((golat.Result, "golat-result", 2),
                              (golat.Result, "golat-result", 3),
                              (golat.Comparison, "golat-comparison", 1)):  # fmt: skip
        _only_config_errors(cls.from_json, json.dumps(doc))
        if isinstance(doc, dict):  # past the format check, into the fields
            _only_config_errors(cls.from_json,
                                json.dumps({**doc, "format": fmt, "version": version}))  # fmt: skip


@FAST
@given(st.text(max_size=60))
def test_text_parsers(s):
    for fn in (workloads.parse, _slo.parse, _units.parse_duration, _units.parse_size):
        _only_config_errors(fn, s)


hlog_lines = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.from_regex(r"(Tag=[a-z]{1,3},)?[0-9.]{0,6},[0-9.e-]{0,6},[0-9.]{0,4},[A-Za-z0-9+/=]{0,20}",
                      fullmatch=True),
        st.sampled_from(["#[StartTime: 12.5 (seconds since epoch), x]", "#[BaseTime: 1.0 (",
                         "#[Histogram log format version 1.3]", '"StartTimestamp"', ""]),
    ),
    max_size=6,
)  # fmt: skip


@FAST
@given(hlog_lines)
def test_hlog_from_text(lines):
    _only_config_errors(golat.IntervalLog.from_text, "\n".join(lines))


@FAST
@given(json_values)
def test_fleet_job_decoder(doc):
    from golat import fleet

    _only_config_errors(fleet.decode_job, doc)
    _only_config_errors(fleet.decode_job, {"workload": doc, "settings": {}})


# --- the Go core's native fuzzers -----------------------------------------------------------


def go_fuzzers() -> list[tuple[str, str]]:
    """(package, FuzzName) for every Go fuzzer in go_core."""
    found = []
    for f in sorted(GO_CORE.rglob("*_test.go")):
        for name in re.findall(r"^func (Fuzz\w+)\(", f.read_text(), re.M):
            found.append(("./" + str(f.parent.relative_to(GO_CORE)), name))
    return found


@pytest.mark.parametrize("package, name", go_fuzzers())
def test_go_fuzzer(go, package, name):
    # A bounded budget per fuzzer (GOLAT_GO_FUZZTIME, a Go duration or Nx); its seed
    # corpus also runs in `go test ./...`. A failing input is saved under testdata/fuzz.
    budget = os.environ.get("GOLAT_GO_FUZZTIME", "3s")
    p = subprocess.run([go, "test", "-run", "^$", "-fuzz", f"^{name}$", "-fuzztime", budget,
                        package], cwd=GO_CORE, env=go_env(), capture_output=True, text=True,
                       timeout=900)  # fmt: skip
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-2000:]
