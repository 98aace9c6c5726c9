"""Plots (needs the ``golat[plot]`` extra, matplotlib): the percentile distribution of each
stage with the x axis at 1/(1-p) on a log scale, as HdrHistogram's plotter draws it, and
latency over time from the runs' timelines with their GC events marked."""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._render import renderer
from .errors import Unsupported

if TYPE_CHECKING:
    from ._comparison import Comparison
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


def _over_time(ax: Any, series: list[tuple[str, Any, list[Result]]]) -> None:
    """Per stage: the median across trials of each interval's P99 (line) and the range
    across trials (band); GC events of every trial as ticks at the bottom."""
    for label, color, results in series:
        tls = [r.timeline for r in results if r.timeline is not None and len(r.timeline)]
        if not tls:
            continue
        n = max(len(t) for t in tls)
        p99 = np.full((len(tls), n), np.nan)
        for i, t in enumerate(tls):
            v = t.p99_ns.astype(float)
            v[t.count == 0] = np.nan
            p99[i, : len(t)] = v / 1e3
        iv = tls[0].interval_s
        x = (np.arange(n) + 0.5) * iv
        with warnings.catch_warnings():  # all-NaN columns (no trial reached them) are fine
            warnings.simplefilter("ignore", RuntimeWarning)
            mid = np.nanmedian(p99, axis=0)
            lo, hi = np.nanmin(p99, axis=0), np.nanmax(p99, axis=0)
        ax.plot(x, mid, color=color, lw=1.5, marker=".", label=f"{label} ({len(tls)} trials)")
        ax.fill_between(x, lo, hi, color=color, alpha=0.12, lw=0)
        ev = np.concatenate([t.gc_event_s for t in tls])
        ev = ev[(ev >= 0) & (ev <= n * iv)]
        if len(ev):
            ax.plot(ev, np.full(len(ev), 0.03), marker="|", ls="", ms=14, color=color,
                    alpha=0.6, transform=ax.get_xaxis_transform())  # fmt: skip
    ax.set_yscale("log")
    ax.set_xlabel("time in the measured window (s); | marks a GC cycle (any trial)")
    ax.set_ylabel("P99 per interval (µs, log)")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("P99 per interval: median across trials (line), range across trials (band)")
    ax.legend(loc="upper left")


@renderer("plot_comparison")
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
        series.append((st.name, colors[i % len(colors)], results))
    _distribution(ax1, curves)
    _over_time(ax2, series)
    fig.suptitle(f"golat compare {c.workload}", fontsize=10)
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


@renderer("plot_result")
def plot_result(r: Result, path: str | os.PathLike[str], label: str = "run") -> Path:
    """Save one run's percentile distribution and timeline as a PNG at ``path``."""
    plt = _pyplot()
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(10, 9))
    _distribution(ax1, [(label, r.latency)])
    _over_time(ax2, [(label, "C0", [r])])
    fig.tight_layout()
    out = Path(path)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out
