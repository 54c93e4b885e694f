"""Run options on text cards: learning-rate grids, several seeds, bad data, strict cards."""

from __future__ import annotations

import json
import shutil

import yaml

from polyglue.cards.registry import Registry, builtin_cards_dir
from tests.fixtures.store_rows import stored_units as _units
from tests.fixtures.text_mirrors import seal_mirror, write_mirror


def _custom_suite(tmp_path, card: str, suite: str, edit) -> tuple:
    """A one-card suite `suite` in a --cards folder, the card edited by `edit(dict)`, plus its mirror."""
    source = Registry.discover().card(card)
    body = yaml.safe_load(source.path.read_text(encoding="utf-8"))
    body["name"] = f"{card}-x"
    edit(body)
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / f"{card}-x.yaml").write_text(yaml.safe_dump(body, allow_unicode=True), encoding="utf-8")
    (cards / "suite.yaml").write_text(yaml.safe_dump({"name": suite, "version": "1.0.0", "title": suite, "cards": [f"{card}-x"]}), encoding="utf-8")
    origin = next(s for s, e in Registry.discover().suites.items() if card in e.suite.cards)
    mirror = write_mirror(tmp_path / "mirror", origin, [card], n=24)
    data = tmp_path / "data" / suite
    data.mkdir(parents=True)
    shutil.move(str(mirror / origin / card), data / f"{card}-x")
    return cards, tmp_path / "data"


def test_given_an_lr_grid_then_the_best_rate_on_validation_is_kept_and_recorded(cli, tmp_path, text_bert):
    cards, data = _custom_suite(tmp_path, "sst2", "gridded", lambda b: b["protocol"].update(lr_grid=[3.0e-3, 1.0e-6], selection="best"))
    runs = tmp_path / "runs"
    result = cli("run", "--suite", "gridded", "--cards", cards, "--data-dir", data, "--model", f"tiny=hf:{text_bert}", "--max-steps", "3", "--runs-dir", runs, "-q")
    assert result.code == 0, result.err
    [unit] = _units(runs)
    selection = unit["extras"]["selection"]
    history = selection["history"]
    assert set(history) == {"0.003", "1e-06"}
    best = {lr: max(h["validation"] for h in runs_) for lr, runs_ in history.items()}
    assert str(selection["learning_rate"]) == max(best, key=lambda lr: (best[lr], lr == "0.003"))
    assert selection["score"] == max(best.values())
    # the reported validation score is the chosen model's
    assert unit["metrics"]["validation"]["accuracy"] == selection["score"]


def test_given_no_validation_split_then_selection_uses_a_seeded_hold_out_of_train(cli, tmp_path, text_bert):
    def drop_validation(body):
        del body["splits"]["validation"]
        del body["source"]["hub"]["data_files"]["validation"]

    cards, data = _custom_suite(tmp_path, "tecla", "noval", drop_validation)
    runs = tmp_path / "runs"
    result = cli("run", "--suite", "noval", "--cards", cards, "--data-dir", data, "--model", f"tiny=hf:{text_bert}", "--max-steps", "1", "--runs-dir", runs, "-q")
    assert result.code == 0, result.err
    [unit] = _units(runs)
    assert unit["extras"]["selection"]["on"] == "10% hold-out of train"
    assert unit["extras"]["n_examples"] == {"train": 22, "selection": 2, "test": 24}
    assert set(unit["metrics"]) == {"test"}


def test_given_two_seeds_then_two_units_and_the_report_shows_mean_and_spread(cli, tmp_path, text_data, text_bert):
    runs = tmp_path / "runs"
    result = cli("run", "--suite", "glue", "--tasks", "sst2", "--model", f"tiny=hf:{text_bert}", "--seeds", "2", "--max-steps", "2", "--limit", "16", "--data-dir", text_data, "--runs-dir", runs, "-q")
    assert result.code == 0, result.err
    units = _units(runs)
    assert sorted(u["seed"] for u in units) == [0, 1]
    assert len({u["key"] for u in units}) == 2
    report = cli("report", "--suite", "glue", "--runs-dir", runs, "--include-debug")  # a --limit/--max-steps run is a debug row
    lines = report.out.splitlines()
    header = next(line for line in lines if line.startswith("| model")).split("|")
    row = next(line for line in lines if line.startswith("| tiny")).split("|")
    cell = row[header.index(" sst2 ")]
    # Two seeds: a spread, or (when both seeds gave the same number) an explicit seed-invariant mark, never "± 0.00".
    assert ("±" in cell) != ("(seed-invariant)" in cell) and "± 0.00" not in cell


def test_given_a_label_the_card_does_not_know_then_the_run_fails_with_one_line(cli, tmp_path):
    data = write_mirror(tmp_path / "data", "club", ["tecla"], n=12)
    path = data / "club" / "tecla" / "train.json"
    body = json.loads(path.read_text(encoding="utf-8"))
    body["data"][3]["label"] = "Esports"
    path.write_text(json.dumps(body, ensure_ascii=False), encoding="utf-8")
    seal_mirror(path.parent, "club", "tecla")  # a fetched mirror whose data has the unknown label
    result = cli("run", "--suite", "club", "--tasks", "tecla", "--model", "bow", "--data-dir", data, "--runs-dir", tmp_path / "runs", "-q")
    assert result.code == 2
    [line] = [line for line in result.err.splitlines() if line.startswith("failed:")]
    assert "label 'Esports' is not among the card's labels" in line and "row 4" in line
    assert "Traceback" not in result.err


def test_shipped_text_cards_validate_cleanly_and_are_all_pinned(cli):
    root = builtin_cards_dir()
    result = cli("validate", *(root / s for s in ("glue", "clue", "club", "greek")))
    assert result.code == 0, result.out + result.err
    assert "0 error(s), 0 warning(s)" in result.out + result.err
