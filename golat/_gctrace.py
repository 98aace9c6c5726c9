"""Parsing the Go runtime's trace lines from a child's stderr: ``GODEBUG=gctrace=1`` (one
line per GC cycle) and ``GODEBUG=schedtrace=MS`` (a scheduler snapshot every MS ms).

The gctrace line, as runtime/mgc.go (Go 1.27) prints it::

    gc 7 @1.234s 3%: 0.018+2.1+0.040 ms clock, 0.036+0.41/1.0/0+0.081 ms cpu,
       9->10->5 MB, 10 MB goal, 0 MB stacks, 0 MB globals, 2 P (forced)

(one line): cycle number, seconds since the runtime started, the share of CPU used by GC
so far; wall-clock ms of the stop-the-world sweep termination, the concurrent mark and the
stop-the-world mark termination; CPU ms of the STW phases, assists / background / idle
marking; heap MB at the start of the cycle, at its end, and marked live; the heap goal;
stacks and globals scanned; GOMAXPROCS; "(forced)" when runtime.GC asked for it. Go
before 1.18 printed no stacks/globals fields; both forms are read. The forced periodic GC
prints "GC forced" on the line before its cycle.

The schedtrace line (runtime/proc.go schedtrace)::

    SCHED 1009ms: gomaxprocs=2 idleprocs=1 threads=7 spinningthreads=0 needspinning=0
       idlethreads=3 runqueue=0 [ 0 0 ]
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

_NUM = r"([0-9]+(?:\.[0-9]*)?)"
_GC = re.compile(
    rf"^gc (\d+) @{_NUM}s (\d+)%(?: \([^)]*\))?: {_NUM}\+{_NUM}\+{_NUM} ms clock, "
    rf"{_NUM}\+{_NUM}/{_NUM}/{_NUM}\+{_NUM} ms cpu, (\d+)->(\d+)->(\d+) MB, (\d+) MB goal, "
    rf"(?:(\d+) MB stacks, (\d+) MB globals, )?(\d+) P( \(forced\))?\s*$"
)
_SCHED = re.compile(r"^SCHED (\d+)ms: (.*)$")
_KV = re.compile(r"(\w+)=(-?\d+|true|false)\b")
_LIST = re.compile(r"(?:(\w+)=)?\[([-0-9 ]*)\]")


@dataclass(frozen=True)
class GCCycle:
    """One gctrace line. Times in ms, heap sizes in MB (MiB, as the runtime prints them)."""

    number: int
    at_s: float
    cpu_percent: int
    sweep_term_ms: float  # stop-the-world
    mark_ms: float  # concurrent
    mark_term_ms: float  # stop-the-world
    cpu_sweep_term_ms: float
    cpu_assist_ms: float
    cpu_background_ms: float
    cpu_idle_ms: float
    cpu_mark_term_ms: float
    heap_start_mb: int
    heap_end_mb: int
    heap_live_mb: int
    heap_goal_mb: int
    stacks_mb: int | None
    globals_mb: int | None
    procs: int
    forced: bool
    periodic: bool = False  # preceded by "GC forced": the 2-minute forced GC

    @property
    def pause_ms(self) -> float:
        """Wall-clock stop-the-world time of the cycle (sweep termination + mark termination)."""
        return self.sweep_term_ms + self.mark_term_ms


@dataclass(frozen=True)
class SchedSnapshot:
    """One schedtrace line: ``at_ms`` since the runtime started, the scheduler's counters
    (gomaxprocs, idleprocs, threads, spinningthreads, needspinning, idlethreads, runqueue)
    and the length of each P's local run queue; other per-P lists (Go 1.27 adds
    ``schedticks=[ ... ]``) in ``lists``."""

    at_ms: int
    counters: dict[str, int]
    local_runqueues: list[int]
    lists: dict[str, list[int]] = field(default_factory=dict)

    def __getattr__(self, name: str) -> int:
        try:
            return self.__dict__["counters"][name]
        except KeyError:
            raise AttributeError(name) from None


@dataclass
class RuntimeTrace:
    """What a child's stderr said: GC cycles, scheduler snapshots and any other lines."""

    gc: list[GCCycle] = field(default_factory=list)
    sched: list[SchedSnapshot] = field(default_factory=list)
    other: list[str] = field(default_factory=list)

    @property
    def gc_max_pause_ms(self) -> float:
        return max((c.pause_ms for c in self.gc), default=0.0)

    def to_dict(self) -> dict[str, Any]:
        return {"gc": [asdict(c) for c in self.gc],
                "sched": [asdict(s) for s in self.sched], "other": self.other}  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RuntimeTrace:
        gc = [GCCycle(**c) for c in d.get("gc", [])]
        sched = [SchedSnapshot(**s) for s in d.get("sched", [])]
        return cls(gc, sched, list(d.get("other", [])))


def parse_gc_line(line: str) -> GCCycle | None:
    """A :class:`GCCycle` from one gctrace line, or None if the line is not one."""
    m = _GC.match(line.strip())
    if not m:
        return None
    g = m.groups()
    f = [float(x) for x in g[3:11]]
    return GCCycle(
        number=int(g[0]), at_s=float(g[1]), cpu_percent=int(g[2]), sweep_term_ms=f[0],
        mark_ms=f[1], mark_term_ms=f[2], cpu_sweep_term_ms=f[3], cpu_assist_ms=f[4],
        cpu_background_ms=f[5], cpu_idle_ms=f[6], cpu_mark_term_ms=f[7],
        heap_start_mb=int(g[11]), heap_end_mb=int(g[12]), heap_live_mb=int(g[13]),
        heap_goal_mb=int(g[14]), stacks_mb=int(g[15]) if g[15] is not None else None,
        globals_mb=int(g[16]) if g[16] is not None else None, procs=int(g[17]),
        forced=g[18] is not None,
    )  # fmt: skip


def parse_sched_line(line: str) -> SchedSnapshot | None:
    """A :class:`SchedSnapshot` from one schedtrace line, or None if the line is not one."""
    m = _SCHED.match(line.strip())
    if not m:
        return None
    rest = m.group(2)
    lists: dict[str, list[int]] = {}
    local: list[int] = []
    for name, body in _LIST.findall(rest):
        vals = [int(x) for x in body.split()]
        if name:
            lists[name] = vals
        else:
            local = vals  # the unnamed list after runqueue=N
    counters = {}
    for k, v in _KV.findall(_LIST.sub("", rest)):
        counters[k] = 1 if v == "true" else 0 if v == "false" else int(v)
    return SchedSnapshot(int(m.group(1)), counters, local, lists)


def parse(text: str) -> RuntimeTrace:
    """Split a child's stderr into GC cycles, scheduler snapshots and other lines."""
    out = RuntimeTrace()
    periodic = False
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.strip() == "GC forced":
            periodic = True
            continue
        c = parse_gc_line(line)
        if c is not None:
            if periodic:
                c = GCCycle(**{**asdict(c), "periodic": True})
                periodic = False
            out.gc.append(c)
            continue
        s = parse_sched_line(line)
        if s is not None:
            out.sched.append(s)
        elif (
            not line.startswith("  P") and not line.startswith("  M") and not line.startswith("  G")
        ):  # scheddetail's per-P/M/G lines are not kept
            out.other.append(line)
    return out
