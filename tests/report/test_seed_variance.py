"""`bench report --columns seeds`: init vs data-order seed variance over a planted init × data grid."""

from __future__ import annotations

import json
import math

import pytest

from polyglue.report.seed_variance import decompose, source_curves
from polyglue.runs.units import Unit, UnitTask
from tests.fixtures.report_store import FixtureRuns, card_body, write_suite

#: test accuracy (fraction) per (init seed, data seed): 2 init seeds × 3 data seeds
PLANTED = {(0, 0): 0.60, (0, 1): 0.70, (0, 2): 0.65, (1, 0): 0.50, (1, 1): 0.58, (1, 2): 0.62}


def _sample_var(xs):
    m = sum(xs) / len(xs)
    return sum((x - m) ** 2 for x in xs) / (len(xs) - 1)


def _hand(grid):
    """By hand: across init (data fixed), averaged over data seeds; across data (init fixed), averaged over init seeds."""
    init = [_sample_var([grid[0, d], grid[1, d]]) for d in range(3)]
    data = [_sample_var([grid[i, 0], grid[i, 1], grid[i, 2]]) for i in range(2)]
    return sum(init) / 3, sum(data) / 2, _sample_var(list(grid.values()))


def test_given_a_planted_grid_then_the_decomposition_equals_the_hand_computation():
    d = decompose(PLANTED)
    init, data, total = _hand(PLANTED)
    assert d["init_seeds"] == [0, 1] and d["data_seeds"] == [0, 1, 2] and d["cells"] == 6 and d["complete"]
    assert math.isclose(d["init_variance"], init) and math.isclose(d["data_variance"], data) and math.isclose(d["total_variance"], total)
    # (0,0)-(1,0): 0.005, (0,1)-(1,1): 0.0072, (0,2)-(1,2): 0.00045 -> mean 0.0042167
    assert math.isclose(d["init_variance"], (0.005 + 0.0072 + 0.00045) / 3)


def test_given_a_planted_grid_then_each_seed_source_has_its_own_expected_best_curve():
    curves = source_curves(PLANTED, higher=True)
    # over init seeds (2 per data seed), n = 2 with replacement: E[max of 2 draws] = (min + 3 max) / 4, averaged over data seeds
    expected = sum((min(PLANTED[0, d], PLANTED[1, d]) + 3 * max(PLANTED[0, d], PLANTED[1, d])) / 4 for d in range(3)) / 3
    assert [p["n"] for p in curves["init"]] == [1, 2] and math.isclose(curves["init"][1]["expected"], expected)
    assert math.isclose(curves["data"][0]["expected"], sum(PLANTED.values()) / 6)  # n = 1 is the mean
    assert len(curves["data"]) == 3


def _store(tmp_path):
    root, registry = write_suite(tmp_path / "cards", {"name": "fxseeds", "version": "1.0.0", "title": "Seeds", "cards": ["fx-s"]}, [card_body("fx-s")])
    runs = FixtureRuns(tmp_path / "runs", registry, "fxseeds")
    card = runs.cards["fx-s"]
    for (init, data), score in PLANTED.items():
        config = {"name": "finetune", "data_seed": data}
        unit = Unit(suite="fxseeds", suite_version="1.0.0", card="fx-s", card_version=card.version, card_hash=card.content_hash()[:16],
                    dataset_revision=card.source.revision, encoder_identity="fixture:m", protocol="finetune", protocol_hash=f"h{data}", seed=init)
        task = UnitTask(unit=unit, encoder="m", card=card.model_dump(mode="json"), card_path=None, protocol_config=config)
        runs.store.mark_running(task, runs.run_id, "cpu")
        runs.store.mark_done(task.key, {"validation": {"accuracy": score}, "test": {"accuracy": score}}, {}, None, 0.01)
    runs.close()
    return root, tmp_path / "runs"


@pytest.mark.parametrize("fmt", ["json", "csv", "md", "html"])
def test_given_a_stored_grid_then_columns_seeds_reports_the_decomposition(cli, tmp_path, fmt):
    cards, runs = _store(tmp_path)
    result = cli("report", "--suite", "fxseeds", "--cards", cards, "--runs-dir", runs, "--columns", "seeds", "--format", fmt)
    assert result.code == 0, result.err
    init, data, total = (100 ** 2 * v for v in _hand(PLANTED))  # display units: percent
    if fmt == "json":
        [row] = json.loads(result.out)["rows"]
        assert math.isclose(row["init_variance"], init) and math.isclose(row["data_variance"], data) and math.isclose(row["total_variance"], total)
        assert len(row["grid"]) == 6 and row["expected_best_over_init_seeds"] and row["expected_best_over_data_seeds"]
    elif fmt == "csv":
        header, line = result.out.splitlines()
        assert header.startswith("suite,card,encoder") and math.isclose(float(line.split(",")[-3]), init)
    elif fmt == "md":
        assert f"| {init:.4f} | {data:.4f} | {total:.4f} |" in result.out
    else:
        assert 'src="data:image/png;base64,' in result.out and f"{data:.4f}" in result.out


def test_given_an_unknown_columns_value_then_the_error_lists_seeds(cli, tmp_path):
    cards, runs = _store(tmp_path)
    result = cli("report", "--suite", "fxseeds", "--cards", cards, "--runs-dir", runs, "--columns", "nope")
    assert result.code == 2 and "seeds" in result.err
