"""Paired significance: a planted real difference is flagged, a planted null one is not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from polyglue.errors import UserError
from polyglue.report.compare import CompareRequest, compare
from polyglue.report.leaderboard import definitions
from polyglue.report.significance import bootstrap_summary, holm, mcnemar
from polyglue.runs.store import Store
from tests.fixtures.report_store import planted_store

PLANTED = {
    "strong": {"fx-sent": 0.85, "fx-nli": 0.75},
    "weak": {"fx-sent": 0.65, "fx-nli": 0.74},
    "twin": {"fx-sent": 0.85, "fx-nli": 0.75},
}


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("planted")
    root, registry = planted_store(tmp, PLANTED)
    return tmp / "runs", registry


def run_compare(planted, a, b, **kw):
    runs_dir, registry = planted
    store = Store(runs_dir)
    try:
        suite, cards = definitions(registry, store, "fixsig")
        return compare(suite, cards, store.units(suite="fixsig"), runs_dir, CompareRequest(a, b, **kw))
    finally:
        store.close()


def test_a_planted_real_difference_is_flagged_per_card_and_for_the_aggregate(planted):
    doc = run_compare(planted, "strong", "weak", n_bootstrap=1000)
    sent = next(d for d in doc.cards if d.name == "fx-sent")
    assert sent.a == pytest.approx(85.0) and sent.b == pytest.approx(65.0) and sent.delta == pytest.approx(20.0)
    assert sent.seeds == [0, 1, 2] and sent.n_examples == 400
    assert sent.significant and sent.better == "a"
    assert sent.ci95[0] > 10 and sent.ci95[1] < 30
    assert sent.p_value < 0.01 and sent.mcnemar_p_max < 1e-6
    # replay reproduces the stored metric exactly
    assert sent.stored_a == pytest.approx(sent.a, abs=1e-9) and not doc.notes
    # one point of accuracy on 400 examples is not a real difference
    nli = next(d for d in doc.cards if d.name == "fx-nli")
    assert nli.delta == pytest.approx(1.0) and not nli.significant
    # the aggregate (plain mean of the two cards): (85 + 75) / 2 - (65 + 74) / 2
    assert doc.aggregate.delta == pytest.approx(10.5) and doc.aggregate.significant
    assert doc.aggregate_name == "mean (polyglue)"


def test_a_planted_null_difference_is_not_flagged(planted):
    doc = run_compare(planted, "strong", "twin", n_bootstrap=1000)
    for diff in doc.cards + [doc.aggregate]:
        assert diff.delta == pytest.approx(0.0, abs=1e-9), diff.name
        assert not diff.significant, diff.name
        assert diff.p_value > 0.5 and diff.better == "tie"
        assert diff.ci95[0] < 0 < diff.ci95[1]
    assert all(d.mcnemar_p_max > 0.05 for d in doc.cards)


def test_holm_correction_is_applied_over_cards_and_resampling_is_reproducible(planted):
    first = run_compare(planted, "strong", "weak", n_bootstrap=200, rng_seed=3)
    again = run_compare(planted, "strong", "weak", n_bootstrap=200, rng_seed=3)
    assert [d.ci95 for d in first.cards] == [d.ci95 for d in again.cards]
    assert [d.p_adjusted for d in first.cards] == holm([d.p_value for d in first.cards])
    uncorrected = run_compare(planted, "strong", "weak", n_bootstrap=200, rng_seed=3, correction="none")
    assert [d.p_adjusted for d in uncorrected.cards] == [d.p_value for d in uncorrected.cards]


def test_given_rows_with_different_seeds_then_only_common_seeds_are_paired(tmp_path):
    root, registry = planted_store(tmp_path, {"three": PLANTED["strong"]}, seeds=3)
    store = Store(tmp_path / "runs")
    units = store.units(suite="fixsig")
    store.close()
    # a second store with the same data under another label but one seed only
    root2, _ = planted_store(tmp_path / "other", {"one": PLANTED["weak"]}, seeds=1)
    other = Store(tmp_path / "other" / "runs")
    for unit in other.units(suite="fixsig"):
        # reuse the other predictions (paths are relative to their runs dir)
        src = tmp_path / "other" / "runs" / unit["predictions_path"]
        dst = tmp_path / "runs" / unit["predictions_path"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
        units.append(unit)
    other.close()
    suite = registry.suite("fixsig").suite
    cards = {e.card.name: e.card for e in registry.suite_cards("fixsig")}
    doc = compare(suite, cards, units, tmp_path / "runs", CompareRequest("three", "one", n_bootstrap=200))
    assert all(d.seeds == [0] for d in doc.cards)


def test_given_units_without_predictions_then_compare_says_so(tmp_path):
    planted_store(tmp_path, {"x": PLANTED["strong"], "y": PLANTED["weak"]}, seeds=1, n_test=50, with_predictions=False)
    store = Store(tmp_path / "runs")
    from tests.fixtures.report_store import SIG_SUITE, significance_cards, write_suite

    _, registry = write_suite(tmp_path / "cards", SIG_SUITE, significance_cards())
    suite, cards = definitions(registry, store, "fixsig")
    with pytest.raises(UserError, match="no per-example predictions were stored"):
        compare(suite, cards, store.units(suite="fixsig"), tmp_path / "runs", CompareRequest("x", "y", n_bootstrap=100))
    store.close()


def test_given_an_unknown_row_then_the_error_lists_the_rows(planted):
    with pytest.raises(UserError, match=r"no finished units of 'nope' in suite 'fixsig' \(rows: strong, twin, weak\)"):
        run_compare(planted, "nope", "weak")
    with pytest.raises(UserError, match="same row"):
        run_compare(planted, "weak", "weak")


def test_mcnemar_exact_below_25_discordant_pairs_and_chi_square_above():
    a = np.array([True] * 2 + [False] * 8 + [True] * 50)
    b = np.array([False] * 2 + [True] * 8 + [True] * 50)
    exact = mcnemar(a, b)
    assert (exact.b, exact.c, exact.method) == (2, 8, "exact")
    assert exact.p_value == pytest.approx(0.109375)  # 2 * P(X <= 2), X ~ Binomial(10, 1/2) = 2 * 56 / 1024
    a = np.array([True] * 30 + [False] * 10)
    b = np.array([False] * 30 + [True] * 10)
    chi = mcnemar(a, b)
    assert chi.method == "chi2" and chi.statistic == pytest.approx((20 - 1) ** 2 / 40)
    # chi-square with 1 degree of freedom: P(X > x) = erfc(sqrt(x / 2))
    assert chi.p_value == pytest.approx(math.erfc(math.sqrt(9.025 / 2)), rel=1e-12)
    assert mcnemar(a, a).p_value == 1.0


def test_holm_adjusts_stepwise_and_keeps_order():
    assert holm([0.01, 0.04, 0.03]) == [0.03, 0.06, 0.06]
    assert holm([0.5]) == [0.5]
    assert holm([0.2, 0.9]) == [0.4, 0.9]


def test_bootstrap_p_value_is_two_sided_and_never_zero():
    reps = np.linspace(1, 2, 999)  # every resample favours A
    result = bootstrap_summary(1.5, reps)
    assert result.p_value == pytest.approx(2 / 1000)
    assert result.ci95 == pytest.approx((np.percentile(reps, 2.5), np.percentile(reps, 97.5)))
    assert bootstrap_summary(0.0, np.linspace(-1, 1, 1001)).p_value == 1.0


def test_given_an_aggregate_split_without_predictions_then_the_card_still_compares_and_the_aggregate_says_why(tmp_path):
    from tests.fixtures.report_store import FixtureRuns, card_body, classification_records, planted_correct, write_suite

    suite = {"name": "fixsplit", "version": "1.0.0", "title": "split", "cards": ["fx-s"],
             "aggregate": {"name": "score", "components": [{"card": "fx-s", "splits": ["validation", "test"]}]}}
    root, registry = write_suite(tmp_path / "cards", suite, [card_body("fx-s")])
    runs = FixtureRuns(tmp_path / "runs", registry, "fixsplit")
    rng = np.random.default_rng(0)
    gold = list(rng.choice(["negative", "positive"], 200))
    for i, (label, acc) in enumerate((("x", 0.9), ("y", 0.6))):
        records = classification_records(rng, ["negative", "positive"], gold, planted_correct(rng, 200, acc), "test")
        runs.add("fx-s", label, 0, records=records)  # validation was never scored
    suite_def, cards = runs.suite, runs.cards
    units = runs.store.units()
    runs.close()
    doc = compare(suite_def, cards, units, tmp_path / "runs", CompareRequest("x", "y", n_bootstrap=200))
    (card,) = doc.cards
    assert card.delta == pytest.approx(30.0) and card.significant
    assert doc.aggregate is None
    (skip,) = doc.skipped
    assert skip.name == "aggregate" and "fx-s/validation: no stored predictions for this split" in skip.reason
