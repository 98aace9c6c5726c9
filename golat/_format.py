"""Plain-text tables that line up, for the CLI, ``Result.table()`` and
``Comparison.format()`` / ``markdown()`` (registered as renderers; see golat._render)."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from . import _outliers
from ._comparison import (
    DEFAULT_STAGES,
    METRICS,
    SHOWN,
    TAIL_KEYS,
    TAIL_ROW_SHARE,
    Comparison,
)
from ._render import renderer
from ._result import Result
from ._units import format_bytes, format_ns

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
    if r.steps:
        return f", ramp {plural(len(r.steps), 'step')} from {r.steps[0].rate:,.0f} req/s"
    return f", target {r.config.get('rate'):,.0f}" if r.config.get("rate") else ", closed loop"


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 request``, ``2 requests``, ``1,024 requests`` (``many`` for irregular plurals)."""
    return f"{n:,} {word if n == 1 else many or word + 's'}"


@renderer("result_table")
def result_table(r: Result) -> str:
    rows = []
    for which in ("latency", "service"):
        s = r.summary(which)
        rows.append([which, *(format_ns(s[k]) for k in STATS)])
    head = (
        f"{plural(r.requests, 'request')} in {r.measured_s:.2f} s ({r.achieved_rate:,.0f} req/s"
        + _mode(r)
        + f"), {plural(r.warmup_requests, 'warm-up request')} left out"
    )
    late = (
        f"late starts: {r.late_starts:,} (> {format_ns(r.late_threshold_ns)} after intended; "
        f"start delay P99 {format_ns(r.start_delay.percentile(99) if r.start_delay.count else 0)},"
        f" max {format_ns(r.start_delay.max if r.start_delay.count else 0)})"
    )
    g = r.gc
    gc = (
        f"GC in window: {plural(g.cycles, 'cycle')} ({g.forced} forced), max pause "
        f"{format_ns(g.max_pause_ns)}, GC percent {g.gc_percent}, heap live "
        f"{format_bytes(g.heap_live_bytes_end)}, peak heap {format_bytes(g.peak_heap_bytes)}"
    )
    lines = [head]
    if r.overload:
        lines.append("WARNING: " + r.overload)
    lines += ["", table(["", *HEADERS], rows)]
    causes = cause_lines(r)
    if causes:
        lines += ["", *causes]
    lines += ["", late]
    http = http_lines(r)
    if r.queued and not http:
        lines.append(f"queued: {plural(r.queued, 'request')} due while their worker was still "
                     "busy with the one before (the wait is in their latency)")  # fmt: skip
    lines += http
    lines.append(gc)
    lines.extend(step_lines(r))
    if g.managed:
        in_gap = sum(1 for e in g.controller_events if e.get("in_gap"))
        lines.append(
            f"managed GC: {plural(g.controller_cycles, 'cycle')} by the controller and "
            f"{g.runtime_cycles} by the runtime in the window; threshold "
            f"{format_bytes(g.threshold_bytes)}, memory limit {format_bytes(g.memory_limit)}; "
            f"{in_gap} of {len(g.controller_events)} controller GCs started in a gap"
        )
    lines.extend(threads_lines(r))
    if r.inputs:
        lines += ["", *inputs_lines(r)]
    if r.stalls:
        lines.append(f"stalls injected: {r.stalls:,}")
    if r.interrupted:
        lines.append("interrupted: the run was stopped before its end")
    return "\n".join(lines)


def share_text(shares: dict[str, float], labels: dict[str, str]) -> str:
    """``62 % GC pause, 30 % queued behind a GC pause, 8 % unexplained`` (largest first,
    shares under 0.5 % left out)."""
    parts = [f"{v * 100:.0f} % {labels.get(k, k)}" for k, v in shares.items() if v >= 0.005]
    return ", ".join(parts) if parts else "nothing above the median"


