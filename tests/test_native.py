"""The boundary: cdef equals Go's header, lazy loading, panics, fork, Ctrl-C, leaks."""

from __future__ import annotations

import _thread
import multiprocessing
import os
import re
import subprocess
import threading
import time

import pytest
from conftest import GO_CORE, go_env, run_python

import golat
from golat import _native, errors, workloads


def _prototypes(text: str) -> set[str]:
    out = set()
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("extern "):
            line = line[len("extern ") :]
        if line.startswith("int golat_"):
            out.add(re.sub(r"\s+", " ", line.replace("* ", "*").replace(" *", "*")))
    return out


def test_cdef_equals_the_header_go_generates(go, tmp_path):
    subprocess.run(
        [go, "build", "-buildmode=c-shared", "-o", str(tmp_path / "core.so"), "."],
        cwd=GO_CORE, env=go_env(), check=True, capture_output=True,
    )  # fmt: skip
    header = _prototypes((tmp_path / "core.h").read_text())
    assert header, "no golat_ exports found in the generated header"
    assert _prototypes(_native.CDEF) == header


def test_import_starts_no_go_runtime():
    # numpy (imported by golat) may start BLAS threads of its own: count against it.
    base = run_python("import os, numpy; print(len(os.listdir('/proc/self/task')))")
    p = run_python(
        "import os, golat, golat.runtime, golat.workloads\n"
        "print(len(os.listdir('/proc/self/task')), golat._native.is_loaded(),"
        " '_golat' in open('/proc/self/maps').read())"
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == [base.stdout.strip(), "False", "False"]


def test_first_call_loads_the_core():
    p = run_python(
        "import os, golat\n"
        "golat.runtime.gc_percent()\n"
        "print(len(os.listdir('/proc/self/task')) > 1, golat._native.is_loaded())"
    )
    assert p.returncode == 0, p.stderr
    assert p.stdout.split() == ["True", "True"]


def test_core_version_equals_package_version():
    core, go_version = _native.version()
    assert core == golat.__version__
    assert go_version.startswith("go")


def test_go_panic_becomes_core_error_and_the_interpreter_survives():
    for _ in range(3):
        with pytest.raises(errors.CoreError, match="Go panic: assignment to entry in nil map"):
            _native.panic_for_test()
    assert golat.runtime.gc_percent() >= -1  # the core still answers


def test_a_panicking_workload_raises_core_error(monkeypatch):
    # A pipe workload whose fds are closed under it panics inside a worker goroutine.
    prep = golat._run.prepare(workloads.Noop(), golat.RunSettings(requests=10))
    prep.doc["workload"] = {"kind": "nope"}
    with pytest.raises(errors.ConfigError, match="unknown workload kind"):
        golat._run.execute(prep)


def _child_calls_core(conn) -> None:
    try:
        golat.runtime.gc_percent()
        conn.send("no error")
    except BaseException as err:  # noqa: BLE001 - report whatever happened
        conn.send(f"{type(err).__name__}: {err}")


def test_forked_child_gets_a_clear_error_not_a_hang():
    golat.runtime.gc_percent()  # the core is loaded in this (parent) process
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe()
    p = ctx.Process(target=_child_calls_core, args=(child,))
    p.start()
    p.join(60)
    assert not p.is_alive(), "the forked child hung"
    msg = parent.recv()
    assert msg.startswith("CoreUnusableAfterFork"), msg
    assert "fork" in msg


def test_ctrl_c_stops_a_long_run_cleanly():
    golat.runtime.gc_percent()
    goroutines = golat.runtime.metrics().goroutines
    fired = {}

    def interrupt():
        fired["at"] = time.monotonic()
        _thread.interrupt_main()

    threading.Timer(0.5, interrupt).start()
    with pytest.raises(KeyboardInterrupt):
        golat.run(workloads.Noop(), rate=1000, duration=600)
    stopped_after = time.monotonic() - fired["at"]
    print(f"KeyboardInterrupt {stopped_after * 1e3:.1f} ms after Ctrl-C")
    assert stopped_after < 60, "the run was not stopped"  # the run itself is 600 s
    assert _native.active_runs() == 0
    assert golat.runtime.metrics().goroutines <= goroutines + 1


def test_repeated_runs_leak_nothing():
    def rss_kib() -> int:
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        return 0

    def runs(n: int) -> None:
        for _ in range(n):
            golat.run(workloads.Syscall("pipe"), requests=200, workers=2)
        golat.runtime.gc()
        time.sleep(0.2)  # let exiting goroutines finish

    runs(5)  # the runtime's own lazily started goroutines are counted from here
    g0, rss0 = golat.runtime.metrics().goroutines, rss_kib()
    fds0 = len(os.listdir("/proc/self/fd"))
    runs(100)
    assert len(os.listdir("/proc/self/fd")) <= fds0, "pipe workloads left fds open"
    assert golat.runtime.metrics().goroutines <= g0
    assert _native.active_runs() == 0
    # 100 runs x 2 workers x 3 histograms of 36 KiB each would be ~21 MiB if kept.
    assert rss_kib() - rss0 < 16 * 1024


def test_unknown_handle_is_a_core_error():
    with pytest.raises(errors.CoreError, match="no such run"):
        _native.run_poll(10**12)


def test_a_core_older_than_its_go_sources_is_named(tmp_path):
    lib, src = tmp_path / "golat" / "_golat.so", tmp_path / "go_core" / "internal" / "x.go"
    lib.parent.mkdir()
    src.parent.mkdir(parents=True)
    lib.write_bytes(b"")
    src.write_text("package x\n")
    (src.parent / "x_test.go").write_text("package x\n")
    os.utime(lib, (1000, 1000))
    os.utime(src, (900, 900))
    os.utime(src.parent / "x_test.go", (2000, 2000))  # tests are not in the core
    assert _native.stale_source(lib) is None
    os.utime(src, (1500, 1500))
    assert _native.stale_source(lib) == src
    assert _native.stale_source(tmp_path / "elsewhere" / "_golat.so") is None  # no checkout
    # Loading such a core warns with what to do; it still loads and runs.
    real = _native.library_path()
    copy = lib.with_name(real.name)
    copy.write_bytes(real.read_bytes())
    os.utime(copy, (1000, 1000))
    p = run_python(
        "import warnings, golat\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    golat.run(golat.workloads.Noop(), requests=10)\n"
        "print([f'{x.category.__name__}: {x.message}' for x in w])\n",
        env={**os.environ, "GOLAT_LIBRARY": str(copy)},
    )
    assert p.returncode == 0, p.stderr
    assert "StaleCoreWarning" in p.stdout and "x.go: rebuild it with `pip install -e .`" in p.stdout
