"""Sharing results: the run file, LaTeX tables and model-card metadata, each read back by its consumer."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.core_suite import write_suite


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One real bow run (2 seeds) on the generated core suite, plus a debug (--limit) run of another label."""
    from polyglue.cli import main

    root = tmp_path_factory.mktemp("share")
    cards = write_suite(root / "s", n_cards=1)
    runs = root / "runs"
    assert main(["run", "--suite", "core", "--cards", str(cards), "--model", "bow", "--runs-dir", str(runs), "--seeds", "2", "--quiet"]) == 0
    first = json.loads((runs / "results.json").read_text())
    assert main(["run", "--suite", "core", "--cards", str(cards), "--model", "quick=bow", "--limit", "30", "--runs-dir", str(runs), "--quiet"]) == 0
    return cards, runs, first


def test_given_a_run_then_results_json_describes_it_and_validates_against_its_schema(finished):
    import jsonschema

    from polyglue.runs import runfile

    _, runs, doc = finished
    jsonschema.validate(doc, runfile.json_schema())
    assert doc["schema"] == "polyglue.results" and doc["schema_version"] == "1.0"
    assert doc["argv"][:4] == ["bench", "run", "--suite", "core"] and doc["status"] == "done"
    assert doc["suite"]["name"] == "core" and len(doc["suite"]["content_hash"]) == 64
    assert {c["name"] for c in doc["cards"]} == {"core-sent0", "core-sim"}
    assert doc["seeds"] == [0, 1] and doc["summary"] == {"total": 4, "done": 4, "reused": 0, "failed": 0}
    unit = next(u for u in doc["units"] if u["card"] == "core-sent0" and u["seed"] == 1)
    assert set(unit["metrics"]) == {"validation", "test"} and set(unit["metrics"]["test"]) == {"accuracy", "f1"}
    assert unit["settings"]["name"] == "probe" and unit["settings"]["max_length"] == 128
    assert unit["comparability"] == {"comparable": True, "debug": False, "reasons": [], "overrides": [], "deviations": []}
    assert unit["duration_s"] > 0 and unit["timings"]["total_s"] > 0 and unit["predictions_path"]
    assert doc["environment"]["packages"]["polyglue"] and doc["environment"]["python"]
    # The store agrees with the file, and the archived copy is the same run.
    import sqlite3

    stored = sqlite3.connect(runs / "polyglue.sqlite").execute(
        "SELECT metrics_json FROM units WHERE key = ?", (unit["key"],)).fetchone()[0]
    assert json.loads(stored) == unit["metrics"]
    assert runfile.read(runs / "results" / f"{doc['run_id']}.json").run_id == doc["run_id"]


def test_given_a_second_run_then_results_json_marks_debug_units_and_the_first_file_is_kept(finished):
    _, runs, first = finished
    latest = json.loads((runs / "results.json").read_text())
    assert latest["run_id"] != first["run_id"]
    assert all(u["model"] == "quick" and u["comparability"]["debug"] for u in latest["units"])
    assert "--limit 30: a debug run, not the full unit" in latest["units"][0]["comparability"]["reasons"]
    assert (runs / "results" / f"{first['run_id']}.json").exists()


def test_given_latex_format_then_a_booktabs_table_with_mean_ci_and_dagger_for_debug_rows(finished, cli):
    cards, runs, _ = finished
    hidden = cli("report", "--suite", "core", "--cards", cards, "--runs-dir", runs, "--format", "latex")
    assert hidden.code == 0 and "quick" not in hidden.out  # debug units are no results unless asked for
    result = cli("report", "--suite", "core", "--cards", cards, "--runs-dir", runs, "--format", "latex", "--include-debug")
    assert result.code == 0, result.err
    text = result.out
    for piece in ("\\begin{tabular}{llrrr}", "\\toprule", "\\midrule", "\\bottomrule", "\\end{table}", "\\label{tab:polyglue-core}"):
        assert piece in text
    bow = next(line for line in text.splitlines() if line.startswith("bow &"))
    cells = [c.strip() for c in bow.rstrip("\\ ").split("&")]
    assert cells[1] == "probe" and all(c.startswith("$") and "\\pm" in c for c in cells[2:])  # 2 seeds: mean ± CI
    quick = next(line for line in text.splitlines() if line.startswith("quick$^\\dagger$ &"))
    assert "\\pm" not in quick  # one seed: no interval, never ±0
    assert "not comparable with published rows" in text
    from polyglue.report.latex import tex

    assert tex("a_b&c%$#{}~^\\") == "a\\_b\\&c\\%\\$\\#\\{\\}\\textasciitilde{}\\textasciicircum{}\\textbackslash{}"


def test_given_model_index_then_huggingface_hub_parses_it_back_with_the_same_values(finished, cli, tmp_path):
    import sqlite3

    from huggingface_hub import metadata_load
    from huggingface_hub.repocard_data import model_index_to_eval_results

    cards, runs, _ = finished
    out = tmp_path / "README.md"
    result = cli("report", "--suite", "core", "--cards", cards, "--runs-dir", runs, "--format", "model-index",
                 "--model", "bow", "--source-url", "https://example.org/results", "--out", out)
    assert result.code == 0, result.err
    name, results = model_index_to_eval_results(metadata_load(out)["model-index"])
    assert name == "bow"
    by_key = {(r.dataset_name, r.metric_type): r for r in results}
    assert set(by_key) == {("Test card core-sent0", "accuracy"), ("Test card core-sent0", "f1"),
                           ("Test card core-sim", "spearman"), ("Test card core-sim", "pearson")}
    acc = by_key[("Test card core-sent0", "accuracy")]
    conn = sqlite3.connect(runs / "polyglue.sqlite")
    stored = [json.loads(m)["test"]["accuracy"] for (m,) in conn.execute(
        "SELECT metrics_json FROM units WHERE card = 'core-sent0' AND encoder = 'bow'")]
    assert acc.metric_value == pytest.approx(100 * sum(stored) / len(stored), abs=1e-4)
    assert acc.task_type == "text-classification" and acc.dataset_split == "test" and acc.dataset_revision == "local"
    assert acc.source_name.startswith("polyglue ") and "2 seed(s)" in acc.source_name
    assert acc.source_url == "https://example.org/results"


def test_given_a_not_comparable_row_then_model_index_refuses_unless_asked(finished, cli):
    cards, runs, _ = finished
    base = ("report", "--suite", "core", "--cards", cards, "--runs-dir", runs, "--format", "model-index", "--model", "quick",
            "--source-url", "https://example.org/r")
    refused = cli(*base)
    assert refused.code == 2 and "not comparable: --limit 30" in refused.err and "--include-not-comparable" in refused.err
    forced = cli(*base, "--include-not-comparable")
    assert forced.code == 0 and "NOT COMPARABLE: --limit 30" in forced.out
    missing = cli("report", "--suite", "core", "--cards", cards, "--runs-dir", runs, "--format", "model-index")
    assert missing.code == 2 and "needs --model" in missing.err


def test_the_documented_run_file_schema_is_the_one_the_models_generate():
    from pathlib import Path

    from polyglue.runs import runfile

    doc = Path(__file__).resolve().parents[2] / "docs" / "results-schema-v1.json"
    assert json.loads(doc.read_text()) == runfile.json_schema(), "regenerate: python -m polyglue.runs.runfile > docs/results-schema-v1.json"
