"""Seed statistics: Student-t confidence intervals, hand-checked."""

from __future__ import annotations

import math

import pytest

from polyglue.report.statistics import SeedStats, t_half_width


def test_given_three_seeds_then_the_interval_is_t_0975_2_times_sd_over_root_n():
    # values 1, 2, 3: mean 2, sample sd 1; t(0.975, df=2) = 4.302652729749464
    stats = SeedStats(values=[1.0, 2.0, 3.0], seeds=[0, 1, 2])
    assert stats.mean == 2.0
    assert stats.std == 1.0
    assert stats.ci95_half == pytest.approx(4.302652729749464 / math.sqrt(3), rel=1e-12)
    assert stats.ci95 == pytest.approx((2.0 - 2.4841377118, 2.0 + 2.4841377118), rel=1e-9)


def test_given_two_seeds_then_t_has_one_degree_of_freedom():
    # 70 and 72: sd sqrt(2), t(0.975, 1) = 12.706204736174698
    assert t_half_width([70.0, 72.0]) == pytest.approx(12.706204736174698 * math.sqrt(2) / math.sqrt(2), rel=1e-12)


def test_given_one_seed_then_there_is_no_interval_and_no_spread():
    stats = SeedStats(values=[81.5], seeds=[0])
    assert stats.ci95 is None and stats.std is None
    assert stats.render() == "81.50"
    assert stats.as_dict() == {"mean": 81.5, "std": None, "ci95": None, "n": 1, "values": [81.5], "seeds": [0], "seed_invariant": None, "bootstrap_se": None}


def test_ci_width_shrinks_as_seeds_are_added_from_the_same_spread():
    # seeds alternate 70 / 72: the spread stays about 1, so only n and the t quantile change
    widths = [t_half_width([70.0 + 2 * (i % 2) for i in range(n)]) for n in range(2, 11)]
    assert all(a > b for a, b in zip(widths, widths[1:])), widths
    assert widths[0] == pytest.approx(12.7062, rel=1e-4)  # n = 2
    assert widths[-1] == pytest.approx(2.262157 * statistics_sd(10) / math.sqrt(10), rel=1e-6)  # n = 10


def statistics_sd(n: int) -> float:
    import statistics

    return statistics.stdev([70.0 + 2 * (i % 2) for i in range(n)])


def test_render_shows_the_ci_half_width_or_the_std():
    stats = SeedStats(values=[1.0, 2.0, 3.0], seeds=[0, 1, 2])
    assert stats.render() == "2.00 ± 2.48"
    assert stats.render(spread="std") == "2.00 ± 1.00"
    assert SeedStats().render() == "–"
