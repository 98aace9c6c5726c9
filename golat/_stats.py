"""Is a difference between two stages larger than trial-to-trial noise?

golat compares stages trial by trial: each trial is a fresh child process, so trials are
the independent replicates, not requests (requests inside one run share its GC cycles and
its machine state). The test is the two-sided Mann-Whitney U test (Wilcoxon rank-sum) with
its exact permutation distribution, ties given mid-ranks: no normality assumption, valid for
the handful of trials a comparison can afford. With n trials per stage the smallest p-value
it can reach is 2 / C(2n, n): 0.33 for 2 trials, 0.10 for 3, 0.029 for 4, 0.0079 for 5; below
4 trials per stage no difference can be called at alpha = 0.05, and the verdict says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

ALPHA = 0.05

# verdicts
LOWER = "lower"
HIGHER = "higher"
SAME = "no difference"
TOO_FEW = "too few trials"
NA = "n/a"


def midranks(values: Sequence[float]) -> list[float]:
    """1-based ranks with ties sharing the mean of their ranks."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    ranks = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def mann_whitney(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """(U of ``a``, exact two-sided p-value) of the Mann-Whitney U test.

    The p-value is the share of the C(n+m, n) ways to split the pooled mid-ranks into
    groups of n and m whose rank sum lies at least as far from its mean as the observed
    one; counted by dynamic programming over rank sums, so it stays exact for any size.
    """
    n, m = len(a), len(b)
    if n == 0 or m == 0:
        raise ValueError("both samples need at least one value")
    ranks = midranks(list(a) + list(b))
    twice = [round(2 * r) for r in ranks]  # mid-ranks are multiples of 1/2
    observed = sum(twice[:n])
    mean2 = n * (n + m + 1)  # twice the mean rank sum of a
    # ways[k][s]: subsets of k of the pooled ranks whose doubled rank sum is s
    ways: list[dict[int, int]] = [dict() for _ in range(n + 1)]
    ways[0][0] = 1
    for i, r in enumerate(twice):
        for k in range(min(i + 1, n), 0, -1):
            dst = ways[k]
            for s, c in ways[k - 1].items():
                dst[s + r] = dst.get(s + r, 0) + c
    far = abs(observed - mean2)
    extreme = sum(c for s, c in ways[n].items() if abs(s - mean2) >= far)
    p = extreme / math.comb(n + m, n)
    u = observed / 2 - n * (n + 1) / 2
    return u, min(1.0, p)


def smallest_p(n: int, m: int) -> float:
    """The smallest two-sided p-value the exact test can give for samples of n and m."""
    return min(1.0, 2 / math.comb(n + m, n))


def median(values: Sequence[float]) -> float:
    v = sorted(x for x in values if x == x)
    if not v:
        return math.nan
    mid = len(v) // 2
    return float(v[mid]) if len(v) % 2 else (v[mid - 1] + v[mid]) / 2


def verdict(stage: Sequence[float], baseline: Sequence[float], alpha: float = ALPHA) -> tuple[
    str, float
]:  # fmt: skip
    """(verdict, p): ``"lower"`` or ``"higher"`` than baseline when the exact Mann-Whitney
    p-value is below ``alpha`` (direction from the medians), ``"no difference"`` when it
    is not, ``"too few trials"`` when no split could reach alpha, ``"n/a"`` without data."""
    a = [x for x in stage if x == x]
    b = [x for x in baseline if x == x]
    if not a or not b:
        return NA, math.nan
    _, p = mann_whitney(a, b)
    if smallest_p(len(a), len(b)) >= alpha:
        return TOO_FEW, p
    if p >= alpha:
        return SAME, p
    return (LOWER if median(a) < median(b) else HIGHER), p
