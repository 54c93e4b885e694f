"""Hidden test splits are predicted, stored apart and turned into GLUE / CLUE submission files."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile

import pyarrow.parquet as pq
import pytest

from tests.fixtures.core_suite import write_suite


def _card(name):
    from polyglue.cards.registry import Registry

    return Registry.discover([]).card(name).card


@pytest.fixture(scope="module")
def glue_run(tmp_path_factory, text_data):
    from polyglue.cli import main

    runs = tmp_path_factory.mktemp("glue-runs")
    assert main(["run", "--suite", "glue", "--model", "bow", "--data-dir", str(text_data), "--runs-dir", str(runs), "--quiet"]) == 0
    return runs


@pytest.fixture(scope="module")
def clue_run(tmp_path_factory, text_data):
    from polyglue.cli import main

    runs = tmp_path_factory.mktemp("clue-runs")
    assert main(["run", "--suite", "clue", "--model", "bow", "--data-dir", str(text_data), "--runs-dir", str(runs), "--quiet"]) == 0
    return runs


def _units(runs) -> dict:
    from polyglue.runs.store import Store

    store = Store(runs)
    try:
        return {u["card"]: u for u in store.units()}
    finally:
        store.close()


def test_given_glue_then_the_zip_holds_every_official_file_with_rows_and_labels_of_the_test_splits(cli, glue_run, text_data, tmp_path):
    out = tmp_path / "glue.zip"
    result = cli("submit", "--suite", "glue", "--model", "bow", "--runs-dir", glue_run, "--out", out)
    assert result.code == 0, result.err
    with zipfile.ZipFile(out) as archive:
        names = sorted(archive.namelist())
        assert names == sorted(["CoLA.tsv", "SST-2.tsv", "MRPC.tsv", "QQP.tsv", "STS-B.tsv", "MNLI-m.tsv", "MNLI-mm.tsv",
                                "AX.tsv", "QNLI.tsv", "RTE.tsv", "WNLI.tsv"])
        files = {n: list(csv.DictReader(io.StringIO(archive.read(n).decode()), delimiter="\t")) for n in names}
    sources = {"CoLA.tsv": ("cola", "test"), "SST-2.tsv": ("sst2", "test"), "MNLI-m.tsv": ("mnli", "test_matched"),
               "MNLI-mm.tsv": ("mnli", "test_mismatched"), "AX.tsv": ("mnli", "ax-test"), "STS-B.tsv": ("stsb", "test"),
               "QNLI.tsv": ("qnli", "test"), "WNLI.tsv": ("wnli", "test")}
    for name, (card, split) in sources.items():
        rows = files[name]
        table = pq.read_table(text_data / "glue" / card / f"{split}.parquet")
        assert set(rows[0]) == {"index", "prediction"}
        assert [int(r["index"]) for r in rows] == table.column("idx").to_pylist(), name  # every test row, in order
    assert {r["prediction"] for r in files["CoLA.tsv"]} <= {"0", "1"} and {r["prediction"] for r in files["WNLI.tsv"]} <= {"0", "1"}
    for name in ("MNLI-m.tsv", "MNLI-mm.tsv", "AX.tsv"):
        assert {r["prediction"] for r in files[name]} <= set(_card("mnli").labels)
    assert {r["prediction"] for r in files["RTE.tsv"]} <= {"entailment", "not_entailment"}
    assert all(isinstance(float(r["prediction"]), float) for r in files["STS-B.tsv"])


def test_given_a_run_then_hidden_predictions_are_stored_apart_never_scored(glue_run):
    from polyglue.runs.store import Store

    store = Store(glue_run)
    try:
        mnli = next(u for u in store.units() if u["card"] == "mnli")
    finally:
        store.close()
    assert set(mnli["metrics"]) == {"validation", "validation_mismatched"}  # hidden splits never scored
    scored = [json.loads(line) for line in (glue_run / mnli["predictions_path"]).read_text().splitlines()]
    assert {r["split"] for r in scored} == {"validation", "validation_mismatched"}
    hidden = mnli["extras"]["hidden_predictions"]
    assert hidden["splits"] == {"test": 24, "test_mismatched": 24, "ax": 24}
    records = [json.loads(line) for line in (glue_run / hidden["path"]).read_text().splitlines()]
    assert all(r["gold"] is None for r in records)


def test_given_clue_then_jsonl_files_with_label_strings_and_the_cmrc_answer_map(cli, tmp_path, text_data, clue_run):
    out = tmp_path / "clue.zip"
    result = cli("submit", "--suite", "clue", "--model", "bow", "--runs-dir", clue_run, "--out", out)
    assert result.code == 0, result.err
    with zipfile.ZipFile(out) as archive:
        assert sorted(archive.namelist()) == sorted(["afqmc_predict.json", "tnews11_predict.json", "iflytek_predict.json", "cmnli_predict.json",
                                                     "ocnli_50k_predict.json", "cluewsc11_predict.json", "csl_predict.json", "cmrc2018_predict.json",
                                                     "chid11_predict.json", "c311_predict.json"])
        cmnli = [json.loads(line) for line in archive.read("cmnli_predict.json").decode().splitlines()]
        wsc = [json.loads(line) for line in archive.read("cluewsc11_predict.json").decode().splitlines()]
        answers = json.loads(archive.read("cmrc2018_predict.json").decode())
    test = pq.read_table(text_data / "clue" / "cmnli" / "test.parquet")
    assert [r["id"] for r in cmnli] == test.column("idx").to_pylist()
    assert {r["label"] for r in cmnli} <= set(_card("cmnli").labels) and all(isinstance(r["label"], str) for r in cmnli)
    assert {r["label"] for r in wsc} <= {"true", "false"}
    assert answers and all(isinstance(k, str) and isinstance(v, str) for k, v in answers.items())


def _official_blanks(table) -> list[str]:
    """Every `#idiomNNNNNN#` blank of a CHID split, in passage order."""
    return [m.group(0) for content in table.column("content").to_pylist() for p in content for m in re.finditer(r"#idiom\d{6}#", p)]


def test_given_chid_and_c3_then_the_candidate_map_and_choice_index_lines(cli, tmp_path, text_data, clue_run):
    units = _units(clue_run)
    stored = [json.loads(line) for line in (clue_run / units["chid"]["extras"]["hidden_predictions"]["path"]).read_text().splitlines()]
    assert all(r["id"].endswith(":" + r["blank"]) for r in stored)  # the record carries its blank's own tag
    out = tmp_path / "clue.zip"
    result = cli("submit", "--suite", "clue", "--model", "bow", "--runs-dir", clue_run, "--out", out)
    assert result.code == 0, result.err
    with zipfile.ZipFile(out) as archive:
        assert {"chid11_predict.json", "c311_predict.json"} <= set(archive.namelist())
        chid = json.loads(archive.read("chid11_predict.json").decode())
        c3 = [json.loads(line) for line in archive.read("c311_predict.json").decode().splitlines()]
    chid_test = pq.read_table(text_data / "clue" / "chid" / "test.parquet")
    assert list(chid) == _official_blanks(chid_test)  # one key per blank, every blank of the test split, in order
    n_candidates = {tag: len(row) for row, content in zip(chid_test.column("candidates").to_pylist(), chid_test.column("content").to_pylist())
                    for p in content for tag in re.findall(r"#idiom\d{6}#", p)}
    assert all(isinstance(v, int) and not isinstance(v, bool) and 0 <= v < n_candidates[k] for k, v in chid.items())
    c3_test = pq.read_table(text_data / "clue" / "c3" / "test.parquet")
    assert [r["id"] for r in c3] == list(range(c3_test.num_rows))  # questions numbered in order (the Hub ids repeat per document)
    assert all(set(r) == {"id", "label"} and isinstance(r["label"], int) for r in c3)
    assert all(0 <= r["label"] < len(choices) for r, choices in zip(c3, c3_test.column("choice").to_pylist()))
    stored_c3 = [json.loads(line) for line in (clue_run / units["c3"]["extras"]["hidden_predictions"]["path"]).read_text().splitlines()]
    assert [choices[r["label"]] for r, choices in zip(c3, c3_test.column("choice").to_pylist())] == [r["pred"] for r in stored_c3]


def test_given_choice_predictions_stored_without_indices_then_submit_names_the_card(cli, tmp_path, clue_run):
    import shutil

    runs = shutil.copytree(clue_run, tmp_path / "runs")
    path = runs / _units(runs)["c3"]["extras"]["hidden_predictions"]["path"]
    old = [{k: v for k, v in json.loads(line).items() if k != "choice"} for line in path.read_text().splitlines()]
    path.write_text("".join(json.dumps(r) + "\n" for r in old))  # as written before records carried the index
    result = cli("submit", "--suite", "clue", "--model", "bow", "--runs-dir", runs, "--out", tmp_path / "x.zip")
    assert result.code == 2 and "c3 (its stored test predictions carry no choice indices" in result.err
    assert not (tmp_path / "x.zip").exists()


def test_given_missing_cards_or_a_suite_without_hidden_tests_then_they_are_named_and_exit_2(cli, tmp_path, text_data):
    runs = tmp_path / "runs"
    assert cli("run", "--suite", "glue", "--tasks", "cola,rte", "--model", "bow", "--data-dir", text_data, "--runs-dir", runs, "--quiet").code == 0
    partial = cli("submit", "--suite", "glue", "--model", "bow", "--runs-dir", runs, "--out", tmp_path / "x.zip")
    assert partial.code == 2 and "Traceback" not in partial.err
    for name in ("sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "wnli"):
        assert f"{name} (no finished unit)" in partial.err
    assert "cola (" not in partial.err and not (tmp_path / "x.zip").exists()

    cards = write_suite(tmp_path / "s", n_cards=1)
    assert cli("run", "--suite", "core", "--cards", cards, "--model", "bow", "--runs-dir", runs, "--quiet").code == 0
    none = cli("submit", "--suite", "core", "--cards", cards, "--model", "bow", "--runs-dir", runs, "--out", tmp_path / "y.zip")
    assert none.code == 2 and "suite 'core' declares no leaderboard submission" in none.err and "clue, glue" in none.err


def test_given_finetune_then_hidden_splits_are_predicted_with_the_trained_model(cli, tmp_path, text_data, text_bert):
    runs = tmp_path / "runs"
    result = cli("run", "--suite", "glue", "--tasks", "rte", "--model", f"tiny=hf:{text_bert}", "--protocol", "finetune",
                 "--max-steps", "2", "--data-dir", text_data, "--runs-dir", runs, "--quiet")
    assert result.code == 0, result.err
    from polyglue.runs.store import Store

    store = Store(runs)
    try:
        (unit,) = store.units()
    finally:
        store.close()
    assert unit["extras"]["hidden_predictions"]["splits"] == {"test": 24}
    records = [json.loads(line) for line in (runs / unit["extras"]["hidden_predictions"]["path"]).read_text().splitlines()]
    assert {r["pred"] for r in records} <= {"entailment", "not_entailment"} and all(r["gold"] is None for r in records)
    debug = cli("submit", "--suite", "glue", "--model", "tiny", "--runs-dir", runs, "--out", tmp_path / "z.zip")
    assert debug.code == 2 and "rte (seed 0 is a debug run: " in debug.err and "--max-steps 2: a debug run" in debug.err  # the mirror's unverified-data reason comes first


def test_given_a_mirror_without_the_test_file_then_the_unit_runs_and_submit_names_the_reason(cli, tmp_path):
    from tests.fixtures.text_mirrors import seal_mirror, write_mirror

    data = write_mirror(tmp_path / "data", "glue", ["rte"], n=20)
    (data / "glue" / "rte" / "test.parquet").unlink()
    seal_mirror(data / "glue" / "rte", "glue", "rte")  # a mirror fetched without the test split
    runs = tmp_path / "runs"
    assert cli("run", "--suite", "glue", "--tasks", "rte", "--model", "bow", "--data-dir", data, "--runs-dir", runs, "--quiet").code == 0
    result = cli("submit", "--suite", "glue", "--model", "bow", "--runs-dir", runs, "--out", tmp_path / "x.zip")
    assert result.code == 2 and "rte (test not predicted: card 'rte' needs nyu-mll/glue/rte" in result.err  # the reason the unit recorded
    assert result.err.count("mnli (no finished unit)") == 1  # one line per card, not per file


def test_given_finetune_on_chid_and_c3_then_hidden_records_carry_the_choice_index_and_blank(cli, tmp_path, text_data, text_bert):
    runs = tmp_path / "runs"
    result = cli("run", "--suite", "clue", "--tasks", "chid,c3", "--model", f"tiny=hf:{text_bert}", "--protocol", "finetune",
                 "--max-steps", "1", "--limit", "6", "--data-dir", text_data, "--runs-dir", runs, "--quiet")
    assert result.code == 0, result.err
    units = _units(runs)
    for card in ("chid", "c3"):
        records = [json.loads(line) for line in (runs / units[card]["extras"]["hidden_predictions"]["path"]).read_text().splitlines()]
        assert records and all(isinstance(r["choice"], int) and r["gold"] is None for r in records), card
        assert all(("blank" in r) == (card == "chid") for r in records), card
    test = pq.read_table(text_data / "clue" / "chid" / "test.parquet")
    stored = [json.loads(line) for line in (runs / units["chid"]["extras"]["hidden_predictions"]["path"]).read_text().splitlines()]
    candidates = {tag: row for row, content in zip(test.column("candidates").to_pylist(), test.column("content").to_pylist())
                  for p in content for tag in re.findall(r"#idiom\d{6}#", p)}
    assert all(candidates[r["blank"]][r["choice"]] == r["pred"] for r in stored)  # the index points at the predicted idiom
