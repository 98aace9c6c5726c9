"""The Go core's own tests (go test ./...) and the tree's tidiness, run from pytest so one
command tests everything."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import GO_CORE, ROOT, go_env, go_tool


def test_go_test(go):
    p = subprocess.run([go, "test", "-count=1", "./..."], cwd=GO_CORE, env=go_env(),
                       capture_output=True, text=True, timeout=900)  # fmt: skip
    print(p.stdout[-4000:])
    assert p.returncode == 0, p.stdout[-4000:] + p.stderr[-4000:]


def test_go_vet(go):
    p = subprocess.run([go, "vet", "./..."], cwd=GO_CORE, env=go_env(), capture_output=True,
                       text=True, timeout=600)  # fmt: skip
    assert p.returncode == 0, p.stderr


def test_gofmt(go):
    gofmt = go_tool("gofmt") or str(Path(go).with_name("gofmt"))
    p = subprocess.run([gofmt, "-l", "."], cwd=GO_CORE, capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "", f"not gofmt'ed:\n{p.stdout}"


def _ruff() -> list[str]:
    if shutil.which("ruff"):
        return ["ruff"]
    pytest.importorskip("ruff", reason="ruff is in the 'test' extra")
    return [sys.executable, "-m", "ruff"]


def test_ruff_check():
    p = subprocess.run([*_ruff(), "check", "."], cwd=ROOT, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr


def test_ruff_format():
    p = subprocess.run([*_ruff(), "format", "--check", "."], cwd=ROOT, capture_output=True,
                       text=True)  # fmt: skip
    assert p.returncode == 0, p.stdout + p.stderr
