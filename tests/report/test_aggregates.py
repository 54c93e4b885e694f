"""Suite aggregates exactly as the suite cards define them, against hand-computed values."""

from __future__ import annotations

import math

import pytest

from polyglue.report.leaderboard import build
from tests.fixtures.report_store import FixtureRuns, card_body, write_suite

GLUE_LIKE = {
    "name": "fixglue",
    "version": "1.0.0",
    "title": "GLUE-like fixture",
    "cards": ["fx-cola", "fx-mrpc", "fx-mnli", "fx-stsb"],
    "aggregate": {
        "name": "GLUE score",
        "definition": "official",
        "components": [
            {"card": "fx-cola"},
            {"card": "fx-mrpc", "metrics": ["f1", "accuracy"]},
            {"card": "fx-mnli", "splits": ["validation", "validation_mismatched"]},
            {"card": "fx-stsb", "metrics": ["pearson", "spearman"]},
        ],
    },
}
GLUE_CARDS = [
    card_body("fx-cola", metrics_=["mcc"], main_metric="mcc", hidden_test=True),
    card_body("fx-mrpc", task="pair-classification", labels=["not_equivalent", "equivalent"], metrics_=["f1", "accuracy"],
              main_metric="f1", hidden_test=True),
    card_body("fx-mnli", task="pair-classification", labels=["entailment", "neutral", "contradiction"],
              extra_eval=("validation_mismatched",), hidden_test=True),
    card_body("fx-stsb", task="pair-classification", labels=None, metrics_=["pearson", "spearman"], main_metric="pearson",
              hidden_test=True) | {"task": "regression"},
]


def glue_metrics(cola, mrpc_f1, mrpc_acc, mnli_m, mnli_mm, pearson, spearman):
    return {
        "fx-cola": {"validation": {"mcc": cola}},
        "fx-mrpc": {"validation": {"f1": mrpc_f1, "accuracy": mrpc_acc}},
        "fx-mnli": {"validation": {"accuracy": mnli_m}, "validation_mismatched": {"accuracy": mnli_mm}},
        "fx-stsb": {"validation": {"pearson": pearson, "spearman": spearman}},
    }


@pytest.fixture
def glue_board(tmp_path):
    for card in GLUE_CARDS:
        if card["task"] == "regression":
            card["fields"].pop("sentence2", None)
    root, registry = write_suite(tmp_path / "cards", GLUE_LIKE, GLUE_CARDS)
    runs = FixtureRuns(tmp_path / "runs", registry, "fixglue")
    per_seed = {
        0: glue_metrics(0.50, 0.88, 0.84, 0.80, 0.82, 0.86, 0.84),
        1: glue_metrics(0.54, 0.90, 0.86, 0.81, 0.83, 0.88, 0.86),
    }
    for seed, cards in per_seed.items():
        for card, m in cards.items():
            runs.add(card, "bert", seed, metrics_=m)
    # a row that lacks MNLI: its aggregate cannot be computed
    for card, m in per_seed[0].items():
        if card != "fx-mnli":
            runs.add(card, "partial", 0, metrics_=m)
    units = runs.store.units()
    runs.close()
    return build(runs.suite, runs.cards, units)


def test_glue_score_averages_two_metric_tasks_and_mnli_matched_with_mismatched(glue_board):
    row = next(r for r in glue_board.rows if r.encoder == "bert")
    # seed 0: cola 50; mrpc (88 + 84) / 2 = 86; mnli (80 + 82) / 2 = 81; stsb (86 + 84) / 2 = 85 -> 302 / 4
    # seed 1: cola 54; mrpc 88; mnli 82; stsb 87 -> 311 / 4
    assert row.aggregate.values == pytest.approx([75.5, 77.75], abs=1e-9)
    assert row.aggregate.seeds == [0, 1]
    assert row.aggregate.mean == pytest.approx(76.625, abs=1e-9)
    sd = math.sqrt(((75.5 - 76.625) ** 2 + (77.75 - 76.625) ** 2) / 1)
    assert row.aggregate.ci95_half == pytest.approx(12.706204736174698 * sd / math.sqrt(2), rel=1e-9)
    # the card columns show each card's main metric on its report split (validation: test labels are hidden)
    assert row.cells["fx-mrpc"].values == pytest.approx([88.0, 90.0])
    assert row.cells["fx-mnli"].values == pytest.approx([80.0, 81.0])
    assert glue_board.columns[2] == "fx-mnli: accuracy on validation"
    assert glue_board.aggregate_name == "GLUE score" and glue_board.aggregate_definition == "official"


def test_given_a_row_missing_a_component_then_its_aggregate_is_missing_not_a_mean_of_fewer(glue_board):
    row = next(r for r in glue_board.rows if r.encoder == "partial")
    assert row.aggregate.values == []
    assert row.cells["fx-cola"].values == pytest.approx([50.0])
    assert glue_board.rows[-1].encoder == "partial"  # rows without an aggregate sort last