def cause_lines(r: Result) -> list[str]:
    """What explains the tail (P99.9 and above, P99.99 and above), from the outliers."""
    out = []
    for p in (99.9, 99.99):
        c = r.causes(p)
        if c is None:
            return out
        cover = "" if c.covered == c.requests else (
            f"; the slowest {c.covered:,} of them kept (raise outliers to see all)")  # fmt: skip
        out.append(f"P{p:g} and above ({plural(c.requests, 'request')}, "
                   f"{format_ns(c.excess_ns)} over P50 in all{cover}): "
                   f"{share_text(c.shares, _outliers.LABELS)}")  # fmt: skip
    if out and r.tail and not r.tail.get("marks_known", True):
        out.append("(GC mark phases not seen by this Go runtime)")
    return out


def http_lines(r: Result) -> list[str]:
    """The HTTP client's connections, errors by kind and queued requests."""
    info = r.extra.get("workload_info") or {}
    if "engine" not in info:
        return []
    n = info["connections"]
    line = (f"HTTP client: {plural(n, 'connection')} ({info['engine']} engine"
            f"{', TLS' if info.get('tls') else ''}) to {info['server']}, "
            f"{plural(info['dials'], 'connect')}, {plural(info['errors'], 'error')}")  # fmt: skip
    kinds = info.get("errors_by_kind") or {}
    if kinds:
        line += " (" + ", ".join(f"{k} {v:,}" for k, v in sorted(kinds.items())) + ")"
    pr = r.extra.get("process") or {}
    if pr:
        line += (f"; process: {pr['threads']} threads, peak RSS "
                 f"{format_bytes(pr['max_rss_bytes'])}, CPU {pr['cpu_s']:.2f} s")  # fmt: skip
    out = [line]
    if info.get("first_error"):
        out.append(f"first error: {info['first_error']}")
    q = info.get("queued") or {}
    if q.get("requests"):
        out.append(
            f"queued: {plural(q['requests'], 'request')} came due while their connection was "
            f"busy, on {q['connections_with_queued']:,} of {n:,} connections (at most "
            f"{q['max_per_connection']:,} on one); they waited, in their latency: more "
            "connections would have sent them on time"
        )
    return out


def step_lines(r: Result) -> list[str]:
    """A ramp's steps (offered and achieved rate, latency percentiles by the step of each
    request's intended start) and its knee; nothing for a run at one rate."""
    if not r.steps:
        return []
    from ._ramp import broken

    rows = []
    for k, s in enumerate(r.steps):
        why = broken(r.steps, k)
        rows.append([
            str(k + 1), f"{s.start_s:g}", f"{s.rate:,.0f}", f"{s.achieved_rate:,.0f}",
            *(format_ns(s.percentile(p)) for p in (50, 99, 99.9)),
            format_ns(s.latency.max if s.latency.count else float("nan")),
            f"{s.queued:,}", "broken" if why else "",
        ])  # fmt: skip
    head = ["step", "from s", "offered/s", "achieved/s", "P50", "P99", "P99.9", "max", "queued",
            ""]  # fmt: skip
    kn = r.knee()
    assert kn is not None
    said = f"knee: {kn.rate:,.0f} req/s; {kn.reason}" if kn.rate is not None else kn.reason
    return ["", "steps (latency of the requests due in each step):", table(head, rows),
            said + " (a step is broken below 95 % of its rate or with P99 over 3x the lowest "
            "P99 before it)"]  # fmt: skip


def _cell(v: float, unit: str) -> str:
    if v != v:
        return "-"
    if unit == "ns":
        return format_ns(v)
    if unit == "bytes":
        return format_bytes(v)
    if unit == "rate":
        return f"{v:,.0f}"
    if unit == "share":
        return f"{v * 100:.0f} %"
    return f"{v:g}" if v == int(v) else f"{v:.1f}"


_SHORT = {"lower": "lower", "higher": "HIGHER", "no difference": "same",
          "too few trials": "few", "n/a": ""}  # fmt: skip
_SAYS = {"lower": "lower beyond noise", "higher": "HIGHER beyond noise",
         "no difference": "no difference beyond noise", "too few trials": "too few trials to tell",
         "n/a": ""}  # fmt: skip
