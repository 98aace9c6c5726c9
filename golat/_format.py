"""Plain-text tables that line up, for the CLI and ``Result.table()``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ._units import format_bytes, format_ns

if TYPE_CHECKING:
    from ._result import Result

STATS = ("p50", "p90", "p99", "p99_9", "p99_99", "max", "mean", "stddev")
HEADERS = ("P50", "P90", "P99", "P99.9", "P99.99", "max", "mean", "stddev")


def table(headers: Sequence[str], rows: Sequence[Sequence[str]], align_left: int = 1) -> str:
    """Columns padded to their widest cell; the first ``align_left`` columns left-aligned."""
    cols = list(zip(*([headers, *rows])))
    widths = [max(len(str(c)) for c in col) for col in cols]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(
            str(c).ljust(w) if i < align_left else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths))
        ).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(headers), rule, *(line(r) for r in rows)])


def result_table(r: Result) -> str:
    rows = []
    for which in ("latency", "service"):
        s = r.summary(which)
        rows.append([which, *(format_ns(s[k]) for k in STATS)])
    head = (
        f"{r.requests:,} requests in {r.measured_s:.2f} s ({r.achieved_rate:,.0f} req/s"
        + (f", target {r.config.get('rate'):,.0f}" if r.config.get("rate") else ", closed loop")
        + f"), {r.warmup_requests:,} warm-up requests left out"
    )
    late = (
        f"late starts: {r.late_starts:,} (> {format_ns(r.late_threshold_ns)} after intended; "
        f"start delay P99 {format_ns(r.start_delay.percentile(99) if r.start_delay.count else 0)},"
        f" max {format_ns(r.start_delay.max if r.start_delay.count else 0)})"
    )
    g = r.gc
    gc = (
        f"GC in window: {g.cycles} cycles ({g.forced} forced), max pause "
        f"{format_ns(g.max_pause_ns)}, GC percent {g.gc_percent}, heap live "
        f"{format_bytes(g.heap_live_bytes_end)}, peak heap {format_bytes(g.peak_heap_bytes)}"
    )
    lines = [head, "", table(["", *HEADERS], rows), "", late, gc]
    if g.managed:
        in_gap = sum(1 for e in g.controller_events if e.get("in_gap"))
        lines.append(
            f"managed GC: {g.controller_cycles} cycles by the controller and "
            f"{g.runtime_cycles} by the runtime in the window; threshold "
            f"{format_bytes(g.threshold_bytes)}, memory limit {format_bytes(g.memory_limit)}; "
            f"{in_gap} of {len(g.controller_events)} controller GCs started in a gap"
        )
    if r.stalls:
        lines.append(f"stalls injected: {r.stalls}")
    if r.interrupted:
        lines.append("interrupted: the run was stopped before its end")
    return "\n".join(lines)
