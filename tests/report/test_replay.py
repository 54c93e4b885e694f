"""Replayed metrics: on any resample, the fast per-example statistics give what `metrics.compute` gives."""

from __future__ import annotations

import numpy as np
import pytest

from polyglue import metrics
from polyglue.cards.schema import Card
from polyglue.errors import DataError
from polyglue.report.replay import MetricReplay, PairedSplit
from tests.fixtures.report_store import card_body

RNG_SEED = 7


def _card(**kw) -> Card:
    body = card_body("fx-replay", **kw)
    if body["task"] in ("regression", "extractive-qa", "asr"):
        body.pop("labels", None)
    if body["task"] == "regression":
        body["fields"] = {"idx": "id", "sentence": "text", "label": "label"}
    if body["task"] == "extractive-qa":
        body["fields"] = {"id": "id", "context": "context", "question": "question", "answers": "answers"}
    return Card.model_validate(body)


def _resamples(n: int, count: int = 25):
    rng = np.random.default_rng(RNG_SEED)
    return [rng.integers(0, n, n) for _ in range(count)]


def _assert_matches_compute(card, metric, gold, pred, context=None, count=25):
    replay = MetricReplay(card, metric, gold, pred, kit=(context or {}).get("kit"))
    assert replay.kind != "generic", "this metric should have a fast path"
    for idx in _resamples(len(gold), count):
        g, p = [replay.gold[i] for i in idx], [replay.pred[i] for i in idx]
        expected = metrics.compute([metric], g, p, **(context or {}))[metric]
        assert replay.on(idx) == pytest.approx(expected, abs=1e-12), metric
    assert replay.full() == pytest.approx(metrics.compute([metric], replay.gold, replay.pred, **(context or {}))[metric], abs=1e-12)


@pytest.mark.parametrize("metric", ["accuracy", "f1", "macro_f1", "mcc"])
def test_binary_confusion_metrics_match_scikit_learn_on_resamples(metric):
    rng = np.random.default_rng(1)
    labels = ["not_equivalent", "equivalent"]
    gold = list(rng.choice(labels, 120))
    pred = [g if rng.random() < 0.7 else rng.choice(labels) for g in gold]
    card = _card(task="pair-classification", labels=labels, metrics_=["accuracy", "f1", "macro_f1", "mcc"])
    _assert_matches_compute(card, metric, gold, pred)


@pytest.mark.parametrize("metric", ["accuracy", "macro_f1", "mcc"])
def test_three_class_confusion_metrics_match_scikit_learn_on_resamples(metric):
    rng = np.random.default_rng(2)
    labels = ["entailment", "neutral", "contradiction"]
    gold = list(rng.choice(labels, 90))
    pred = [g if rng.random() < 0.5 else rng.choice(labels[:2]) for g in gold]  # never predicts one class
    card = _card(task="pair-classification", labels=labels, metrics_=["accuracy", "macro_f1", "mcc"])
    _assert_matches_compute(card, metric, gold, pred)


@pytest.mark.parametrize("metric", ["squad_em", "squad_f1"])
def test_squad_metrics_match_on_resamples(metric):
    from polyglue.langkits.kits import CatalanKit

    golds = [["la casa blava", "casa blava"], ["en Pere"], ["tres gats"], ["el riu"], ["dimarts"]] * 8
    preds = ["casa blava", "Pere", "dos gats", "un riu", "dilluns"] * 8
    _assert_matches_compute(_card(task="extractive-qa", labels=None, metrics_=["squad_em", "squad_f1"], main_metric="squad_f1"),
                            metric, golds, preds, {"kit": CatalanKit()})


def test_token_accuracy_and_seqeval_f1_match_on_resamples():
    rng = np.random.default_rng(3)
    tags = ["O", "B-PER", "I-PER", "B-LOC"]
    gold = [list(rng.choice(tags, rng.integers(2, 8))) for _ in range(60)]
    pred = [[t if rng.random() < 0.8 else str(rng.choice(tags)) for t in sent] for sent in gold]
    gold = [[str(t) for t in s] for s in gold]
    card = _card(task="token-classification", labels=tags, metrics_=["seqeval_f1", "token_accuracy"], main_metric="seqeval_f1")
    for metric in ("token_accuracy", "seqeval_f1"):
        _assert_matches_compute(card, metric, gold, pred)


