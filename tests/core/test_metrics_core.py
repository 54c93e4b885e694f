"""Foundation metrics against independent computations on randomised inputs."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.interpolate import interp1d
from scipy.optimize import brentq
from sklearn.metrics import roc_curve

from polyglue import metrics
from polyglue.cards import vocab


def test_every_metric_a_card_may_name_has_an_implementation():
    assert metrics.implemented() == set(vocab.METRICS)


@pytest.mark.parametrize("seed", range(5))
def test_classification_metrics_match_their_definitions(seed):
    rng = np.random.default_rng(seed)
    gold, pred = rng.integers(0, 2, 200), rng.integers(0, 2, 200)
    got = metrics.compute(["accuracy", "f1", "mcc"], gold, pred)
    tp, tn = np.sum((gold == 1) & (pred == 1)), np.sum((gold == 0) & (pred == 0))
    fp, fn = np.sum((gold == 0) & (pred == 1)), np.sum((gold == 1) & (pred == 0))
    assert got["accuracy"] == pytest.approx((tp + tn) / 200)
    assert got["f1"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    mcc = (tp * tn - fp * fn) / np.sqrt(float((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn)))
    assert got["mcc"] == pytest.approx(mcc)


def test_correlations_and_the_club_combined_score():
    gold = np.array([0.0, 1.0, 2.0, 3.0, 4.0])
    pred = np.array([0.1, 0.9, 2.5, 2.4, 5.0])
    got = metrics.compute(["pearson", "spearman", "pearson_spearman_mean"], gold, pred)
    assert got["spearman"] == pytest.approx(0.9)  # one swapped pair among five ranks: 1 - 6*2/(5*24)
    assert got["pearson"] == pytest.approx(np.corrcoef(gold, pred)[0, 1])
    assert got["pearson_spearman_mean"] == pytest.approx((got["pearson"] + got["spearman"]) / 2)
    assert metrics.compute(["pearson"], gold, np.ones(5))["pearson"] == 0.0


@pytest.mark.parametrize("seed", range(5))
def test_eer_matches_the_brentq_reference_used_by_s3prl(seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, 500)
    scores = rng.normal(size=500) + labels * rng.uniform(0.5, 2.0)
    fpr, tpr, _ = roc_curve(labels, scores, pos_label=1)
    reference = brentq(lambda x: 1.0 - x - interp1d(fpr, tpr)(x), 0.0, 1.0)
    assert metrics.compute(["eer"], labels, scores)["eer"] == pytest.approx(reference, abs=1e-6)


def test_min_dcf_matches_a_threshold_sweep():
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 2, 300)
    scores = rng.normal(size=300) + labels
    best = np.inf
    for t in np.concatenate([[np.inf], np.sort(scores)[::-1]]):
        accept = scores >= t
        p_miss = np.mean(~accept[labels == 1])
        p_fa = np.mean(accept[labels == 0])
        best = min(best, (0.01 * p_miss + 0.99 * p_fa) / 0.01)
    assert metrics.compute(["min_dcf"], labels, scores)["min_dcf"] == pytest.approx(best)
