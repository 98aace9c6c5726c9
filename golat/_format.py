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
    lines.extend(threads_lines(r))
    if r.inputs:
        lines += ["", *inputs_lines(r)]
    if r.stalls:
        lines.append(f"stalls injected: {r.stalls}")
    if r.interrupted:
        lines.append("interrupted: the run was stopped before its end")
    return "\n".join(lines)


def _cell(v: float, unit: str) -> str:
    if v != v:
        return "-"
    if unit == "ns":
        return format_ns(v)
    if unit == "bytes":
        return format_bytes(v)
    if unit == "rate":
        return f"{v:,.0f}"
    return f"{v:g}" if v == int(v) else f"{v:.1f}"


_SHORT = {"lower": "lower", "higher": "HIGHER", "no difference": "same",
          "too few trials": "few", "n/a": ""}  # fmt: skip
LEGEND = (
    "cells: median across trials; x = ratio to {base}; lower/HIGHER = differs from {base} "
    "beyond trial-to-trial noise (exact Mann-Whitney U, two-sided, alpha {alpha:g}); same = no "
    "difference; few = too few trials to tell (4 per stage needed)"
)


def _comparison_grid(c, rows, spread: bool, md: bool) -> tuple[list[str], list[list[str]]]:
    from ._compare import METRICS, SHOWN

    units = {k: u for k, _, u in METRICS}
    labels = {k: lab for k, lab, _ in METRICS}
    headers = ["metric"] + [r["stage"] for r in rows]
    grid = []
    for key in SHOWN:
        line = [labels[key]]
        for r in rows:
            if r["skipped"] or not r["trials"]:
                line.append("skipped" if r["skipped"] else "failed")
                continue
            cell = _cell(r[key], units[key])
            if spread and r["trials"] > 1:
                cell += (
                    f" ({_cell(r[key + '_min'], units[key])}–{_cell(r[key + '_max'], units[key])})"
                )
            if r["stage"] != c.baseline:
                ratio = r[key + "_ratio"]
                if ratio == ratio:
                    cell += f" {ratio:.2f}x"
                mark = _SHORT.get(r[key + "_verdict"], "")
                if mark:
                    cell += f" {mark}"
            line.append(cell)
        grid.append(line)
    return headers, grid


def comparison_text(c) -> str:
    rows = c.table()
    env = c.environment
    s = c.settings
    run = ", ".join(f"{k}={v}" for k, v in s.items())
    head = [
        f"golat compare {c.workload}" + (f"  ({run})" if run else ""),
        f"{c.trials_per_stage} trials per stage, interleaved, each in a fresh process; "
        f"baseline: {c.baseline}",
        f"machine: {env.get('cpu_model')}, CPUs {env.get('cpus_online')}, {env.get('kernel')}",
    ]
    headers, grid = _comparison_grid(c, rows, spread=False, md=False)
    out = [*head, "", table(headers, grid, align_left=1)]
    headers, grid = _comparison_grid(c, rows, spread=True, md=False)
    keep = {"P99", "P99.99", "stddev (jitter)"}
    spread_rows = [[g[0]] + [x.split(" (")[1].split(")")[0] if " (" in x else x for x in g[1:]]
                   for g in grid if g[0] in keep]  # fmt: skip
    out += ["", "spread across trials (min–max):", table(headers, spread_rows, align_left=1)]
    out += ["", LEGEND.format(base=c.baseline, alpha=c.alpha)]
    for r in rows:
        if r["skipped"]:
            out.append(f"{r['stage']}: skipped: {r['skipped']}")
        for e in r["errors"][:3]:
            out.append(f"{r['stage']}: a trial failed: {e.splitlines()[0] if e else e}")
    if c.interrupted:
        done = len(c.trials)
        out.append(f"interrupted: {done} trial(s) measured before Ctrl-C; medians use those")
    return "\n".join(out)


def comparison_markdown(c) -> str:
    rows = c.table()
    headers, grid = _comparison_grid(c, rows, spread=True, md=True)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(g) + " |" for g in grid]
    env = c.environment
    notes = [
        "",
        f"Workload `{c.workload}`, settings `{c.settings}`; {c.trials_per_stage} trials per "
        f"stage, interleaved, each in a fresh process. Machine: {env.get('cpu_model')}, CPUs "
        f"{env.get('cpus_online')}, {env.get('kernel')}.",
        "",
        LEGEND.format(base=c.baseline, alpha=c.alpha) + "; (min–max) is the spread across trials.",
    ]
    for r in rows:
        if r["skipped"]:
            notes.append(f"\n`{r['stage']}` skipped: {r['skipped']}")
    if c.interrupted:
        notes.append(f"\nInterrupted after {len(c.trials)} trials.")
    return "\n".join(lines + notes) + "\n"


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


