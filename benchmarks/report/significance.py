"""Significance tests for paired comparisons: paired bootstrap, McNemar, Holm's correction.

Paired bootstrap (Efron & Tibshirani 1993; for NLP, Koehn 2004 and Berg-Kirkpatrick et al.
2012): the examples of a split are resampled with replacement, the same resample for both
models, and the metric difference is recomputed on each resample. The 95% interval is the
2.5th-97.5th percentile of those differences (numpy's linear interpolation); the two-sided
p-value inverts that same interpolated percentile function at zero: p = 2 min(q, 1 - q),
where q is the percentile rank of 0 among the differences. So the interval and the p-value
agree by construction: the (1 - a) interval excludes zero exactly when p < a, also at the
boundary. p is never reported below 2 / (n + 1), the two-sided resolution of n resamples.

McNemar's test (McNemar 1947) uses only the examples where exactly one model is right:
exact binomial test when there are fewer than 25 of them, else chi-square with continuity
correction (Edwards 1948).

Holm's step-down correction (Holm 1979) keeps the family-wise error rate at alpha over the
cards of a comparison.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXACT_BELOW = 25


@dataclass(frozen=True)
class BootstrapResult:
    delta: float
    """Observed difference A - B on the full data."""
    ci95: tuple[float, float]
    p_value: float


def bootstrap_summary(observed: float, replicates: np.ndarray) -> BootstrapResult:
    """Percentile interval and two-sided p-value of the bootstrap differences `replicates` (shape (n_bootstrap,))."""
    reps = np.sort(np.asarray(replicates, dtype=float))
    n = len(reps)
    low, high = np.percentile(reps, [2.5, 97.5])
    q = percentile_rank_of_zero(reps)
    p = min(1.0, 2 * min(q, 1 - q))
    return BootstrapResult(float(observed), (float(low), float(high)), float(max(p, 2 / (n + 1))))


def percentile_rank_of_zero(sorted_reps: np.ndarray) -> float:
    """The q in [0, 1] with `np.percentile(reps, 100 q) == 0` (linear method); ties at 0 take their middle."""
    r = sorted_reps
    n = len(r)
    if n < 2:
        return 0.5
    if r[0] > 0:
        return 0.0
    if r[-1] < 0:
        return 1.0
    zeros = np.flatnonzero(r == 0)
    if len(zeros):
        return float((zeros[0] + zeros[-1]) / 2 / (n - 1))
    i = int(np.searchsorted(r, 0.0)) - 1  # r[i] < 0 < r[i + 1]
    t = -r[i] / (r[i + 1] - r[i])
    return float((i + t) / (n - 1))


@dataclass(frozen=True)
class McNemarResult:
    b: int
    """Examples model A gets right and model B wrong."""
    c: int
    """Examples model B gets right and model A wrong."""
    statistic: float | None
    p_value: float
    method: str


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> McNemarResult:
    """McNemar's test on paired per-example correctness (boolean arrays of equal length)."""
    from scipy.stats import binomtest, chi2

    a, b_ = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    b = int(np.count_nonzero(a & ~b_))
    c = int(np.count_nonzero(~a & b_))
    n = b + c
    if n == 0:
        return McNemarResult(b, c, None, 1.0, "exact")
    if n < EXACT_BELOW:
        return McNemarResult(b, c, None, float(binomtest(b, n, 0.5).pvalue), "exact")
    stat = (abs(b - c) - 1) ** 2 / n
    return McNemarResult(b, c, float(stat), float(chi2.sf(stat, 1)), "chi2")


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values, in the order given (monotone, capped at 1).

    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted = [0.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return [round(p, 12) for p in adjusted]
