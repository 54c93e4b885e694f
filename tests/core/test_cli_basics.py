"""The small commands: list, show, schema, and the demo end to end."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.core_suite import write_suite


def test_list_shows_suites_and_cards_from_extra_directories(cli, tmp_path, monkeypatch):
    cards = write_suite(tmp_path / "s", n_cards=1)
    listed = cli("list", "suites", "--cards", cards, "--format", "json")
    assert listed.code == 0
    assert {"suite": "core", "version": "1.0.0", "cards": 2, "title": "Core test suite"} in json.loads(listed.out)
    monkeypatch.setenv("POLYGLUE_CARDS", str(cards))
    rows = json.loads(cli("list", "cards", "--format", "json").out)
    assert {r["card"] for r in rows if r["suite"] == "core"} == {"core-sent0", "core-sim"}
    assert cli("list", "everything").code == 2


def test_show_prints_the_resolved_card_with_defaults_and_hash(cli, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=1)
    shown = cli("show", "core-sent0", "--cards", cards)
    assert shown.code == 0
    assert shown.out.startswith("# ") and "content hash" in shown.out
    assert "max_length: 128" in shown.out  # a protocol default filled in


def test_schema_is_valid_json_schema_for_cards_and_suites(cli, tmp_path):
    import jsonschema
    import yaml

    card_schema = json.loads(cli("schema", "card").out)
    suite_schema = json.loads(cli("schema", "suite").out)
    assert card_schema["additionalProperties"] is False and "main_metric" in card_schema["required"]
    cards = write_suite(tmp_path / "s", n_cards=1)
    jsonschema.validate(yaml.safe_load((cards / "core" / "core-sent0.yaml").read_text()), card_schema)
    jsonschema.validate(yaml.safe_load((cards / "core" / "suite.yaml").read_text()), suite_schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"name": "x", "unknown": 1}, card_schema)


@pytest.mark.slow
def test_demo_runs_offline_end_to_end_and_prints_the_leaderboard(cli, tmp_path):
    result = cli("demo", "--runs-dir", tmp_path, "--quiet")
    assert result.code == 0, result.err
    rows = {line.split("|")[1].strip(): line for line in result.out.splitlines() if line.startswith("| ") and "protocol" not in line}
    assert {"bow", "tiny-bert"} <= set(rows)
    bow_mean = float(rows["bow"].split("|")[3])
    assert bow_mean > 70  # the generated tasks carry a learnable signal
    assert "results" in result.out and (tmp_path / "demo" / "results" / "polyglue.sqlite").exists()
    again = cli("demo", "--runs-dir", tmp_path, "--quiet")
    assert again.code == 0 and "0 unit(s) run" in again.out
