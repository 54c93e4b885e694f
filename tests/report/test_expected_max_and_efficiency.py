"""`bench report --expected-max` (Dodge et al. 2019) and `--columns efficiency`, from a store written in code."""

from __future__ import annotations

import itertools
import json
import math

import pytest

from polyglue.report.expected_max import curve, expected_max, unit_trials
from polyglue.runs.units import Unit, UnitTask
from tests.fixtures.report_store import FixtureRuns, card_body, write_suite

# a 3 learning rates x 2 seeds grid, with a tie
GRID = [0.61, 0.70, 0.70, 0.52, 0.66, 0.58]


def brute_force(scores: list[float], n: int, *, replacement: bool) -> float:
    """Mean of the maximum over every n-draw: all ordered tuples with replacement, all subsets without."""
    draws = list(itertools.product(scores, repeat=n)) if replacement else list(itertools.combinations(scores, n))
    return sum(max(d) for d in draws) / len(draws)


@pytest.mark.parametrize("replacement", [True, False])
def test_given_a_small_grid_then_the_estimator_equals_brute_force_over_every_draw(replacement):
    for n in range(1, len(GRID) + 1):
        assert math.isclose(expected_max(GRID, n, replacement=replacement), brute_force(GRID, n, replacement=replacement), rel_tol=1e-12)
    points = curve(GRID, replacement=replacement)
    assert math.isclose(points[0]["expected"], sum(GRID) / len(GRID))
    assert all(a["expected"] <= b["expected"] + 1e-12 for a, b in zip(points, points[1:]))
    if not replacement:
        assert points[-1]["expected"] == max(GRID) and points[-1]["spread"] == 0.0


def test_given_a_lower_is_better_metric_then_the_curve_is_the_expected_minimum():
    points = curve(GRID, higher=False, replacement=False)
    for p in points:
        draws = list(itertools.combinations(GRID, p["n"]))
        assert math.isclose(p["expected"], sum(min(d) for d in draws) / len(draws))


def test_given_finetune_and_probe_selections_then_each_grid_value_is_one_trial_at_its_best_epoch():
    unit = {"seed": 1, "extras": {"selection": {"metric": "accuracy", "history": {
        "0.001": [{"epoch": 1, "validation": 0.5}, {"epoch": 2, "validation": 0.75}],
        "1e-05": [{"epoch": 1, "validation": 0.6}, {"epoch": 2, "validation": float("nan")}],
    }}}}
    assert unit_trials(unit) == ("learning_rate", [{"seed": 1, "data_seed": 1, "value": 0.001, "score": 0.75},
                                                   {"seed": 1, "data_seed": 1, "value": 1e-05, "score": 0.6}])
    probe = {"seed": 0, "extras": {"selection": {"parameter": "C", "chosen": 1.0, "validation_scores": {"0.1": 0.4, "1.0": 0.7}}}}
    assert unit_trials(probe)[0] == "C" and [t["score"] for t in unit_trials(probe)[1]] == [0.4, 0.7]


def _store(tmp_path):
    root, registry = write_suite(tmp_path / "cards", {"name": "fxbudget", "version": "1.0.0", "title": "Budget", "cards": ["fx-b"]}, [card_body("fx-b")])
    runs = FixtureRuns(tmp_path / "runs", registry, "fxbudget")
    card = runs.cards["fx-b"]
    lrs = ["0.0001", "3e-05", "1e-05"]
    for seed in range(2):
        history = {lr: [{"epoch": 1, "validation": GRID[seed * 3 + i] - 0.1}, {"epoch": 2, "validation": GRID[seed * 3 + i]}] for i, lr in enumerate(lrs)}
        extras = {
            "selection": {"on": "validation", "metric": "accuracy", "learning_rate": 1e-4, "epoch": 2, "score": 0.7, "history": history},
            "efficiency": {"parameters": {"total": 1000, "trainable": 100 + seed}, "latency_ms_batch1": 2.0 + seed, "throughput_per_s": 50.0,
                           "peak_memory_mb": 300.0, "flops_per_example": 4000 + 2 * seed, "throughput_batch_size": 16, "device": "cpu"},
        }
        unit = Unit(suite="fxbudget", suite_version="1.0.0", card="fx-b", card_version=card.version, card_hash=card.content_hash()[:16],
                    dataset_revision=card.source.revision, encoder_identity="fixture:m", protocol="finetune", protocol_hash="fixture", seed=seed)
        task = UnitTask(unit=unit, encoder="m", card=card.model_dump(mode="json"), card_path=None, protocol_config={"name": "finetune"})
        runs.store.mark_running(task, runs.run_id, "cpu")
        runs.store.mark_done(task.key, {"validation": {"accuracy": 0.7}, "test": {"accuracy": 0.6 + 0.1 * seed}}, extras, None, 0.01)
    runs.close()
    return root, tmp_path / "runs"


