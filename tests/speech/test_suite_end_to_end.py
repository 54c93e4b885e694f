"""Every IndicSUPERB card, end to end through `bench run`, with fbank and a tiny random wav2vec2.

One suite run (session fixture `suite_run`: 2 languages of the 12, `--max-steps 2
--limit 3`, ASR `--max-steps 1 --limit 2`) is inspected from several angles: results
layout per language, what the runners chose, and whether the prediction records are
enough to replay every metric.
"""

from __future__ import annotations

import numpy as np
import pytest

from polyglue import metrics
from polyglue.cards.registry import Registry

CARDS = ["indicsuperb-asr", "indicsuperb-asv", "indicsuperb-sid", "indicsuperb-sid-multi", "indicsuperb-lid", "indicsuperb-ks", "indicsuperb-qbe"]
ENCODERS = ["fbank", "w2v"]
PER_LANGUAGE = {"indicsuperb-asr": "wer", "indicsuperb-asv": "eer", "indicsuperb-sid": "accuracy"}
ALL_LANGUAGES = {"bn", "gu", "hi", "kn", "ml", "mr", "or", "pa", "sa", "ta", "te", "ur"}


@pytest.fixture(scope="module")
def cards():
    reg = Registry.discover()
    return {name: reg.card(name).card for name in CARDS}


def test_given_a_two_language_corpus_when_the_suite_runs_then_every_unit_finishes(suite_run):
    assert suite_run.code == 0, suite_run.err
    assert {(c, e) for c in CARDS for e in ENCODERS} <= set(suite_run.units)
    assert all(u["status"] == "done" for u in suite_run.units.values())


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("card", CARDS)
def test_every_scored_split_has_the_cards_metrics(suite_run, cards, card, encoder):
    unit = suite_run.units[(card, encoder)]
    spec = cards[card]
    assert set(unit["metrics"]) == set(spec.splits.scored_roles())
    for role, values in unit["metrics"].items():
        assert set(spec.metrics) <= set(values)
        for name in spec.metrics:
            assert 0.0 <= values[name] <= (np.inf if name in ("wer", "cer") else 1.0)  # error rates can pass 1


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("card", sorted(PER_LANGUAGE))
def test_per_language_cards_report_each_language_and_their_mean(suite_run, card, encoder):
    unit = suite_run.units[(card, encoder)]
    metric = PER_LANGUAGE[card]
    for role, values in unit["metrics"].items():
        assert values[metric] == pytest.approx((values[f"{metric}@hi"] + values[f"{metric}@ta"]) / 2)
    languages = unit["extras"]["languages"]
    assert languages["present"] == ["hi", "ta"]
    assert set(languages["missing"]) == ALL_LANGUAGES - {"hi", "ta"}
    assert set(unit["extras"]["selection"]) == {"hi", "ta"}


@pytest.mark.parametrize("encoder", ENCODERS)
def test_language_id_scores_over_the_languages_present_only(suite_run, encoder):
    unit = suite_run.units[("indicsuperb-lid", encoder)]
    selection = unit["extras"]["selection"]["all"]
    assert selection["classes"] == 2
    preds = suite_run.predictions("indicsuperb-lid", encoder)
    assert {p["pred"] for p in preds} <= {"hi", "ta"}
    assert {p["gold"] for p in preds} == {"hi", "ta"}


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("card", [c for c in CARDS if c != "indicsuperb-qbe"])
def test_trained_heads_record_layer_weights_learning_rate_and_steps(suite_run, card, encoder):
    layers = 1 if encoder == "fbank" else 3
    for choice in suite_run.units[(card, encoder)]["extras"]["selection"].values():
        assert len(choice["layer_weights"]) == layers
        assert sum(choice["layer_weights"]) == pytest.approx(1.0, abs=1e-4)
        steps = 1 if card == "indicsuperb-asr" else 2
        assert choice["learning_rate"] == 1e-4  # the card's rate (no grid in the IndicSUPERB cards)
        assert choice["steps"] == steps  # --max-steps caps the recipe's 200k/400k steps
        assert 1 <= choice["best_step"] <= steps


