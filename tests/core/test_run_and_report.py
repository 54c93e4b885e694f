"""`bench run` and `bench report` end to end on a small local suite."""

from __future__ import annotations

import json
import sqlite3

from tests.fixtures.core_suite import write_suite


def test_run_stores_metrics_predictions_timings_and_environment_then_reports(cli, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=1)
    runs = tmp_path / "runs"
    result = cli("run", "--suite", "core", "--cards", cards, "--model", "bow", "--runs-dir", runs, "--seeds", "2", "--quiet")
    assert result.code == 0, result.err
    conn = sqlite3.connect(runs / "polyglue.sqlite")
    conn.row_factory = sqlite3.Row
    rows = conn.execute("SELECT * FROM units ORDER BY card, seed").fetchall()
    assert [(r["card"], r["seed"], r["status"]) for r in rows] == [("core-sent0", 0, "done"), ("core-sent0", 1, "done"), ("core-sim", 0, "done"), ("core-sim", 1, "done")]
    sent = json.loads(rows[0]["metrics_json"])
    assert set(sent) == {"validation", "test"} and set(sent["test"]) == {"accuracy", "f1"}
    assert sent["test"]["accuracy"] > 0.8  # the adjective decides the label: bow must learn it
    extras = json.loads(rows[0]["extras_json"])
    assert extras["selection"]["parameter"] == "C" and extras["timings"]["total_s"] > 0
    preds = [json.loads(line) for line in (runs / rows[0]["predictions_path"]).read_text().splitlines()]
    assert len(preds) == 80 and {p["split"] for p in preds} == {"validation", "test"}
    assert {p["gold"] for p in preds} == {"negative", "positive"}
    env = json.loads(conn.execute("SELECT env_json FROM runs").fetchone()[0])
    assert env["packages"]["polyglue"] and env["python"]

    report = cli("report", "--suite", "core", "--cards", cards, "--runs-dir", runs)
    assert report.code == 0, report.err
    table = [line for line in report.out.splitlines() if line.startswith("| bow")]
    assert len(table) == 1 and "(seed-invariant)" in table[0]  # two seeds of a deterministic probe: said so, not "± 0.00"


def test_rerunning_reuses_finished_units_and_force_recomputes(cli, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=1)
    args = ["run", "--suite", "core", "--cards", cards, "--model", "bow", "--runs-dir", tmp_path / "r", "--quiet"]
    assert cli(*args).code == 0
    again = cli(*args)
    assert again.code == 0 and "2 unit(s): 0 run, 2 reused" in again.err
    forced = cli(*args, "--force")
    assert "2 unit(s): 2 run, 0 reused" in forced.err


def test_a_unit_with_bad_data_fails_alone_with_one_line_and_exit_2(cli, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=1)
    bad = tmp_path / "s" / "data" / "core-sent0" / "test.jsonl"
    bad.write_text(bad.read_text().replace('"label": "positive"', '"label": "positiv"', 1))
    result = cli("run", "--suite", "core", "--cards", cards, "--model", "bow", "--runs-dir", tmp_path / "r", "--quiet")
    assert result.code == 2
    assert "Traceback" not in result.err
    assert "label 'positiv' is not among the card's labels [negative, positive]" in result.err
    assert "1 run, 0 reused, 1 failed" in result.err  # the other card still finished


def test_report_rebuilds_from_the_store_when_the_cards_are_gone(cli, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=1)
    runs = tmp_path / "r"
    assert cli("run", "--suite", "core", "--cards", cards, "--model", "bow", "--runs-dir", runs, "--quiet").code == 0
    report = cli("report", "--runs-dir", runs)  # no --cards: definitions come from the store
    assert report.code == 0 and "| bow | probe |" in report.out


def test_user_errors_are_one_line_with_exit_2(cli, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=1)
    cases = {
        ("run", "--suite", "cor", "--cards", cards, "--model", "bow"): "unknown suite 'cor'; did you mean 'core'?",
        ("run", "--suite", "core", "--cards", cards, "--model", "bogus"): "unknown model 'bogus'",
        ("run", "--suite", "core", "--cards", cards, "--model", "bow", "--tasks", "nope"): "--tasks: nope not in suite 'core'",
        ("run", "--suite", "core", "--cards", cards, "--model", "hf:/no/such/folder"): "model folder not found",
        ("run", "--suite", "core", "--cards", cards, "--model", "fbank"): "nothing to run",
        ("report", "--runs-dir", tmp_path / "empty"): "no results in",
        ("show", "nothing-like-this"): "unknown card 'nothing-like-this'",
    }
    for args, words in cases.items():
        result = cli(*args)
        assert result.code == 2, (args, result.err)
        assert words in result.err, (args, result.err)
        assert result.err.count("\n") == 1 and "Traceback" not in result.err


def test_hub_cards_without_a_local_copy_fail_before_any_unit_runs(cli, tmp_path):
    import yaml

    cards = write_suite(tmp_path / "s", n_cards=1)
    path = cards / "core" / "core-sent0.yaml"
    body = yaml.safe_load(path.read_text())
    body["source"] = {"hub": {"path": "org/sentiment", "revision": "0" * 40}}
    path.write_text(yaml.safe_dump(body))
    runs = tmp_path / "r"
    result = cli("run", "--suite", "core", "--cards", cards, "--model", "bow", "--runs-dir", runs)
    assert result.code == 2
    assert "1 card(s) read the Hugging Face Hub (core-sent0), but HF_HUB_OFFLINE=1 is set" in result.err
    assert "bench fetch --suite core" in result.err
    assert not (runs / "polyglue.sqlite").exists()  # nothing started


def test_the_same_model_under_two_labels_is_refused(cli, tmp_path, tiny_bert):
    cards = write_suite(tmp_path / "s", n_cards=1)
    result = cli("run", "--suite", "core", "--cards", cards, "--model", f"a=hf:{tiny_bert}", "--model", f"b=hf:{tiny_bert}", "--runs-dir", tmp_path / "r")
    assert result.code == 2 and "--model a and --model b are the same model" in result.err


def test_corpus_layout_cards_without_their_folder_fail_before_any_unit_runs(cli, tmp_path):
    runs = tmp_path / "r"
    result = cli("run", "--suite", "indicsuperb", "--model", "fbank", "--runs-dir", runs, "--data-dir", tmp_path)
    assert result.code == 2
    assert "7 card(s) read a corpus from disk" in result.err and f"{tmp_path / 'indicsuperb'} does not exist" in result.err
    assert not (runs / "polyglue.sqlite").exists()