def inputs_lines(r: Result) -> list[str]:
    """A merged result's inputs beside the merge: latency per input (the merged row first),
    then each input's machine, and the merge's notes."""
    stats = ("p50", "p90", "p99", "p99_9", "p99_99", "max")
    heads = ("P50", "P90", "P99", "P99.9", "P99.99", "max")

    def row(name: str, x: Result, workers: int) -> list[str]:
        s = x.summary()
        return [name, f"{x.requests:,}", f"{x.achieved_rate:,.0f}", str(workers),
                *(format_ns(s[k]) for k in stats)]  # fmt: skip

    per_input = [sum(1 for w in r.workers if w.extra.get("input") == i)
                 for i in range(len(r.inputs))]  # fmt: skip
    rows = [row(f"merged ({len(r.inputs)} inputs)", r, len(r.workers))]
    rows += [row(str(x.extra.get("label", i)), x, per_input[i]) for i, x in enumerate(r.inputs)]
    out = ["latency per input (from intended start; merged = all requests of all inputs):",
           table(["input", "requests", "req/s", "workers", *heads], rows)]  # fmt: skip
    env_rows = []
    for i, x in enumerate(r.inputs):
        e = x.environment
        start = "-"
        if x.window_unix_ns is not None and r.window_unix_ns is not None:
            start = f"+{(x.window_unix_ns - r.window_unix_ns) / 1e6:.1f} ms"
        env_rows.append([str(x.extra.get("label", i)), str(e.get("hostname", "-")),
                         str(e.get("cpu_model", "-")), str(e.get("kernel", "-")),
                         str(e.get("golat", "-")), start])  # fmt: skip
    out += ["", table(["input", "host", "CPU", "kernel", "golat", "window start"], env_rows,
                      align_left=5)]  # fmt: skip
    for note in (r.extra.get("merged") or {}).get("notes", []):
        out.append(f"note: {note}")
    fleet = r.extra.get("fleet")
    if fleet:
        out += ["", *fleet_lines(fleet)]
    return out


def fleet_lines(fleet: dict) -> list[str]:
    """A fleet run's hosts: status, share of the load, clock offset; what is missing."""
    rows = []
    for h in fleet["hosts"]:
        rate = h.get("rate")
        rows.append([h["name"], h["address"], h["status"], f"{100 * h['share']:.1f} %",
                     f"{rate:,.0f}" if rate else "-",
                     f"{h['clock_offset_ns'] / 1e6:+.3f} ms (±{h['clock_rtt_ns'] / 2e6:.3f})",
                     (h.get("error") or "")[:80]])  # fmt: skip
    out = [table(["host", "address", "status", "share", "req/s", "clock offset", "error"], rows,
                 align_left=3)]  # fmt: skip
    if fleet.get("startup_s") is not None:
        out.append(f"fleet: {fleet['startup_s']:.3f} s from the call to the agreed first request")
    if fleet.get("missing_share"):
        bad = [h["name"] for h in fleet["hosts"] if h["status"] != "ok"]
        share = 100 * fleet["missing_share"]
        out.append(f"MISSING: {share:.1f} % of the planned load (hosts {', '.join(bad)} gave "
                   "no result); the tables hold the rest")  # fmt: skip
    return out


def fleet_comparison_text(fc) -> str:
    """Each stage's medians per host, hosts side by side (``golat fleet compare``)."""
    names = list(fc.comparisons)
    first = fc.comparisons[names[0]]
    out = [f"golat fleet compare {first.workload}: {len(names)} hosts, "
           f"{first.trials_per_stage} trials per stage on each", ""]  # fmt: skip
    for key, label in (("p99_ns", "P99"), ("p99_99_ns", "P99.99"), ("max_ns", "max")):
        rows = []
        stages = [s.name for s in first.stages]
        tables = {n: {row["stage"]: row for row in c.table()} for n, c in fc.comparisons.items()}
        for st in stages:
            cells = []
            for n in names:
                row = tables[n].get(st)
                cells.append(_cell(row[key], "ns") if row and row["trials"] else "failed")
            vals = [(tables[n][st][key], n) for n in names
                    if st in tables[n] and tables[n][st]["trials"]]  # fmt: skip
            best = min(vals)[1] if vals else "-"
            rows.append([st, *cells, best])
        out += [f"{label}, median across trials:", table(["stage", *names, "best"], rows), ""]
    for n in names:
        env = fc.comparisons[n].environment
        out.append(f"{n}: {env.get('hostname')}, {env.get('cpu_model')}, CPUs "
                   f"{env.get('cpus_online')}, {env.get('kernel')}")  # fmt: skip
    for n, err in fc.failed.items():
        out.append(f"{n}: FAILED: {err}")
    return "\n".join(out)
