"""Fuzzing the calls a user makes: golat.run, golat.measure, Pool.run and golat.compare
with any settings (valid values from the declarations, and junk), each interrupted at a
random moment as Ctrl-C would. Every call must end within a bound, with a result, a golat
exception or the interrupt, and leave no run going. A hang fails the test (the child is
killed) instead of stalling it.

The calls run in one child process (tests/fuzz_calls_child.py), restarted after a hang.
A few hundred cases in the default suite; ``pytest --run-slow -k fuzz_calls`` runs
GOLAT_FUZZ_CASES (default 10,000)."""

from __future__ import annotations

import base64
import json
import os
import pickle
import select
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_model import kind_values

from golat import workloads
from golat._settings import RUN, RunSettings

# Per call: its own stop_after, then the stop, the result and a loaded machine's delays
# (GOLAT_FUZZ_BOUND_S: more for a long run at low priority).
BOUND_S = float(os.environ.get("GOLAT_FUZZ_BOUND_S", "20"))
CHILD = Path(__file__).with_name("fuzz_calls_child.py")

# Settings a fuzz case may give: the run's own (RUN scope) and a few thread settings that
# change nothing outside the process. Real-time policies, mlock and cpu_dma_latency are
# left out: they would change the machine the other tests share.
NAMES = [n for n in RunSettings.names(RUN) if n != "cpu_dma_latency"] + ["workers"]
JUNK = st.sampled_from([-1, 0, 1e-12, 1e30, 2**63, float("nan"), float("inf"), "x", "", True,
                        [], {}, "1e-12", "-5s"])  # fmt: skip
KINDS = {f.name: f.metadata["kind"] for f in RunSettings.__dataclass_fields__.values()}


def setting_values(name: str) -> st.SearchStrategy:
    if name == "workers":
        valid = st.integers(1, 3)
    elif name in ("duration", "warmup"):
        valid = st.floats(0.001, 0.2) | kind_values(KINDS[name], name)
    else:
        valid = kind_values(KINDS[name], name)
    return st.one_of(valid, valid, JUNK)


run_settings = st.fixed_dictionaries(
    {}, optional={n: setting_values(n) for n in NAMES}
)  # fmt: skip
WORKLOADS = st.one_of(
    st.just(workloads.Noop()),
    st.integers(1, 10_000_000).map(lambda ns: workloads.Spin(ns=ns)),
    st.builds(
        workloads.Spin,
        ns=st.integers(1, 60_000_000_000),
        dist=st.sampled_from(["const", "exp", "lognormal"]),
        sigma=st.floats(0.01, 4),
        seed=st.integers(0, 2**64 - 1),
    ),  # a long spin ends at a stop too
    st.floats(1e-6, 10).map(lambda s: workloads.Timer(interval=round(s, 6) or 1e-6)),
    st.builds(workloads.Syscall),
)
STAGES = st.lists(st.sampled_from(["baseline", "gc", "lock", "numa"]), min_size=1, max_size=2,
                  unique=True).map(",".join)  # fmt: skip


@st.composite
def cases(draw, calls: tuple[str, ...]) -> dict:
    call = draw(st.sampled_from(calls))
    case = {"call": call, "workload": draw(WORKLOADS), "settings": draw(run_settings),
            "stop_after": draw(st.floats(0.001, 0.3))}  # fmt: skip
    if call == "pool":
        case["pool_workers"] = draw(st.integers(1, 2))
        case["settings"].pop("workers", None)
    if call == "compare":
        case.update(stages=draw(STAGES), trials=draw(st.integers(1, 2)),
                    stop_after=draw(st.floats(0.001, 4.0)))  # fmt: skip
    return case


class Child:
    """The child process that makes the calls, restarted when a call hangs."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen | None = None
        self.cases = 0
        self.outcomes: dict[str, int] = {}

    def ask(self, case: dict) -> dict:
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, str(CHILD)], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, text=True)  # fmt: skip
        self.proc.stdin.write(base64.b64encode(pickle.dumps(case)).decode() + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], BOUND_S + case["stop_after"])
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            self.close()
            raise AssertionError(f"the call did not end within {BOUND_S} s: {case!r}")
        answer = json.loads(line)
        self.cases += 1
        key = answer["outcome"].split(":")[0]
        self.outcomes[key] = self.outcomes.get(key, 0) + 1
        return answer

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.communicate()
            self.proc = None


@pytest.fixture(scope="module")
def child():
    c = Child()
    yield c
    c.close()
    print(f"fuzzed calls: {c.cases} cases, outcomes {c.outcomes}")


def check(child: Child, case: dict) -> None:
    answer = child.ask(case)
    assert not answer["outcome"].startswith(("BUG", "CoreError")), (case, answer["outcome"])
    assert answer["active_runs"] == 0, ("a run was left going", case)


def _settings(n: int) -> settings:
    return settings(max_examples=n, deadline=None, database=None,
                    suppress_health_check=list(HealthCheck))  # fmt: skip


@_settings(300)
@given(case=cases(("run", "measure", "pool")))
def test_run_measure_and_pool_calls_end(child, case):
    check(child, case)


@_settings(12)
@given(case=cases(("compare",)))
def test_compare_calls_end(child, case):
    check(child, case)


@pytest.mark.slow
def test_many_calls_end(child):
    n = int(os.environ.get("GOLAT_FUZZ_CASES", "10000"))

    @_settings(n)
    @given(case=cases(("run", "measure", "pool", "run", "measure", "pool", "compare")))
    def many(case):
        check(child, case)

    many()
