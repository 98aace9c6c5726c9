"""golat's pytest plugin (entry point ``pytest11``: ``golat = "golat.pytest_plugin"``).

It adds one fixture, ``golat_latency``::

    def test_lookup(benchmark, golat_latency):
        benchmark(lookup)                                   # pytest-benchmark's timing
        golat_latency(lookup, rate=2000, duration=1).check("p99<=1ms")

``golat_latency(target, **settings)`` runs a golat workload (:func:`golat.run`) or a
Python callable (:func:`golat.measure`) and returns the :class:`golat.Result`. When the test
also uses pytest-benchmark's ``benchmark`` fixture, the result's percentiles go into that
benchmark's ``extra_info`` (in seconds, like pytest-benchmark's own statistics), so
``--benchmark-json``, ``--benchmark-save``/``--benchmark-compare`` and ``pytest-benchmark
compare`` files carry them. Each result's summary is also added to the test's
``user_properties`` (so JUnit XML reports carry it).

Loading this plugin imports golat only; the Go core starts when a test first runs something.
"""

from __future__ import annotations

from typing import Any, Callable

import pytest

from ._measure import measure
from ._result import Result, summarize
from ._run import run
from .errors import ConfigError
from .workloads import Workload

EXTRA_INFO_VERSION = 1


def extra_info(result: Result) -> dict[str, Any]:
    """The part of a result that goes into pytest-benchmark's ``extra_info``.

    Times are seconds (``"unit": "s"``), like pytest-benchmark's statistics:
    ``latency`` (from the intended start, coordinated omission corrected) and ``service``
    (from the actual start), each with ``p50 p90 p99 p99_9 p99_99 max mean stddev``;
    ``latency_hdr`` is the whole latency histogram (ns) in HdrHistogram's compressed V2
    encoding (:meth:`golat.Histogram.decode` reads it back).
    """
    to_s = lambda d: {k: v / 1e9 for k, v in d.items()}  # noqa: E731
    info: dict[str, Any] = {
        "version": EXTRA_INFO_VERSION,
        "unit": "s",
        "workload": _describe_workload(result),
        "rate": result.config.get("rate") or None,
        "requests": result.requests,
        "achieved_rate": result.achieved_rate,
        "late_starts": result.late_starts,
        "latency": to_s(summarize(result.latency)),
        "service": to_s(summarize(result.service)),
        "latency_hdr": result.latency.encode(),
    }
    py = result.extra.get("python")
    if py is not None:
        info["errors"] = py["errors"]
        if "harness_floor_ns" in py:
            info["harness_floor"] = to_s(py["harness_floor_ns"])
    return info


def _describe_workload(result: Result) -> str:
    """The workload's text form (``spin:ns=10us``), or ``python:module.function``."""
    if result.workload is not None:
        return str(result.workload)
    spec = result.config.get("workload") or {}
    return f"{spec.get('kind')}:{spec.get('fn')}"


@pytest.fixture
def golat_latency(request: pytest.FixtureRequest) -> Callable[..., Result]:
    """Measure tail latency inside a test: ``golat_latency(target, **settings) -> Result``.

    ``target`` is a golat workload (``golat.workloads.Spin(ns=10_000)``; run by
    :func:`golat.run`) or a callable taking no arguments (run by :func:`golat.measure`);
    ``settings`` are those functions' keyword arguments (``rate``, ``duration``,
    ``requests``, ``warmup``, ...). ``label`` (default ``"golat"``) names the entry in the
    benchmark's ``extra_info``; give each call its own label to keep several results.

    Assert on the result with ``.check("p99<=1ms,max<=10ms")``: it fails the test naming each
    broken bound and the measured value.
    """
    bench = request.getfixturevalue("benchmark") if "benchmark" in request.fixturenames else None

    def golat_latency(target: Workload | Callable[[], object], *, label: str = "golat",
                      **settings: Any) -> Result:  # fmt: skip
        if isinstance(target, Workload):
            result = run(target, **settings)
        elif callable(target):
            result = measure(target, **settings)
        else:
            raise ConfigError(f"golat_latency needs a golat workload or a callable, got {target!r}")
        info = extra_info(result)
        if bench is not None:
            bench.extra_info[label] = info
        request.node.user_properties.append(
            (label, {k: info[k] for k in ("unit", "workload", "latency", "service")})
        )
        return result

    return golat_latency