def test_clue_score_is_the_mean_of_six_tasks(tmp_path):
    names = [f"fx-clue{i}" for i in range(6)]
    suite = {"name": "fixclue", "version": "1.0.0", "title": "CLUE-like", "cards": names,
             "aggregate": {"name": "CLUE score", "definition": "official"}}
    root, registry = write_suite(tmp_path / "cards", suite, [card_body(n, hidden_test=True) for n in names])
    runs = FixtureRuns(tmp_path / "runs", registry, "fixclue")
    for name, acc in zip(names, [0.70, 0.60, 0.50, 0.80, 0.65, 0.75]):
        runs.add(name, "roberta", 0, metrics_={"validation": {"accuracy": acc}})
    board = build(runs.suite, runs.cards, runs.store.units())
    runs.close()
    assert board.rows[0].aggregate.values == pytest.approx([(70 + 60 + 50 + 80 + 65 + 75) / 6])


def test_superb_style_score_rescales_between_fbank_and_reference_and_scales_by_1000(tmp_path):
    suite = {
        "name": "fixsuperb", "version": "1.0.0", "title": "SUPERB-like", "cards": ["fx-ks", "fx-asr"],
        "aggregate": {"name": "SUPERB score", "definition": "official", "scale": 1000, "components": [
            {"card": "fx-ks", "rescale": {"low": 8.63, "high": 96.30}},
            {"card": "fx-asr", "rescale": {"low": 23.18, "high": 6.42}},
        ]},
    }
    cards = [
        card_body("fx-ks", task="keyword-spotting", labels=["yes", "no"], modality="speech", languages=("hin",), layout=True),
        card_body("fx-asr", task="asr", labels=None, metrics_=["wer", "cer"], main_metric="wer", modality="speech",
                  languages=("hin",), layout=True),
    ]
    root, registry = write_suite(tmp_path / "cards", suite, cards)
    runs = FixtureRuns(tmp_path / "runs", registry, "fixsuperb")
    runs.add("fx-ks", "fbank", 0, metrics_={"test": {"accuracy": 0.0863}, "validation": {"accuracy": 0.09}})
    runs.add("fx-asr", "fbank", 0, metrics_={"test": {"wer": 0.2318, "cer": 0.1}})
    runs.add("fx-ks", "w2v", 0, metrics_={"test": {"accuracy": 0.90}})
    runs.add("fx-asr", "w2v", 0, metrics_={"test": {"wer": 0.10, "cer": 0.05}})
    board = build(runs.suite, runs.cards, runs.store.units())
    runs.close()
    by = {r.encoder: r for r in board.rows}
    # ks: (90 - 8.63) / (96.30 - 8.63); asr (lower is better): (10 - 23.18) / (6.42 - 23.18)
    expected = 1000 * ((90 - 8.63) / (96.30 - 8.63) + (10 - 23.18) / (6.42 - 23.18)) / 2
    assert by["w2v"].aggregate.values == pytest.approx([expected], abs=1e-6)
    assert expected == pytest.approx(857.2679, abs=1e-4)
    assert by["fbank"].aggregate.values == pytest.approx([0.0], abs=1e-9)  # the baseline maps to 0


def test_given_no_aggregate_in_the_suite_then_a_plain_mean_labelled_as_polyglue_own(tmp_path):
    suite = {"name": "fixclub", "version": "1.0.0", "title": "CLUB-like", "cards": ["fx-a", "fx-b"]}
    root, registry = write_suite(tmp_path / "cards", suite, [card_body("fx-a"), card_body("fx-b", metrics_=["macro_f1"], main_metric="macro_f1")])
    runs = FixtureRuns(tmp_path / "runs", registry, "fixclub")
    runs.add("fx-a", "m", 0, metrics_={"test": {"accuracy": 0.9}})
    runs.add("fx-b", "m", 0, metrics_={"test": {"macro_f1": 0.6}})
    board = build(runs.suite, runs.cards, runs.store.units())
    runs.close()
    assert board.aggregate_name == "mean (polyglue)" and board.aggregate_definition == "polyglue"
    assert board.rows[0].aggregate.values == pytest.approx([75.0])


def test_units_of_an_edited_card_are_stale_and_not_mixed_in(tmp_path):
    suite = {"name": "fixstale", "version": "1.0.0", "title": "stale", "cards": ["fx-s"]}
    root, registry = write_suite(tmp_path / "cards", suite, [card_body("fx-s")])
    runs = FixtureRuns(tmp_path / "runs", registry, "fixstale")
    runs.add("fx-s", "m", 0, metrics_={"test": {"accuracy": 0.9}})
    units = runs.store.units()
    runs.close()
    root, registry = write_suite(tmp_path / "cards", suite, [card_body("fx-s", title="edited title")])
    edited = {e.card.name: e.card for e in registry.suite_cards("fixstale")}
    board = build(registry.suite("fixstale").suite, edited, units)
    assert board.rows == [] and board.stale == 1