def test_given_a_stored_grid_then_report_expected_max_gives_the_curve_in_json_csv_md_and_html(cli, tmp_path):
    cards, runs = _store(tmp_path)
    result = cli("report", "--suite", "fxbudget", "--cards", cards, "--runs-dir", runs, "--expected-max", "--format", "json")
    assert result.code == 0, result.err
    [doc] = json.loads(result.out)["curves"]
    assert doc["n_trials"] == 6 and doc["seeds"] == [0, 1] and len(doc["values"]) == 3
    for point in doc["expected_best"]:
        assert math.isclose(point["expected"], brute_force(GRID, point["n"], replacement=True))
    for point in doc["expected_best_without_replacement"]:
        assert math.isclose(point["expected"], brute_force(GRID, point["n"], replacement=False))
    csv_out = cli("report", "--suite", "fxbudget", "--cards", cards, "--runs-dir", runs, "--expected-max", "--format", "csv").out.splitlines()
    assert csv_out[0].startswith("suite,card,encoder") and len(csv_out) == 1 + 6
    md = cli("report", "--suite", "fxbudget", "--cards", cards, "--runs-dir", runs, "--expected-max").out
    assert "6 trials = 3 learning_rate value(s) × 2 seed(s)" in md and f"| 6 | {100 * brute_force(GRID, 6, replacement=True):.2f} |" in md
    page = cli("report", "--suite", "fxbudget", "--cards", cards, "--runs-dir", runs, "--expected-max", "--format", "html").out
    assert "<img alt=\"expected best validation score against trials\" src=\"data:image/png;base64," in page


def test_given_stored_figures_then_columns_efficiency_shows_them_beside_the_score(cli, tmp_path):
    cards, runs = _store(tmp_path)
    data = json.loads(cli("report", "--suite", "fxbudget", "--cards", cards, "--runs-dir", runs, "--columns", "efficiency", "--format", "json").out)
    [row] = data["rows"]
    assert math.isclose(row["score"], 65.0) and row["params_trainable"] == 100.5 and row["flops_per_example"] == 4001
    assert row["latency_ms_batch1"] == 2.5 and row["device"] == "cpu" and row["throughput_batch_size"] == 16
    md = cli("report", "--suite", "fxbudget", "--cards", cards, "--runs-dir", runs, "--columns", "efficiency").out
    assert "| fx-b | m | finetune | 65.00 accuracy | 1,000 | 100 | 2.50 | 50.00 | 300.00 | 4,001 | cpu |" in md
    csv_lines = cli("report", "--suite", "fxbudget", "--cards", cards, "--runs-dir", runs, "--columns", "efficiency", "--format", "csv").out.splitlines()
    assert "flops_per_example" in csv_lines[0] and len(csv_lines) == 2
    page = cli("report", "--suite", "fxbudget", "--cards", cards, "--runs-dir", runs, "--columns", "efficiency", "--format", "html").out
    assert "score against FLOPs per example" in page
    bad = cli("report", "--suite", "fxbudget", "--cards", cards, "--runs-dir", runs, "--columns", "speed")
    assert bad.code == 2 and "--columns speed" in bad.err