LEGEND = (
    "cells: median across trials; x = ratio to {base}; lower/HIGHER = differs from {base} "
    "beyond trial-to-trial noise (exact Mann-Whitney U, two-sided, alpha {alpha:g}); same = no "
    "difference; few = too few trials to tell (4 per stage needed)"
)
ROWS_LEGEND = (
    "rows: P50..P99.99 = latency from each request's intended start (coordinated omission "
    "corrected), capped at the trial's max; max = the largest; stddev = jitter; GC cycles and "
    "peak GC pause inside the measured window; sched latency = the Go scheduler's delay for "
    "all goroutines (the runtime's health, not the requests'); invol. switches = the whole "
    "process's (getrusage) and the workers' own threads' (locked workers only); P99.9+: X = "
    "the share of the time requests at P99.9 and above spent over the P50 that X explains "
    "(Result.causes; one row per cause that reaches 5 % in some stage)"
)


def _comparison_grid(c: Comparison, rows: list[dict[str, Any]], spread: bool
                     ) -> tuple[list[str], list[list[str]]]:  # fmt: skip
    units = {k: u for k, _, u in METRICS}
    labels = {k: lab for k, lab, _ in METRICS}
    headers = ["metric"] + [r["stage"] for r in rows]
    grid = []
    causes = [
        k
        for k in TAIL_KEYS
        if any(r["trials"] and r[k] == r[k] and r[k] >= TAIL_ROW_SHARE for r in rows)
    ]
    for key in (*SHOWN, *causes):
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
            if r["stage"] != c.baseline and units[key] != "share":
                ratio = r[key + "_ratio"]
                if ratio == ratio:
                    cell += f" {ratio:.2f}x"
                mark = _SHORT.get(r[key + "_verdict"], "")
                if mark:
                    cell += f" {mark}"
            line.append(cell)
        grid.append(line)
    return headers, grid


def comparison_command(c: Comparison) -> str:
    """The ``golat compare`` command line that reruns this comparison."""
    parts = ["golat", "compare", shlex.quote(c.workload), *map(shlex.quote, c.settings.to_args())]
    parts += ["--trials", str(c.trials_per_stage)]
    defaults = {s.name: s for s in DEFAULT_STAGES}
    if all(defaults.get(s.name) == s for s in c.stages):
        if [s.name for s in c.stages] != [s.name for s in DEFAULT_STAGES]:
            parts += ["--stages", ",".join(s.name for s in c.stages)]
    else:
        parts += [a for s in c.stages for a in ("--stage", shlex.quote(str(s)))]
    if c.baseline != c.stages[0].name:
        parts += ["--baseline", shlex.quote(c.baseline)]
    return " ".join(parts)


def stage_lines(c: Comparison, rows: list[dict[str, Any]]) -> list[str]:
    """One line per stage a reader can act on: the tail against the baseline, whether that
    is beyond noise, and the GC cycles; failed and overloaded trials named."""
    width = max(len(r["stage"]) for r in rows)
    out = []
    for r in rows:
        name = r["stage"].ljust(width)
        failed = [t for t in c.failed if t.stage == r["stage"]]
        over = c.overloaded(r["stage"])
        notes = []
        if failed:
            notes.append(f"{plural(len(failed), 'trial')} FAILED")
        if over:
            notes.append(f"OVERLOADED in {len(over)} of {r['trials']} trials (below 95 % of "
                         "the rate: latencies measure the backlog)")  # fmt: skip
        if not r["trials"]:
            out.append(f"  {name}  no trial succeeded" + "".join(f"; {n}" for n in notes))
            continue
        cycles = plural(round(r["gc_cycles"]), "GC cycle")
        if r["stage"] == c.baseline:
            text = (f"P99.99 {format_ns(r['p99_99_ns'])}, P99 {format_ns(r['p99_ns'])}, "
                    f"{cycles} (the baseline)")  # fmt: skip
        else:
            text = (f"P99.99 {_ratio(r['p99_99_ns_ratio'])} {c.baseline}, "
                    f"{_SAYS[r['p99_99_ns_verdict']]}; P99 {_ratio(r['p99_ns_ratio'])}, "
                    f"{_SAYS[r['p99_ns_verdict']]}; {cycles}")  # fmt: skip
        out.append(f"  {name}  {text}" + "".join(f"; {n}" for n in notes))
    return out


def _ratio(x: float) -> str:
    return f"{x:.2f}x" if x == x else "n/a x"


