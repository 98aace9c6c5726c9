"""Runtime trace lines (GODEBUG=gctrace=1, schedtrace) parsed from golden lines."""

import pytest

from golat import _gctrace

# Lines as Go 1.27.3 printed them on the development machine (and one pre-1.18 form).
GC_127 = (
    "gc 4 @0.033s 3%: 0.13+7.9+0.10 ms clock, 0.26+0/0.62/0.10+0.21 ms cpu, "
    "35->35->33 MB, 41 MB goal, 0 MB stacks, 0 MB globals, 2 P"
)
GC_FORCED = (
    "gc 7 @1.029s 0%: 0.13+0.25+0.002 ms clock, 0.26+0/0.12/0.16+0.005 ms cpu, "
    "48->48->0 MB, 67 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)"
)
GC_OLD = (
    "gc 12 @3.500s 1%: 0.021+1.5+0.004 ms clock, 0.17+0.2/1.3/3.0+0.035 ms cpu, "
    "4->4->2 MB, 5 MB goal, 8 P"
)
SCHED = (
    "SCHED 504ms: gomaxprocs=2 idleprocs=1 threads=7 spinningthreads=0 needspinning=0 "
    "idlethreads=2 runqueue=0 [ 0 3 ] schedticks=[ 3680 58 ]"
)


def test_gc_line_fields():
    c = _gctrace.parse_gc_line(GC_127)
    assert (c.number, c.at_s, c.cpu_percent, c.procs) == (4, 0.033, 3, 2)
    assert (c.sweep_term_ms, c.mark_ms, c.mark_term_ms) == (0.13, 7.9, 0.10)
    assert (c.cpu_assist_ms, c.cpu_background_ms, c.cpu_idle_ms) == (0.0, 0.62, 0.10)
    assert (c.heap_start_mb, c.heap_end_mb, c.heap_live_mb, c.heap_goal_mb) == (35, 35, 33, 41)
    assert (c.stacks_mb, c.globals_mb, c.forced) == (0, 0, False)
    assert c.pause_ms == pytest.approx(0.23)


def test_forced_and_old_format():
    assert _gctrace.parse_gc_line(GC_FORCED).forced
    old = _gctrace.parse_gc_line(GC_OLD)
    assert (old.number, old.procs, old.stacks_mb, old.heap_goal_mb) == (12, 8, None, 5)


def test_sched_line():
    s = _gctrace.parse_sched_line(SCHED)
    assert s.at_ms == 504
    assert s.gomaxprocs == 2 and s.threads == 7 and s.runqueue == 0
    assert s.local_runqueues == [0, 3]
    assert s.lists == {"schedticks": [3680, 58]}


def test_parse_mixed_stderr_marks_periodic_gc():
    text = "\n".join(["hello from python", GC_127, "GC forced", GC_OLD, SCHED,
                      "  P0: status=1 schedtick=3", ""])  # fmt: skip
    t = _gctrace.parse(text)
    assert [c.number for c in t.gc] == [4, 12]
    assert [c.periodic for c in t.gc] == [False, True]
    assert len(t.sched) == 1
    assert t.other == ["hello from python"]
    assert t.gc_max_pause_ms == pytest.approx(0.23)
    again = _gctrace.RuntimeTrace.from_dict(t.to_dict())
    assert again.gc == t.gc and again.sched[0].counters == t.sched[0].counters


@pytest.mark.parametrize("line", ["gc 1 @x", "gc forced", "SCHED: nope", "", "gc 1 @0.1s 2%"])
def test_not_trace_lines(line):
    assert _gctrace.parse_gc_line(line) is None
