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


def _mode(r: Result) -> str:
    wl = r.config.get("workload") or {}
    if wl.get("kind") == "timer":
        return (f", {wl.get('method')} wake-up every {format_ns(wl.get('interval_ns', 0))} per "
                "worker; latency = wake - deadline")  # fmt: skip
    if wl.get("kind") == "jitter":
        return "; busy loop, values are gaps between clock reads"
    return f", target {r.config.get('rate'):,.0f}" if r.config.get("rate") else ", closed loop"


def result_table(r: Result) -> str:
    rows = []
    for which in ("latency", "service"):
        s = r.summary(which)
        rows.append([which, *(format_ns(s[k]) for k in STATS)])
    head = (
        f"{r.requests:,} requests in {r.measured_s:.2f} s ({r.achieved_rate:,.0f} req/s"
        + _mode(r)
        + f"), {r.warmup_requests:,} warm-up requests left out"
    )
    late = (
        f"late starts: {r.late_starts:,} (> {format_ns(r.late_threshold_ns)} after intended; "
        f"start delay P99 {format_ns(r.start_delay.percentile(99) if r.start_delay.count else 0)},"
        f" max {format_ns(r.start_delay.max if r.start_delay.count else 0)})"
    )
    gc = (
        f"GC in window: {r.gc.cycles} cycles ({r.gc.forced} forced), max pause "
        f"{format_ns(r.gc.max_pause_ns)}, GC percent {r.gc.gc_percent}, heap live "
        f"{format_bytes(r.gc.heap_live_bytes_end)}"
    )
    lines = [head, "", table(["", *HEADERS], rows), "", late, gc]
    lines.extend(threads_lines(r))
    if r.stalls:
        lines.append(f"stalls injected: {r.stalls}")
    if r.interrupted:
        lines.append("interrupted: the run was stopped before its end")
    return "\n".join(lines)


def _count(v) -> str:
    return "-" if v is None or v < 0 else f"{v:,}"


def _cpus_text(cpus) -> str:
    from ._topology import format_cpulist

    return format_cpulist(cpus) if cpus else "-"


def threads_lines(r: Result) -> list[str]:
    """Per-worker threads (CPU pinned and CPUs seen, policy, kernel counters, placement)
    and the process-wide TLB shootdowns; nothing for results without thread data."""
    if not r.workers or "thread" not in r.workers[0].extra:
        return []
    rows, sources = [], set()
    for w in r.workers:
        x = w.extra
        th = x.get("thread") or {}
        c = x.get("counters") or {}
        if c:
            sources.add(c.get("source"))
        place = x.get("placement")
        where = "-"
        if place and place.get("pages"):
            located = sum(place["by_node"].values()) or 1
            where = " ".join(
                f"n{n}:{100 * k / located:.0f}%" for n, k in sorted(place["by_node"].items())
            )
        rows.append([
            str(w.id), str(th.get("cpu")) if th.get("cpu", -1) >= 0 else "-",
            _cpus_text(x.get("ran_on_cpus")), th.get("policy", "-"),
            _count(c.get("voluntary_switches")), _count(c.get("involuntary_switches")),
            _count(c.get("migrations")),
            _count(None if not c else c.get("minor_faults", -1) + max(c.get("major_faults", 0), 0)),
            where,
        ])  # fmt: skip
    head = ["worker", "pinned", "ran on", "policy", "vol sw", "invol sw", "migr", "faults", "pages"]
    out = ["", table(head, rows, align_left=4)]
    th = r.extra.get("threads") or {}
    facts = [f"GOMAXPROCS {r.environment.get('gomaxprocs')}"]
    if th.get("numa"):
        facts.append(f"memory policy {th['numa']}{th.get('numa_nodes') or ''}")
    if th.get("mlock"):
        facts.append("memory locked")
    tlb = r.extra.get("tlb_shootdowns", -1)
    facts.append(f"TLB shootdowns (process, window) {_count(tlb)}")
    facts.append(
        "counters: " + (", ".join(sorted(s for s in sources if s)) or "none (threads not locked)")
    )
    out.append("; ".join(facts))
    for key in ("numa_note", "jitter_note"):
        if r.extra.get(key):
            out.append("note: " + r.extra[key])
    return out
