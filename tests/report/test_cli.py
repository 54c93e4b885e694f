"""`bench report` and `bench compare` through the real entry point: formats, real runs, one-line errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.fixtures.report_store import planted_store

DEMO_TASKS = "demo-cat-sentiment,demo-ell-nli,demo-zho-sts"


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    """Two rows from real `bench run --model bow` units (the second under another protocol setting) on small generated data."""
    from polyglue.cli import main
    from polyglue.demo.generate import write_demo_suite

    root = tmp_path_factory.mktemp("real")
    cards = write_demo_suite(root, sizes={"train": 80, "validation": 40, "test": 40})
    runs = root / "runs"
    common = ["run", "--suite", "demo", "--tasks", DEMO_TASKS, "--cards", str(cards), "--runs-dir", str(runs), "-q"]
    assert main(common + ["--model", "bow", "--seeds", "2"]) == 0
    assert main(common + ["--model", "capped=bow", "--max-steps", "5"]) == 0  # same features, another unit key
    return cards, runs


def test_report_formats_agree_on_real_runs(real_runs, cli):
    cards, runs = real_runs
    args = ["--suite", "demo", "--cards", cards, "--runs-dir", runs]
    md = cli("report", *args)
    doc = json.loads(cli("report", *args, "--format", "json").out)
    table = list(csv.DictReader(io.StringIO(cli("report", *args, "--format", "csv").out)))
    assert md.code == 0
    suite = doc["suites"][0]
    bow = next(r for r in suite["rows"] if r["model"] == "bow")
    cell = bow["cells"]["demo-cat-sentiment"]
    assert cell["seeds"] == [0, 1] and cell["n"] == 2
    line = next(r for r in table if r["model"] == "bow" and r["column"] == "demo-cat-sentiment")
    assert float(line["mean"]) == pytest.approx(cell["mean"])
    assert f"| bow | probe | – | {cell['mean']:.2f} (seed-invariant) |" in md.out  # the aggregate needs all nine cards; bow's probe does not vary with the seed
    assert {c["name"]: c["dataset_revisions"] for c in suite["cards"]}["demo-ell-nli"] == ["local"]
    (env,) = suite["environments"]
    assert env["packages"]["scikit-learn"] and env["units"] == 6  # the 3 debug units (--max-steps) are not shown


def test_compare_replays_real_runner_predictions_exactly(real_runs, cli):
    cards, runs = real_runs
    result = cli("compare", "bow", "capped", "--suite", "demo", "--format", "json", "--n-bootstrap", 200,
                 "--cards", cards, "--runs-dir", runs, "--include-debug")
    assert result.code == 0, result.err
    doc = json.loads(result.out)
    # Replayed metrics equal the stored ones (accuracy, pearson_spearman_mean): the one note is the debug row's mark.
    assert doc["notes"] == ["'capped' is not comparable with published numbers: --max-steps 5: a debug run, not the full unit"]
    by = {d["name"]: d for d in doc["cards"]}
    assert set(by) == set(DEMO_TASKS.split(","))
    for d in by.values():
        assert d["seeds"] == [0] and d["a"] == pytest.approx(d["stored_a"], abs=1e-9)
        assert d["delta"] == 0.0 and not d["significant"]  # same features and head: a null difference
    assert by["demo-zho-sts"]["mcnemar"] is None and len(by["demo-ell-nli"]["mcnemar"]) == 1
    assert doc["aggregate"] is None and any(s["name"] == "aggregate" for s in doc["skipped"])


def test_report_and_compare_write_files(real_runs, cli, tmp_path):
    cards, runs = real_runs
    out = tmp_path / "nested" / "board.csv"
    assert cli("report", "--suite", "demo", "--format", "csv", "--out", out, "--cards", cards, "--runs-dir", runs).code == 0
    assert out.read_text(encoding="utf-8").startswith("suite,suite_version,kind,model")


def test_given_no_store_then_report_and_compare_fail_in_one_line(cli, tmp_path):
    for args in (["report"], ["compare", "a", "b", "--suite", "demo"]):
        result = cli(*args, "--runs-dir", tmp_path / "empty")
        assert result.code == 2 and result.err.startswith("error: no results in") and len(result.err.splitlines()) == 1


def test_given_bad_flags_then_one_line_errors(cli, tmp_path):
    assert "choose one of md, csv, json, html" in cli("report", "--format", "pdf", "--runs-dir", tmp_path).err
    assert "write LABEL=REFERENCE_MODEL" in cli("report", "--suite", "x", "--match", "oops", "--runs-dir", tmp_path).err
    assert "--match needs --suite" in cli("report", "--match", "a=b", "--runs-dir", tmp_path).err
    assert "--spread" in cli("report", "--spread", "iqr", "--runs-dir", tmp_path).err


def test_given_units_without_predictions_then_compare_explains_and_exits_2(cli, tmp_path):
    planted_store(tmp_path, {"x": {"fx-sent": 0.8, "fx-nli": 0.7}, "y": {"fx-sent": 0.7, "fx-nli": 0.7}}, seeds=1, n_test=40,
                  with_predictions=False)
    result = cli("compare", "x", "y", "--suite", "fixsig", "--runs-dir", tmp_path / "runs", "--cards", tmp_path / "cards")
    assert result.code == 2 and len(result.err.strip().splitlines()) == 1
    assert "fx-sent · x · seed 0: no per-example predictions were stored for this unit" in result.err
    assert "bench run ... --force" in result.err


def test_given_a_missing_predictions_file_then_the_card_is_skipped_with_the_reason(cli, tmp_path):
    planted_store(tmp_path, {"x": {"fx-sent": 0.9, "fx-nli": 0.7}, "y": {"fx-sent": 0.6, "fx-nli": 0.7}}, seeds=1, n_test=60)
    victim = next((tmp_path / "runs" / "predictions" / "fixsig" / "fx-nli").glob("x-*.jsonl"))
    victim.unlink()
    result = cli("compare", "x", "y", "--suite", "fixsig", "--n-bootstrap", 200, "--runs-dir", tmp_path / "runs", "--cards", tmp_path / "cards")
    assert result.code == 0, result.err
    assert "| fx-sent | accuracy (test) | 1 | 60 | 90.00 | 60.00 | +30.00 |" in result.out
    assert f"predictions file {victim} is missing" in result.out
    assert "Not compared (needs every component; missing: fx-nli): aggregate." in result.out


def test_given_no_card_files_then_report_uses_the_definitions_stored_with_the_results(cli, tmp_path):
    planted_store(tmp_path, {"x": {"fx-sent": 0.8, "fx-nli": 0.7}}, seeds=1, n_test=40)
    result = cli("report", "--runs-dir", tmp_path / "runs")  # no --cards: fixsig exists only in the store
    assert result.code == 0, result.err
    assert "| x | probe | 75.00 | 80.00 | 70.00 |" in result.out