@renderer("comparison_text")
def comparison_text(c: Comparison) -> str:
    rows = c.table()
    env = c.environment
    head = [
        comparison_command(c),
        f"{plural(c.trials_per_stage, 'trial')} per stage, interleaved, each in a fresh "
        f"process; baseline: {c.baseline}",
        f"machine: {env.get('cpu_model')}, CPUs {env.get('cpus_online')}, {env.get('kernel')}",
        "",
        "what each stage bought (medians over trials):",
        *stage_lines(c, rows),
    ]
    headers, grid = _comparison_grid(c, rows, spread=False)
    out = [*head, "", table(headers, grid, align_left=1)]
    headers, grid = _comparison_grid(c, rows, spread=True)
    keep = {"P99", "P99.99", "stddev (jitter)"}
    spread_rows = [[g[0]] + [x.split(" (")[1].split(")")[0] if " (" in x else x for x in g[1:]]
                   for g in grid if g[0] in keep]  # fmt: skip
    out += ["", "spread across trials (min–max):", table(headers, spread_rows, align_left=1)]
    out += ["", LEGEND.format(base=c.baseline, alpha=c.alpha), ROWS_LEGEND]
    out += _notes(c, rows)
    return "\n".join(out)


def _notes(c: Comparison, rows: list[dict[str, Any]]) -> list[str]:
    out = []
    for r in rows:
        if r["skipped"]:
            out.append(f"{r['stage']}: skipped: {r['skipped']}")
        if r["trials"] and r["max_ns"] < r["p99_99_ns"]:
            out.append(f"note: {r['stage']}: the median max is below the median P99.99: this "
                       "file's percentiles were not capped at each trial's max (format 1), "
                       "and each trial's max is at or above its own P99.99")  # fmt: skip
    for t in c.failed:
        first = t.error.splitlines()[0] if t.error else "no result"
        out.append(f"FAILED: {t.stage} trial {t.index + 1}: {first}")
    if c.interrupted:
        out.append(f"interrupted: {plural(len(c.trials), 'trial')} measured before Ctrl-C; "
                   "medians use those")  # fmt: skip
    return out


@renderer("comparison_markdown")
def comparison_markdown(c: Comparison) -> str:
    rows = c.table()
    headers, grid = _comparison_grid(c, rows, spread=True)
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(g) + " |" for g in grid]
    env = c.environment
    notes = [
        "",
        f"`{comparison_command(c)}`: {plural(c.trials_per_stage, 'trial')} per stage, "
        f"interleaved, each in a fresh process. Machine: {env.get('cpu_model')}, CPUs "
        f"{env.get('cpus_online')}, {env.get('kernel')}.",
        "",
        *(line.strip() + "  " for line in stage_lines(c, rows)),
        "",
        LEGEND.format(base=c.baseline, alpha=c.alpha) + "; (min–max) is the spread across trials.",
        "",
        ROWS_LEGEND + ".",
    ]
    notes += ["", *_notes(c, rows)] if _notes(c, rows) else []
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
            if place.get("locality") in ("local", "remote", "mixed"):
                where += f" ({place['locality']})"
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
    for key in ("numa_note", "placement_note", "jitter_note"):
        if r.extra.get(key):
            out.append("note: " + r.extra[key])
    return out


def settings_markdown() -> str:
    """The table of every run setting for docs/api.md, generated from the declarations (a
    test keeps the page equal to it)."""
    import dataclasses

    from ._settings import RunSettings, flag_names

    lines = ["| setting | flag | default | takes | meaning |", "|---|---|---|---|---|"]
    for f in dataclasses.fields(RunSettings):
        kind = f.metadata["kind"]
        default = "none" if f.default is None else kind.to_text(f.default)
        where = ", ".join(f.metadata["scope"])
        serve = f"; a server: {f.metadata['serve_help']}" if f.metadata["serve_help"] else ""
        lines.append(f"| `{f.name}` | `{'`, `'.join(flag_names(f.name))}` | `{default}` | "
                     f"{kind.describe} | {f.metadata['help']}{serve} ({where}) |")  # fmt: skip
    return "\n".join(lines)


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


@renderer("fleet_comparison_text")
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
