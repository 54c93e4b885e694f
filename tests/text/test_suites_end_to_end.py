"""Every shipped text card runs end to end through `bench run --data-dir` on its generated mirror.

Per suite, two CLI runs: `bow` + a tiny random BERT fine-tuned for 2 steps, then the tiny
BERT probed. Each (card, encoder, protocol) must be stored as done, with every metric of
every scored split, one prediction record per scored example, metrics that can be
recomputed from those records alone, and the choices the runner made.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from polyglue import metrics as metric_lib
from polyglue.cards.registry import Registry
from polyglue.cli import main
from polyglue.runs.store import Store
from polyglue.langkits.registry import get_kit
from tests.text.conftest import SUITES

LIMIT = 16
REGISTRY = Registry.discover()
CARDS = [(suite, name) for suite in SUITES for name in REGISTRY.suite(suite).suite.cards]
UNITS = [("bow", "probe"), ("tiny", "finetune"), ("tiny", "probe")]


@pytest.fixture(scope="module")
def runs(text_data, text_bert, tmp_path_factory):
    runs_dir = tmp_path_factory.mktemp("text-runs")
    # One seed everywhere (the Greek suite's own default is 3): one unit per (card, encoder, protocol).
    common = ["--max-steps", "2", "--limit", str(LIMIT), "--seeds", "1", "--data-dir", text_data, "--runs-dir", runs_dir, "-q"]
    codes = {}
    for suite in SUITES:
        codes[suite, "finetune"] = main([str(a) for a in ["run", "--suite", suite, "--model", "bow", "--model", f"tiny=hf:{text_bert}", "--protocol", "finetune", *common]])
        codes[suite, "probe"] = main([str(a) for a in ["run", "--suite", suite, "--model", f"tiny=hf:{text_bert}", "--protocol", "probe", *common]])
    store = Store(runs_dir)
    units = store.units(status=None)
    store.close()
    return runs_dir, codes, units


def test_every_run_exits_zero(runs):
    _, codes, units = runs
    failed = [(u["card"], u["encoder"], u["protocol"], u["error"]) for u in units if u["status"] != "done"]
    assert failed == []
    assert codes == {key: 0 for key in codes}


def test_every_text_card_is_covered():
    shipped = {p.stem for suite in SUITES for p in (REGISTRY.suites[suite].path.parent).glob("*.yaml") if p.stem != "suite"}
    assert shipped == {name for _, name in CARDS}


def _gold_units(card, value):
    """Record values -> the units `metrics.compute` takes (class positions for classification)."""
    if card.task in ("single-classification", "pair-classification"):
        return [card.labels.index(v) for v in value]
    return value


def _check_record_types(card, rec):
    if card.task in ("single-classification", "pair-classification"):
        assert rec["gold"] in card.labels and rec["pred"] in card.labels
    elif card.task == "regression":
        assert isinstance(rec["gold"], float) and isinstance(rec["pred"], float)
    elif card.task == "token-classification":
        assert len(rec["gold"]) == len(rec["pred"]) > 0
        assert set(rec["gold"]) | set(rec["pred"]) <= set(card.labels)
    elif card.task == "extractive-qa":
        assert isinstance(rec["pred"], str) and all(isinstance(g, str) for g in rec["gold"]) and rec["gold"]
    else:
        assert isinstance(rec["pred"], str) and isinstance(rec["gold"], str) and rec["gold"]


@pytest.mark.parametrize(("suite", "card_name"), CARDS, ids=[c for _, c in CARDS])
@pytest.mark.parametrize(("encoder", "protocol"), UNITS, ids=["-".join(u) for u in UNITS])
def test_card_runs_and_its_metrics_replay_from_predictions(runs, suite, card_name, encoder, protocol):
    runs_dir, _, units = runs
    card = REGISTRY.card(card_name).card
    kit = get_kit(card.langkit)
    [unit] = [u for u in units if u["card"] == card_name and u["encoder"] == encoder and u["protocol"] == protocol]
    assert unit["status"] == "done", unit["error"]
    scored = card.splits.scored_roles()
    assert set(unit["metrics"]) == set(scored)
    for role in scored:
        assert set(unit["metrics"][role]) == set(card.metrics)
        assert all(math.isfinite(v) and -1.0 <= v <= 1.0 for v in unit["metrics"][role].values())

    records = [json.loads(line) for line in (runs_dir / unit["predictions_path"]).read_text(encoding="utf-8").splitlines()]
    for role in scored:
        mine = [r for r in records if r["split"] == role]
        if card.task == "multiple-choice" and card_name == "chid":
            assert len(mine) >= LIMIT  # one question per idiom blank
        else:
            assert len(mine) == LIMIT
        assert len({r["id"] for r in mine}) == len(mine)
        for rec in mine:
            _check_record_types(card, rec)
        replayed = metric_lib.compute(card.metrics, _gold_units(card, [r["gold"] for r in mine]), _gold_units(card, [r["pred"] for r in mine]), kit=kit)
        assert replayed == pytest.approx(unit["metrics"][role], abs=1e-9)
    assert {r["split"] for r in records} == set(scored)  # hidden-label splits are never predicted

    extras = unit["extras"]
    assert extras["timings"]["total_s"] > 0
    if protocol == "finetune":
        assert extras["selection"]["learning_rate"] == card.protocol.learning_rate
        assert extras["selection"]["epoch"] > 0
        assert extras["training"]["steps"] == 2
        assert 0 < extras["training"]["real_token_fraction"] <= 1
        if card.train_from:  # zero-shot: trained on the other card, checkpoint chosen on its validation split
            assert extras["selection"]["on"] == f"{card.train_from} validation"
            assert extras["n_examples"]["train"] == LIMIT
        assert extras["efficiency"]["flops_per_example"] > 0 and extras["parameters"]["trainable"] > 0
        # throughput is the scored splits' own prediction pass, at its batch size
        assert extras["efficiency"]["throughput_source"] == "unit prediction pass"
        assert extras["efficiency"]["throughput_batch_size"] == 2 * extras["training"]["batch_size"]
    elif card.task != "multiple-choice" or encoder != "bow":
        assert extras["selection"]
    if protocol == "probe" and (encoder != "bow" or card.task in ("single-classification", "pair-classification", "regression")):
        # the whole inference path of every probe (bow's lexical token/QA/choice baselines have no model to measure)
        record = extras["efficiency"]
        assert record["flops_per_example"] > 0 and record["latency_ms_batch1"] > 0 and record["throughput_per_s"] > 0
        assert 0 < record["parameters"]["trainable"] <= record["parameters"]["total"]
        assert (record["parameters"]["trainable"] < record["parameters"]["total"]) == (encoder != "bow")  # the encoder is frozen
        if card.task in ("single-classification", "pair-classification", "regression"):
            # bow's evaluation pass is its inference path; an hf: probe's pass reads the feature cache, so batches are measured
            assert record["throughput_source"] == ("unit prediction pass" if encoder == "bow" else "measured batches")


@pytest.mark.parametrize("suite", SUITES)
def test_report_shows_the_suite_aggregate_for_every_row(runs, suite, capsys):
    runs_dir, _, _ = runs
    capsys.readouterr()
    assert main(["report", "--suite", suite, "--runs-dir", str(runs_dir), "--include-debug"]) == 0  # --max-steps/--limit runs are debug rows
    lines = capsys.readouterr().out.splitlines()
    table = [line for line in lines if line.startswith("| ") and "protocol" not in line and "(published)" not in line]
    assert len(table) == 3  # bow/probe, tiny/finetune, tiny/probe (published reference rows are listed apart)
    for line in table:
        aggregate = line.split("|")[3].strip()
        assert re.fullmatch(r"-?\d+\.\d\d", aggregate), line


TRANSFER_SUITES = [s for s in SUITES if any(REGISTRY.card(c).card.train_from for c in REGISTRY.suite(s).suite.cards)]


@pytest.mark.parametrize("suite", TRANSFER_SUITES)
def test_transfer_view_shows_in_distribution_shifted_score_and_gap(runs, suite, capsys):
    runs_dir, _, units = runs
    capsys.readouterr()
    assert main(["report", "--suite", suite, "--runs-dir", str(runs_dir), "--columns", "transfer", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    zero_shot = [c for c in REGISTRY.suite(suite).suite.cards if REGISTRY.card(c).card.train_from]
    assert {r["card"] for r in rows} == set(zero_shot)
    for row in rows:
        if row["protocol"] == "(published)":
            continue
        # fine-tuned and probed models alike: the probe's in-distribution score is its selection score
        [unit] = [u for u in units if u["card"] == row["card"] and u["encoder"] == row["encoder"] and u["protocol"] == row["protocol"]]
        card = REGISTRY.card(row["card"]).card
        assert row["in_distribution"] == pytest.approx(100 * unit["extras"]["selection"]["score"])
        assert row["shifted"] == pytest.approx(100 * unit["metrics"][card.report_split][card.main_metric])
        assert row["gap"] == pytest.approx(row["shifted"] - row["in_distribution"])
    # the suite's published rows for its zero-shot cards, main metric, with their source
    expected = {(ref.model, c): ref.scores.get(c, ref.scores.get(f"{c}.{REGISTRY.card(c).card.main_metric}"))
                for ref in REGISTRY.suite(suite).suite.references for c in zero_shot}
    published = {(r["encoder"], r["card"]): r["shifted"] for r in rows if r["protocol"] == "(published)"}
    assert published == {k: v for k, v in expected.items() if v is not None}
    assert all(r["source"] for r in rows if r["protocol"] == "(published)")
