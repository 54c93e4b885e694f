"""Leaderboard formats: Markdown, CSV, JSON (validated against the documented schema), references and deltas."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest

from polyglue.errors import UserError
from polyglue.report import formats
from polyglue.report.leaderboard import build
from polyglue.report.schema import SCHEMA_VERSION, json_schema
from tests.fixtures.report_store import ENV, FixtureRuns, card_body, write_suite

REPO = Path(__file__).resolve().parents[2]

SUITE = {
    "name": "fixref",
    "version": "2.1.0",
    "title": "Reference fixture",
    "cards": ["fx-ner", "fx-tc"],
    "aggregate": {"name": "mean", "definition": "polyglue", "description": "Unweighted mean of the main metrics."},
    "references": [
        {"model": "mBERT", "source": "Paper, Table 2", "split": "test", "scores": {"fx-ner": 86.38, "fx-tc.accuracy": 70.56}},
        {"model": "BERTa", "source": "README commit 9ef4dd1", "split": "validation", "scores": {"fx-ner": 89.63, "fx-tc": 74.04},
         "aggregate": 81.0},
    ],
}


def cards():
    return [
        card_body("fx-ner", task="token-classification", labels=["O", "B-PER", "I-PER"], metrics_=["seqeval_f1"], main_metric="seqeval_f1"),
        card_body("fx-tc"),
    ]


@pytest.fixture
def board(tmp_path):
    root, registry = write_suite(tmp_path / "cards", SUITE, cards())
    runs = FixtureRuns(tmp_path / "runs", registry, "fixref")
    for seed, (ner, tc) in enumerate([(0.86, 0.70), (0.88, 0.72), (0.87, 0.74)]):
        runs.add("fx-ner", "hf:org/mbert", seed, metrics_={"test": {"seqeval_f1": ner}})
        runs.add("fx-tc", "hf:org/mbert", seed, metrics_={"test": {"accuracy": tc}})
    runs.add("fx-tc", "bow", 0, metrics_={"test": {"accuracy": 0.5}})
    units = runs.store.units()
    runs.close()
    return build(runs.suite, runs.cards, units)


def test_reference_rows_show_published_values_and_a_computed_aggregate_is_marked(board):
    refs = {r.model: r for r in board.references}
    assert refs["mBERT"].cells == {"fx-ner": 86.38, "fx-tc": 70.56}
    assert refs["mBERT"].aggregate == pytest.approx((86.38 + 70.56) / 2) and refs["mBERT"].aggregate_source == "computed"
    assert refs["BERTa"].aggregate == 81.0 and refs["BERTa"].aggregate_source == "published"


def test_rows_whose_names_agree_get_deltas_against_the_published_row(board):
    (delta,) = board.deltas  # `hf:org/mbert` pairs with `mBERT`; `bow` pairs with nothing
    assert (delta.model, delta.reference) == ("hf:org/mbert", "mBERT")
    assert delta.cells["fx-ner"] == pytest.approx(87.0 - 86.38)
    assert delta.cells["fx-tc"] == pytest.approx(72.0 - 70.56)
    assert delta.aggregate == pytest.approx((87.0 + 72.0) / 2 - (86.38 + 70.56) / 2)
    assert delta.split_mismatch == []


def test_an_explicit_match_pairs_any_row_and_flags_a_split_mismatch(tmp_path, board):
    from polyglue.report.references import deltas

    (d,) = deltas(board, {"hf:org/mbert": "BERTa"})
    assert d.reference == "BERTa" and d.split_mismatch == ["fx-ner", "fx-tc"]  # measured on test, published on validation
    with pytest.raises(UserError, match="no reference row 'XLM-R'"):
        deltas(board, {"bow": "XLM-R"})
    with pytest.raises(UserError, match="no measured row 'ghost'"):
        deltas(board, {"ghost": "BERTa"})


def test_markdown_has_measured_published_and_delta_rows_with_notes(board):
    text = formats.leaderboard_markdown(board)
    lines = text.splitlines()
    assert lines[0] == "### Reference fixture (`fixref` v2.1.0)"
    assert lines[2] == "| model | protocol | mean (polyglue) | fx-ner | fx-tc |"
    assert lines[4] == "| hf:org/mbert | probe | 79.50 ± 3.29 | 87.00 ± 2.48 | 72.00 ± 4.97 |"
    assert lines[5] == "| bow | probe | – | – | 50.00 |"
    assert lines[6] == "| *mBERT* (published) | – | 78.47¹ | 86.38 | 70.56 |"
    assert lines[8] == "| Δ hf:org/mbert − *mBERT* | probe | +1.03 | +0.62 | +1.44 |"
    assert "Values: mean over 1–3 seed(s) ± 95% confidence half-width (Student t over seeds)" in text
    assert "Aggregate: mean (polyglue) — polyglue's own score, not an official one: Unweighted mean of the main metrics." in text
    assert "¹ Aggregate not published; computed from the row's scores with the suite's rule." in text


def test_csv_has_one_tidy_line_per_number_with_per_seed_values(board):
    rows = list(csv.DictReader(io.StringIO(formats.leaderboard_csv([board]))))
    ner = next(r for r in rows if r["kind"] == "measured" and r["model"] == "hf:org/mbert" and r["column"] == "fx-ner")
    assert (ner["metric"], ner["split"], ner["n_seeds"], ner["seeds"]) == ("seqeval_f1", "test", "3", "0;1;2")
    assert [float(v) for v in ner["values"].split(";")] == pytest.approx([86.0, 88.0, 87.0])
    assert float(ner["mean"]) == pytest.approx(87.0) and float(ner["std"]) == pytest.approx(1.0)
    assert float(ner["ci95_high"]) - float(ner["mean"]) == pytest.approx(4.302652729749464 / 3**0.5)
    ref = next(r for r in rows if r["kind"] == "reference" and r["model"] == "BERTa" and r["column"] == "aggregate")
    assert (float(ref["mean"]), ref["reference"], ref["split"]) == (81.0, "README commit 9ef4dd1", "validation")
    assert sum(r["kind"] == "delta" for r in rows) == 3  # aggregate + two cards
    assert len(rows) == 2 * 3 + 2 * 3 + 3


def test_json_follows_the_versioned_schema_and_carries_provenance(board):
    doc = json.loads(formats.leaderboard_json([board]))
    jsonschema.validate(doc, json_schema())
    assert doc["schema"] == "polyglue.report.leaderboard" and doc["schema_version"] == SCHEMA_VERSION
    suite = doc["suites"][0]
    assert (suite["name"], suite["version"], suite["seeds"]) == ("fixref", "2.1.0", [0, 1, 2])
    ner = next(c for c in suite["cards"] if c["name"] == "fx-ner")
    assert (ner["version"], ner["dataset_revisions"], ner["report_split"], ner["display"]) == ("1.0.0", ["local"], "test", "percent")
    row = next(r for r in suite["rows"] if r["model"] == "hf:org/mbert")
    assert row["cells"]["fx-tc"]["values"] == pytest.approx([70.0, 72.0, 74.0]) and row["cells"]["fx-tc"]["seeds"] == [0, 1, 2]
    # per-seed aggregates 78, 80, 80.5: sd sqrt(1.75)
    half = 4.302652729749464 * 1.75**0.5 / 3**0.5
    assert row["aggregate"]["values"] == pytest.approx([78.0, 80.0, 80.5])
    assert row["aggregate"]["ci95"] == pytest.approx([79.5 - half, 79.5 + half])
    (env,) = suite["environments"]
    assert env["packages"] == ENV["packages"] and env["units"] == 7 and env["polyglue_git"] == "0123abc"
    assert suite["aggregate"]["definition"] == "polyglue"


def test_the_documented_schema_file_is_the_generated_one():
    committed = json.loads((REPO / "docs" / "report-schema-v1.json").read_text(encoding="utf-8"))
    assert committed == json.loads(json.dumps(json_schema())), "regenerate: python -m polyglue.report.schema > docs/report-schema-v1.json"


def test_a_document_that_breaks_the_schema_is_rejected(board):
    doc = json.loads(formats.leaderboard_json([board]))
    doc["suites"][0]["rows"][0]["cells"]["fx-tc"].pop("ci95")
    with pytest.raises(jsonschema.ValidationError, match="ci95"):
        jsonschema.validate(doc, json_schema())


def test_the_first_leaderboard_entry_point_renders_the_same_markdown(board):
    from polyglue.report.leaderboard import render_markdown

    assert render_markdown(board) == formats.leaderboard_markdown(board)
