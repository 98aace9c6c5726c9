"""Plots (needs the ``golat[plot]`` extra, matplotlib): the percentile distribution of each
stage with the x axis at 1/(1-p) on a log scale, as HdrHistogram's plotter draws it, and
latency over time from the runs' timelines with their GC events marked."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from .errors import Unsupported

if TYPE_CHECKING:
    from ._compare import Comparison
    from ._histogram import Histogram
    from ._result import Result

_TICKS = [(2, "50%"), (10, "90%"), (100, "99%"), (1e3, "99.9%"), (1e4, "99.99%"),
          (1e5, "99.999%"), (1e6, "99.9999%")]  # fmt: skip


def _pyplot() -> Any:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as err:
        raise Unsupported(
            "plots need matplotlib: pip install 'golat[plot]' (or pip install matplotlib)"
        ) from err
    return plt


def percentile_curve(h: Histogram) -> tuple[np.ndarray, np.ndarray]:
    """(1/(1-p), latency ns) at percentiles spread evenly on that log axis, up to the
    highest percentile the histogram's count resolves."""
    if h.count == 0:
        return np.array([]), np.array([])
    top = max(1.0, np.log10(h.count))  # beyond 1/(1-p) = count the curve is just max
    x = np.logspace(0, top, 200)
    ps = 100.0 * (1.0 - 1.0 / x)
    return x, h.percentiles(ps).astype(float)


def _distribution(ax: Any, curves: list[tuple[str, Histogram]]) -> None:
    right = 10.0
    for label, h in curves:
        x, y = percentile_curve(h)
        if len(x):
            ax.plot(x, y / 1e3, label=label)
            right = max(right, float(x[-1]))
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [(t, lab) for t, lab in _TICKS if t <= right * 1.01]
    ax.set_xticks([t for t, _ in ticks])
    ax.set_xticklabels([lab for _, lab in ticks])
    ax.set_xlim(1, right)
    ax.set_xlabel("percentile (axis: 1/(1-p), log)")
    ax.set_ylabel("latency (µs, log)")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="upper left")
    ax.set_title("latency by percentile (CO-corrected, all trials merged)")


def _over_time(ax: Any, series: list[tuple[str, Any, Result]]) -> None:
    for label, color, r in series:
        tl = r.timeline
        if tl is None or not len(tl):
            continue
        t = tl.start_s + tl.interval_s / 2
        has = tl.count > 0
        ax.plot(t[has], tl.p99_ns[has] / 1e3, color=color, alpha=0.8, lw=1, marker=".",
                label=label)  # fmt: skip
        ax.plot(t[has], tl.max_ns[has] / 1e3, color=color, alpha=0.35, lw=0.8, ls="--")
        end = tl.start_s[-1] + tl.interval_s
        ev = tl.gc_event_s[(tl.gc_event_s >= 0) & (tl.gc_event_s <= end)]
        if len(ev):
            ax.plot(ev, np.full(len(ev), 0.03), marker="|", ls="", ms=14, color=color,
                    transform=ax.get_xaxis_transform())  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("time in the measured window (s); | marks a GC cycle")
    ax.set_ylabel("latency (µs, log)")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("P99 per interval (solid) and max (dashed), every trial")
    handles, labels = ax.get_legend_handles_labels()
    seen: dict[str, Any] = {}
    for hd, lb in zip(handles, labels):
        seen.setdefault(lb, hd)
    if seen:
        ax.legend(seen.values(), seen.keys(), loc="upper left")


def plot_comparison(c: Comparison, path: str | os.PathLike[str]) -> Path:
    """Save the comparison's two plots, one above the other, as a PNG at ``path``."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 10))
    curves, series = [], []
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, st in enumerate(c.stages):
        results = c.results(st.name)
        if not results:
            continue
        merged = results[0].latency.copy()
        for r in results[1:]:
            merged.merge(r.latency)
        curves.append((f"{st.name} ({len(results)} trials)", merged))
        color = colors[i % len(colors)]
        series += [(st.name, color, r) for r in results]
    _distribution(ax1, curves)
    _over_time(ax2, series)
    fig.suptitle(f"golat compare {c.workload}", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


def plot_result(r: Result, path: str | os.PathLike[str], label: str = "run") -> Path:
    """Save one run's percentile distribution and timeline as a PNG at ``path``."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 9))
    _distribution(ax1, [(label, r.latency)])
    _over_time(ax2, [(label, "C0", r)])
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
