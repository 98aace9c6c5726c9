"""The ```python examples in docs/ run: measure.md in this process, pytest.md as a test
file in an inner pytest session, pyperf.md as a pyperf script (one value per benchmark)."""

import json
import re
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def blocks(page):
    found = FENCE.findall((DOCS / page).read_text())
    assert found, f"no python examples in {page}"
    return found


@pytest.mark.parametrize("index", range(len(blocks("measure.md"))))
def test_measure_md_examples_run(index):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        exec(compile(blocks("measure.md")[index], f"measure.md#{index}", "exec"), {})


def test_pytest_md_examples_run_as_tests(pytester):
    pytester.makepyfile(test_doc="\n\n".join(blocks("pytest.md")))
    out = pytester.path / "bench.json"
    res = pytester.runpytest_subprocess(
        f"--benchmark-json={out}", "--benchmark-max-time=0.01", "-p", "no:cacheprovider"
    )
    # The examples end in SLO checks; on a loaded machine a bound may break, which is the
    # example doing its job, not a fault: every example must run, and only an
    # SLOViolation may fail one.
    outcomes = res.parseoutcomes()
    assert outcomes.get("passed", 0) + outcomes.get("failed", 0) == 3, outcomes
    for line in res.outlines:
        if line.startswith("FAILED"):
            assert "SLOViolation" in line, line
    doc = json.loads(out.read_text())
    (entry,) = doc["benchmarks"]
    assert entry["extra_info"]["golat"]["latency"]["p99"] > 0
    # the reader in the page works on the file the page describes
    ns = {}
    exec(blocks("pytest.md")[-1], ns)
    assert ns["golat_p99s"](out)["test_work"] > 0


def test_pyperf_md_examples_run(tmp_path):
    script, reader = blocks("pyperf.md")
    (tmp_path / "suite.py").write_text(script)
    out = tmp_path / "out.json"
    subprocess.run(
        [sys.executable, "suite.py", "--debug-single-value", "-o", str(out)],
        cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    ns = {}
    exec(reader, ns)
    h = ns["merged_latency"](str(out), "spin 10us p99")
    assert h.count > 0


def test_api_md_settings_table_is_the_declaration():
    from golat._format import settings_markdown

    text = (DOCS / "api.md").read_text()
    table = text.split("<!-- settings-table -->\n")[1].split("\n<!-- /settings-table -->")[0]
    assert table == settings_markdown(), (
        "docs/api.md's settings table differs from golat.RunSettings; regenerate it with "
        "golat._format.settings_markdown()"
    )
