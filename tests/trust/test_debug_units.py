"""Debug runs (`--limit`, `--max-steps`) never become results; not-comparable rows are marked in every format."""

from __future__ import annotations

import csv
import io
import json

import pytest

from tests.fixtures.core_suite import write_suite


@pytest.fixture
def suite(tmp_path):
    return write_suite(tmp_path / "s", n_cards=1), tmp_path / "runs"


def _run(cli, cards, runs, *extra):
    result = cli("run", "--suite", "core", "--cards", cards, "--model", "bow", "--runs-dir", runs, "--quiet", *extra)
    assert result.code == 0, result.err
    return result


def test_debug_units_are_warned_left_out_and_never_taken_for_the_full_unit(cli, suite):
    cards, runs = suite
    warned = _run(cli, cards, runs, "--limit", "20", "--seeds", "3")
    assert "warning: debug run (--limit 20" in warned.err

    md = cli("report", "--suite", "core", "--runs-dir", runs, "--cards", cards)
    assert md.code == 0, md.err
    assert "| bow |" not in md.out and "debug unit(s)" in md.out and "--include-debug" in md.out
    doc = json.loads(cli("report", "--suite", "core", "--runs-dir", runs, "--cards", cards, "--format", "json").out)
    assert doc["suites"][0]["rows"] == [] and doc["suites"][0]["debug_units_hidden"] == 6
    rows = list(csv.DictReader(io.StringIO(cli("report", "--suite", "core", "--runs-dir", runs, "--cards", cards, "--format", "csv").out)))
    assert not [r for r in rows if r["kind"] == "measured"]
    html = cli("report", "--suite", "core", "--runs-dir", runs, "--cards", cards, "--format", "html").out
    assert "debug unit(s)" in html and 'class="measured' not in html

    # The full run is computed (not reused from the debug units) and is the row.
    full = _run(cli, cards, runs)
    assert "2 run, 0 reused" in full.err
    doc = json.loads(cli("report", "--suite", "core", "--runs-dir", runs, "--cards", cards, "--format", "json").out)
    (row,) = doc["suites"][0]["rows"]
    assert row["seeds"] == [0] and row["comparable"] and not row["debug"] and len(row["unit_keys"]) == 2

    shown = json.loads(cli("report", "--suite", "core", "--runs-dir", runs, "--cards", cards, "--format", "json", "--include-debug").out)
    rows = shown["suites"][0]["rows"]
    assert [r["debug"] for r in rows] == [False, True]  # the full row first, the debug row after it, apart
    assert rows[1]["seeds"] == [0, 1, 2] and not rows[1]["comparable"] and "--limit 20" in rows[1]["reasons"][0]
    md = cli("report", "--suite", "core", "--runs-dir", runs, "--cards", cards, "--include-debug").out
    assert "| bow | probe (debug) |" in md and "debug run, not a result: --limit 20" in md
    text = cli("report", "--suite", "core", "--runs-dir", runs, "--cards", cards, "--include-debug", "--format", "csv").out
    statuses = {r["status"] for r in csv.DictReader(io.StringIO(text)) if r["kind"] == "measured"}
    assert statuses == {"comparable", "debug"}


def test_compare_leaves_debug_units_out(cli, suite):
    cards, runs = suite
    _run(cli, cards, runs, "--limit", "20")
    result = cli("compare", "bow", "other", "--suite", "core", "--runs-dir", runs, "--cards", cards)
    assert result.code == 2 and "no finished units of 'bow'" in result.err


def test_a_not_comparable_row_is_marked_with_its_reasons_and_gets_no_delta(tmp_path):
    from polyglue.cards.registry import Registry
    from polyglue.report.formats import leaderboard_csv, leaderboard_markdown
    from polyglue.report.html import leaderboard_html
    from polyglue.report.leaderboard import build, definitions
    from polyglue.cards.schema import Suite

    cards = write_suite(tmp_path / "s", n_cards=1)
    reg = Registry.discover([cards])
    suite, card_defs = definitions(reg, None, "core")
    suite = Suite.model_validate({**suite.model_dump(mode="json"), "references": [
        {"model": "bow", "source": "invented", "split": "test", "scores": {"core-sent0": 50.0}}]})
    base = {"suite": "core", "suite_version": suite.version, "encoder": "bow", "encoder_identity": "bow", "protocol": "probe",
            "dataset_revision": "local", "card_version": "1.0.0", "env": {}, "device": "cpu", "finished_at": "x"}
    card = card_defs["core-sent0"]
    units = [
        dict(base, key="k1", card="core-sent0", card_hash=card.content_hash()[:16], seed=0, metrics={"test": {"accuracy": 0.9}},
             extras={"comparability": {"comparable": False, "debug": False, "reasons": ["--languages cat: a subset of the card's languages"]}},
             protocol_config={}),
    ]
    board = build(suite, card_defs, units)
    (row,) = board.rows
    assert row.status == "not comparable" and board.deltas == []
    assert "probe (not comparable)" in leaderboard_markdown(board) and "a subset of the card's languages" in leaderboard_markdown(board)
    assert "not comparable" in leaderboard_csv([board]) and "a subset of the card" in leaderboard_csv([board])
    assert "not-comparable" in leaderboard_html([board]) and "a subset of the card" in leaderboard_html([board])
    units[0]["extras"]["comparability"] = {"comparable": True, "debug": False, "reasons": []}
    assert len(build(suite, card_defs, units).deltas) == 1  # the same row, comparable, does get its delta
