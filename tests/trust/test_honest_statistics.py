"""Honest statistics: seed-invariant results are said so; bootstrap interval and p-value agree at the boundary."""

from __future__ import annotations

import numpy as np

from polyglue.report.significance import bootstrap_summary
from polyglue.report.statistics import SeedStats


def test_identical_seeds_are_called_seed_invariant_not_plus_minus_zero():
    stats = SeedStats()
    for seed in range(3):
        stats.add(seed, 92.41)
    assert stats.render() == "92.41 (seed-invariant)" and "±" not in stats.render(spread="std")
    assert stats.as_dict()["seed_invariant"] is True
    varied = SeedStats([1.0, 2.0], [0, 1])
    assert "±" in varied.render() and varied.as_dict()["seed_invariant"] is False
    assert SeedStats([1.0], [0]).as_dict()["seed_invariant"] is None


def test_interval_excludes_zero_exactly_when_p_is_below_alpha():
    rng = np.random.default_rng(0)
    for shift in np.linspace(0.0, 4.0, 200):
        for n in (100, 999, 1000):
            reps = rng.normal(shift, 1.0, n)
            result = bootstrap_summary(float(shift), reps)
            excludes = result.ci95[0] > 0 or result.ci95[1] < 0
            assert excludes == (result.p_value < 0.05), (shift, n, result)


def test_p_value_is_one_for_identical_models_and_never_zero():
    assert bootstrap_summary(0.0, np.zeros(1000)).p_value == 1.0
    assert bootstrap_summary(1.0, np.ones(1000)).p_value == 2 / 1001


def test_single_seed_rows_get_a_per_example_bootstrap_standard_error(cli, tmp_path):
    import json

    from tests.fixtures.core_suite import write_suite

    cards = write_suite(tmp_path / "s", n_cards=1, sizes=(60, 30, 40))
    runs = tmp_path / "runs"
    assert cli("run", "--suite", "core", "--cards", cards, "--model", "bow", "--runs-dir", runs, "--quiet").code == 0
    plain = json.loads(cli("report", "--suite", "core", "--cards", cards, "--runs-dir", runs, "--format", "json").out)
    assert plain["suites"][0]["rows"][0]["cells"]["core-sim"]["bootstrap_se"] is None
    result = cli("report", "--suite", "core", "--cards", cards, "--runs-dir", runs, "--format", "json", "--bootstrap-se", 200)
    cell = json.loads(result.out)["suites"][0]["rows"][0]["cells"]["core-sim"]
    assert cell["n"] == 1 and 0 < cell["bootstrap_se"] < 50
    md = cli("report", "--suite", "core", "--cards", cards, "--runs-dir", runs, "--bootstrap-se", 200).out
    assert "(SE " in md