@pytest.mark.parametrize("metric", ["wer", "cer"])
def test_wer_and_cer_match_jiwer_on_resamples(metric):
    gold = ["ek do teen", "char paanch", "chhe saat aath nau", "das"] * 10
    pred = ["ek do", "char paanch chhe", "chhe saat aat nau", "das"] * 10
    card = _card(task="asr", labels=None, metrics_=["wer", "cer"], main_metric="wer", modality="speech", languages=("hin",), layout=True)
    _assert_matches_compute(card, metric, gold, pred)


def test_per_language_speech_metric_is_the_mean_over_languages_present():
    card = _card(task="asr", labels=None, metrics_=["wer", "cer"], main_metric="wer", modality="speech", languages=("hin", "tam"), layout=True)
    gold = ["a b c d", "a b", "x y", "x y z w"]
    pred = ["a b c d", "a c", "x", "x y z w"]
    language = ["hi", "hi", "ta", "ta"]
    replay = MetricReplay(card, "wer", gold, pred, language)
    hi = metrics.compute(["wer"], gold[:2], pred[:2])["wer"]  # 1 error / 6 words
    ta = metrics.compute(["wer"], gold[2:], pred[2:])["wer"]  # 1 error / 6 words
    assert replay.full() == pytest.approx((hi + ta) / 2)
    assert replay.full() != pytest.approx(metrics.compute(["wer"], gold, pred)["wer"] + 0.05)
    # a resample with only Hindi examples scores Hindi alone
    assert replay.on(np.array([0, 1, 1])) == pytest.approx(metrics.compute(["wer"], [gold[0], gold[1], gold[1]], [pred[0], pred[1], pred[1]])["wer"])


@pytest.mark.parametrize("metric", ["pearson", "spearman", "pearson_spearman_mean"])
def test_correlations_match_scipy_on_resamples(metric):
    rng = np.random.default_rng(4)
    gold = list(np.round(rng.uniform(0, 5, 50), 1))  # rounded: ties, as STS gold scores have
    pred = [float(g + rng.normal(0, 1)) for g in gold]
    card = _card(task="regression", labels=None, metrics_=["pearson", "spearman", "pearson_spearman_mean"], main_metric="pearson")
    _assert_matches_compute(card, metric, gold, pred)
    # constant predictions carry no rank information: 0, as polyglue.metrics says
    assert MetricReplay(card, metric, gold, [1.0] * 50).on(np.arange(50)) == 0.0


def test_verification_metrics_call_compute_on_each_resample():
    rng = np.random.default_rng(5)
    gold = list(rng.integers(0, 2, 80))
    scores = [float(g + rng.normal(0, 0.8)) for g in gold]
    card = _card(task="speaker-verification", labels=None, metrics_=["eer"], main_metric="eer", modality="speech",
                 languages=("hin",), layout=True)
    replay = MetricReplay(card, "eer", gold, scores)
    idx = _resamples(80, 1)[0]
    assert replay.kind == "generic"
    assert replay.on(idx) == pytest.approx(metrics.compute(["eer"], [gold[i] for i in idx], [scores[i] for i in idx])["eer"])


def test_given_predictions_of_different_examples_then_pairing_fails_with_a_clear_message():
    card = _card()
    recs_a = [{"split": "test", "id": str(i), "gold": "positive", "pred": "positive"} for i in range(5)]
    recs_b = [{"split": "test", "id": str(i), "gold": "positive", "pred": "negative"} for i in range(1, 6)]
    with pytest.raises(DataError, match="scored on other examples"):
        PairedSplit(card, "test", {("a", 0): recs_a, ("b", 0): recs_b})


def test_given_another_gold_for_the_same_id_then_pairing_fails():
    card = _card()
    recs_a = [{"split": "test", "id": "1", "gold": "positive", "pred": "positive"}]
    recs_b = [{"split": "test", "id": "1", "gold": "negative", "pred": "negative"}]
    with pytest.raises(DataError, match="another gold value"):
        PairedSplit(card, "test", {("a", 0): recs_a, ("b", 0): recs_b})


def test_given_a_label_the_card_does_not_know_then_replay_says_so():
    with pytest.raises(DataError, match="not among the card's labels"):
        MetricReplay(_card(), "accuracy", ["positive"], ["maybe"])
