"""`bench validate` on a corpus of bad cards: each defect is found at the right file, line and field."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

BAD = Path(__file__).parent / "bad_cards"

# file -> (line, field, words the message must contain)
EXPECTED = {
    "yaml_syntax.yaml": (15, "", "not closed"),
    "duplicate_key.yaml": (17, "", "duplicate key 'metrics'"),
    "unknown_key.yaml": (19, "licence_url", "did you mean 'license'"),
    "wrong_type.yaml": (15, "protocol.epochs", "valid number"),
    "unknown_task.yaml": (6, "task", "sentiment-analysis"),
    "main_metric_not_in_metrics.yaml": (17, "main_metric", "not among metrics"),
    "labels_empty.yaml": (15, "labels", "empty"),
    "labels_repeated.yaml": (15, "labels", "'negative' is repeated"),
    "unknown_split.yaml": (14, "splits.dev", "unknown field 'dev'"),
    "invalid_language.yaml": (4, "languages[1]", "ISO 639-3"),
    "license_not_in_list.yaml": (18, "license", "other:<url>"),
    "missing_source.yaml": (1, "source", "required field is missing"),
    "joint_on_classification.yaml": (20, "protocol.choice_decoding", "applies to multiple-choice cards"),
    "patience_with_final.yaml": (20, "protocol.patience", "needs `selection: best`"),
    "zero_virtual_tokens.yaml": (20, "protocol.prompt.num_virtual_tokens", "greater than or equal to 1"),
}


def test_the_bad_card_corpus_covers_every_expected_case():
    assert sorted(p.name for p in BAD.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_validate_reports_the_defect_at_its_file_and_line(cli, name):
    line, field, words = EXPECTED[name]
    result = cli("validate", BAD / name, "--format", "json")
    assert result.code == 2
    report = json.loads(result.out)
    assert not report["ok"]
    matching = [p for p in report["problems"] if words in p["message"]]
    assert matching, report["problems"]
    problem = matching[0]
    assert Path(problem["file"]).name == name
    assert (problem["line"], problem["field"]) == (line, field)


def test_text_output_is_one_file_line_field_message_per_problem(cli):
    result = cli("validate", BAD / "main_metric_not_in_metrics.yaml")
    assert result.code == 2
    lines = result.out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith("main_metric_not_in_metrics.yaml:17: main_metric: 'macro_f1' is not among metrics ['accuracy']")
    assert "Traceback" not in result.err


def test_two_cards_with_one_name_are_an_error_naming_both_files(cli, tmp_path):
    for sub in ("a", "b"):
        (tmp_path / sub).mkdir()
        text = (BAD / "labels_repeated.yaml").read_text().replace("labels-repeated", "twin")
        (tmp_path / sub / "twin.yaml").write_text(text.replace("[negative, positive, negative]", "[negative, positive]"))
    result = cli("validate", tmp_path, "--format", "json")
    assert result.code == 2
    (problem,) = json.loads(result.out)["problems"]
    assert problem["field"] == "name" and problem["line"] == 1
    files = {Path(problem["file"]).parent.name, Path(problem["message"].split(" in ")[-1].rsplit(":", 1)[0]).parent.name}
    assert files == {"a", "b"}


def test_a_suite_naming_an_unknown_card_points_at_the_list_entry(cli, tmp_path):
    good = (BAD / "labels_repeated.yaml").read_text().replace("[negative, positive, negative]", "[negative, positive]")
    (tmp_path / "good.yaml").write_text(good.replace("labels-repeated", "good"))
    (tmp_path / "suite.yaml").write_text(
        "name: tiny\nversion: 1.0.0\ntitle: Tiny\ncards:\n  - good\n  - goood\n"
    )
    result = cli("validate", tmp_path, "--format", "json")
    assert result.code == 2
    (problem,) = json.loads(result.out)["problems"]
    assert (problem["line"], problem["field"]) == (6, "cards[1]")
    assert "did you mean 'good'" in problem["message"]


def test_a_valid_card_passes_and_an_unpinned_hub_revision_is_only_a_warning(cli, tmp_path):
    card = (BAD / "labels_repeated.yaml").read_text().replace("[negative, positive, negative]", "[negative, positive]")
    card = card.replace("  local:\n    format: jsonl\n    files: {train: train.jsonl, validation: validation.jsonl}", "  hub: {path: org/data}")
    (tmp_path / "hubcard.yaml").write_text(card.replace("labels-repeated", "hubcard"))
    result = cli("validate", tmp_path)
    assert result.code == 0, result.out
    assert "warning: source.hub.revision: unpinned" in result.out
    assert cli("validate", tmp_path, "--strict").code == 2


def test_the_generated_demo_suite_validates(cli, tmp_path):
    from polyglue.demo.generate import write_demo_suite

    cards_dir = write_demo_suite(tmp_path)
    result = cli("validate", cards_dir, "--format", "json")
    assert result.code == 0, result.out
    assert json.loads(result.out)["problems"] == []


def test_every_built_in_card_validates(cli):
    result = cli("validate", "--format", "json")
    report = json.loads(result.out)
    assert [p for p in report["problems"] if p["severity"] == "error"] == []
    assert result.code == 0


def test_a_broken_card_never_vanishes_from_list(cli, tmp_path):
    shutil.copy(BAD / "unknown_task.yaml", tmp_path)
    result = cli("list", "cards", "--cards", tmp_path)
    assert result.code == 0
    assert "1 problem(s) in card files" in result.err


def test_a_train_from_card_of_another_task_or_label_set_is_one_problem_at_the_train_from_line(cli, tmp_path):
    base = (BAD / "labels_repeated.yaml").read_text().replace("[negative, positive, negative]", "[negative, positive]")
    (tmp_path / "source.yaml").write_text(base.replace("labels-repeated", "source"))
    shifted = base.replace("labels-repeated", "shifted").replace("[negative, positive]", "[negative, neutral, positive]")
    (tmp_path / "shifted.yaml").write_text(shifted.rstrip("\n") + "\ntrain_from: source\n")
    result = cli("validate", tmp_path / "shifted.yaml", tmp_path / "source.yaml", "--format", "json")
    assert result.code == 2
    (problem,) = json.loads(result.out)["problems"]
    assert problem["field"] == "train_from" and problem["line"] == len(shifted.rstrip("\n").splitlines()) + 1
    assert "card 'source' has labels ['negative', 'positive']" in problem["message"]
    text = cli("validate", tmp_path / "shifted.yaml", tmp_path / "source.yaml")
    assert text.code == 2 and len([l for l in text.out.splitlines() if "train_from" in l]) == 1