@pytest.mark.parametrize("encoder", ENCODERS)
def test_qbe_chooses_the_best_validation_layer_and_reports_it_on_test(suite_run, encoder):
    unit = suite_run.units[("indicsuperb-qbe", encoder)]
    selection = unit["extras"]["selection"]
    by_layer = {int(k): v for k, v in selection["validation_by_layer"].items()}
    assert len(by_layer) == (1 if encoder == "fbank" else 3)
    assert by_layer[selection["chosen"]] == max(by_layer.values())
    assert unit["metrics"]["validation"]["mtwv"] == pytest.approx(by_layer[selection["chosen"]])


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("card", CARDS)
def test_prediction_records_replay_every_metric(suite_run, cards, card, encoder):
    """The reports engineer recomputes metrics (bootstrap) from the records alone."""
    unit = suite_run.units[(card, encoder)]
    records = suite_run.predictions(card, encoder)
    spec = cards[card]
    assert {"split", "id", "gold", "pred", "language"} <= set(records[0])
    for role, stored in unit["metrics"].items():
        rows = [r for r in records if r["split"] == role]
        assert len({r["id"] for r in rows}) == len(rows)
        groups = {None: rows}
        if card in PER_LANGUAGE:
            groups = {lang: [r for r in rows if r["language"] == lang] for lang in ("hi", "ta")}
        for lang, subset in groups.items():
            gold = [r["gold"] for r in subset]
            if spec.task == "query-by-example":
                value = metrics.compute(spec.metrics, gold, [r["score"] for r in subset], queries=[r["query"] for r in subset])
            elif spec.task == "speaker-verification":
                value = metrics.compute(spec.metrics, gold, [r["score"] for r in subset])
            else:
                value = metrics.compute(spec.metrics, gold, [r["pred"] for r in subset])
            for name, v in value.items():
                key = name if lang is None else f"{name}@{lang}"
                assert stored[key] == pytest.approx(v, abs=1e-6), (role, key)


def test_sid_multi_pools_languages_with_the_official_raw_speaker_ids(suite_run):
    records = suite_run.predictions("indicsuperb-sid-multi", "fbank")
    assert all("/" not in r["gold"] for r in records)  # indic_sid_multi: the raw id of the file name (speaker_ids: raw)
    metrics_ = suite_run.units[("indicsuperb-sid-multi", "fbank")]["metrics"]["test"]
    hi = [r for r in records if r["split"] == "test" and r["language"] == "hi"]
    assert metrics_["accuracy@hi"] == pytest.approx(np.mean([r["gold"] == r["pred"] for r in hi]))


def test_asv_records_hold_trial_labels_and_cosine_scores(suite_run):
    records = suite_run.predictions("indicsuperb-asv", "w2v")
    assert {r["gold"] for r in records} == {0, 1}
    assert all(-1.0 <= r["score"] <= 1.0 for r in records)
    assert all(r["pred"] in (0, 1) for r in records)  # decisions at the validation EER threshold


def test_feature_cache_is_shared_across_cards_of_the_same_upstream(suite_run):
    """Later cards reuse what earlier ones extracted: by the time SID-multi runs, all its utterances are cached.

    ASV's audio goes through the sox effects first, so its features live in another namespace.
    """
    asv = suite_run.units[("indicsuperb-asv", "fbank")]["extras"]
    sid = suite_run.units[("indicsuperb-sid", "fbank")]["extras"]["features"]
    multi = suite_run.units[("indicsuperb-sid-multi", "fbank")]["extras"]["features"]
    assert asv["features"]["computed"] > 0 and sid["computed"] > 0
    assert multi["computed"] == 0 and multi["forward_calls"] == 0 and multi["cached"] > 0
    assert multi["namespace"] == sid["namespace"] != asv["features"]["namespace"]
    assert asv["audio_effects"]["sox"][1][0] == "silence" and asv["head"] == "indic_asv"
    assert asv["selection"]["hi"]["checkpoints"] and asv["comparability"]["deviations"]
