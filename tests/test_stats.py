"""Verdict math: exact Mann-Whitney U against brute-force enumeration, and the verdicts."""

import itertools
import math
import random

import pytest

from golat import _stats


def brute_p(a, b):
    pooled = list(a) + list(b)
    ranks = _stats.midranks(pooled)
    n = len(a)
    obs = sum(ranks[:n])
    mean = n * (len(pooled) + 1) / 2
    hits = total = 0
    for idx in itertools.combinations(range(len(pooled)), n):
        s = sum(ranks[i] for i in idx)
        total += 1
        hits += abs(s - mean) >= abs(obs - mean) - 1e-9
    return hits / total


def test_golden_values():
    assert _stats.mann_whitney([1, 2, 3, 4, 5], [6, 7, 8, 9, 10]) == (0.0, pytest.approx(2 / 252))
    assert _stats.mann_whitney([1, 2, 3], [1, 2, 3]) == (4.5, 1.0)
    assert _stats.midranks([3, 1, 3, 2]) == [3.5, 1, 3.5, 2]
    assert _stats.smallest_p(5, 5) == pytest.approx(2 / 252)


def test_matches_enumeration_with_ties():
    rng = random.Random(4)
    for _ in range(60):
        n, m = rng.randint(1, 6), rng.randint(1, 6)
        a = [rng.randint(0, 5) for _ in range(n)]
        b = [rng.randint(0, 5) for _ in range(m)]
        assert _stats.mann_whitney(a, b)[1] == pytest.approx(brute_p(a, b)), (a, b)


def test_self_control_says_no_difference():
    trials = [41.2, 39.8, 55.0, 40.1, 38.7]
    assert _stats.verdict(trials, trials) == (_stats.SAME, 1.0)


def test_clear_difference_and_direction():
    base = [120.0, 131.0, 127.0, 140.0, 125.0]
    fast = [38.0, 41.0, 36.0, 40.0, 39.0]
    v, p = _stats.verdict(fast, base)
    assert v == _stats.LOWER and p == pytest.approx(2 / 252)
    assert _stats.verdict(base, fast)[0] == _stats.HIGHER


def test_overlapping_noise_is_no_difference():
    a = [10.0, 14.0, 11.0, 13.0, 12.0]
    b = [12.5, 10.5, 13.5, 11.5, 14.5]
    assert _stats.verdict(a, b)[0] == _stats.SAME


def test_too_few_trials_and_missing_data():
    assert _stats.verdict([1.0, 2.0, 3.0], [7.0, 8.0, 9.0])[0] == _stats.TOO_FEW
    assert _stats.verdict([], [1.0])[0] == _stats.NA
    assert _stats.verdict([math.nan], [1.0])[0] == _stats.NA


def test_median():
    assert _stats.median([3, 1, 2]) == 2
    assert _stats.median([4, 1, 3, 2]) == 2.5
    assert math.isnan(_stats.median([]))


def test_empty_sample_refused():
    with pytest.raises(ValueError):
        _stats.mann_whitney([], [1])
