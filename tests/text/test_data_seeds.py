"""Two seed sources (Dodge et al. 2020): `--seeds` drives the head/adapter initialisation, `--data-seeds`
the batch order and dropout; both are in the unit key and the store, and a plain run is unchanged."""

from __future__ import annotations

import pytest

from polyglue import api


def _keys(data_dir, **kw):
    planned, _ = api.plan("glue", ["bow"], tasks=["sst2"], data_dir=data_dir, **kw)
    return [(t.unit.seed, t.protocol_config.get("data_seed"), t.key) for t in planned.tasks]


def test_given_no_data_seeds_then_the_units_and_their_keys_are_as_before(text_data):
    plain = _keys(text_data, seeds=2)
    assert [(s, d) for s, d, _ in plain] == [(0, None), (1, None)]
    grid = _keys(text_data, seeds=2, data_seeds=[0, 5])
    assert [(s, d) for s, d, _ in grid] == [(0, 0), (0, 5), (1, 0), (1, 5)]
    assert len({k for *_, k in grid}) == 4 and not {k for *_, k in grid} & {k for *_, k in plain}


@pytest.mark.parametrize("value", ["1,x", "1,1", "-1"])
def test_given_bad_data_seeds_then_one_line_and_exit_2(cli, text_data, tmp_path, value):
    result = cli("run", "--suite", "glue", "--tasks", "sst2", "--model", "bow", f"--data-seeds={value}", "--data-dir", text_data, "--runs-dir", tmp_path)
    assert result.code == 2 and "--data-seeds" in result.err and "Traceback" not in result.err


@pytest.fixture(scope="module")
def grid_units(text_data, text_bert, tmp_path_factory):
    from polyglue.cli import main
    from polyglue.runs.store import Store

    runs = tmp_path_factory.mktemp("seed-grid")
    code = main([str(a) for a in ["run", "--suite", "glue", "--tasks", "sst2", "--model", f"tiny=hf:{text_bert}", "--protocol", "finetune",
                                  "--seeds", "2", "--data-seeds", "0,1", "--max-steps", "2", "--batch-size", "4", "--limit", "16",
                                  "--data-dir", text_data, "--runs-dir", runs, "-q"]])
    assert code == 0
    store = Store(runs)
    units = store.units(status=None)
    store.close()
    return {(u["seed"], u["protocol_config"]["data_seed"]): u for u in units}


def test_given_the_same_init_seed_and_another_data_seed_then_the_initial_weights_match_and_the_batch_order_differs(grid_units):
    assert set(grid_units) == {(0, 0), (0, 1), (1, 0), (1, 1)}
    seeds = {cell: u["extras"]["seeds"] for cell, u in grid_units.items()}
    for init in (0, 1):
        a, b = seeds[init, 0], seeds[init, 1]
        assert a["trainable_init_sha256"] == b["trainable_init_sha256"]
        assert a["first_batches"] != b["first_batches"]
        assert (a["init"], a["data"], b["data"]) == (init, 0, 1)


def test_given_the_same_data_seed_and_another_init_seed_then_the_batch_order_matches_and_the_initial_weights_differ(grid_units):
    seeds = {cell: u["extras"]["seeds"] for cell, u in grid_units.items()}
    for data in (0, 1):
        a, b = seeds[0, data], seeds[1, data]
        assert a["first_batches"] == b["first_batches"] and len(a["first_batches"][0]) == 4
        assert a["trainable_init_sha256"] != b["trainable_init_sha256"]
