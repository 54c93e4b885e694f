"""`--data-seeds` on a speech card: the head's initialisation follows `--seeds`, the batch order the data seed."""

from __future__ import annotations

from tests.fixtures.store_rows import stored_units


def test_given_data_seeds_on_a_speech_card_then_each_unit_records_both_sources(cli, kathbath_dir, tmp_path):
    result = cli("run", "--suite", "indicsuperb", "--tasks", "indicsuperb-ks", "--model", "fbank", "--seeds", "1", "--data-seeds", "0,1",
                 "--max-steps", "2", "--limit", "3", "--data-dir", kathbath_dir, "--runs-dir", tmp_path, "-q")
    assert result.code == 0, result.err
    # extras["selection"] holds one record per head: per language, or "all" for a pooled one
    by_seed = {u["protocol_config"]["data_seed"]: u["extras"]["selection"] for u in stored_units(tmp_path)}
    assert set(by_seed) == {0, 1} and set(by_seed[0]) == set(by_seed[1]) and by_seed[0]
    for head in by_seed[0]:
        a, b = by_seed[0][head]["seeds"], by_seed[1][head]["seeds"]
        assert [(a["init"], a["data"]), (b["init"], b["data"])] == [(0, 0), (0, 1)]
        assert a["trainable_init_sha256"] == b["trainable_init_sha256"]
        assert a["first_batches"] != b["first_batches"]
