"""The content-addressed fp16 feature cache."""

from __future__ import annotations

import numpy as np
import pytest

from polyglue.features import FeatureCache, content_key


def test_items_round_trip_in_fp16_and_are_found_again_by_content(tmp_path):
    cache = FeatureCache(tmp_path)
    ns = cache.namespace({"encoder": "x", "layer": 3}, dim=4)
    rng = np.random.default_rng(0)
    blocks = {content_key(f"utt{i}"): rng.normal(size=(i + 1, 4)).astype(np.float32) for i in range(5)}
    computed = ns.fill(list(blocks), list(blocks.values()), lambda batch: batch, batch_size=2)
    assert computed == 5
    again = FeatureCache(tmp_path).namespace({"encoder": "x", "layer": 3}, dim=4)
    assert len(again) == 5
    for key, block in blocks.items():
        got = again.get(key)
        assert got.dtype == np.float16 and got.shape == block.shape
        np.testing.assert_allclose(got, block, rtol=1e-3, atol=1e-3)
    assert again.fill(list(blocks), list(blocks.values()), lambda batch: pytest.fail("recomputed")) == 0


def test_storage_is_two_bytes_per_value_plus_a_small_index(tmp_path):
    ns = FeatureCache(tmp_path).namespace({"e": 1}, dim=8)
    ns.fill([content_key(i) for i in range(10)], [np.ones((20, 8))] * 10, lambda b: b)
    data = sum(p.stat().st_size for p in ns.root.glob("*.f16"))
    assert data == 10 * 20 * 8 * 2


def test_another_encoder_configuration_never_sees_these_features(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.namespace({"encoder": "a"}, dim=2).fill(["k"], [np.ones(2)], lambda b: b)
    assert "k" not in cache.namespace({"encoder": "b"}, dim=2)


def test_a_crash_while_writing_leaves_no_visible_partial_shard(tmp_path):
    ns = FeatureCache(tmp_path).namespace({"e": 1}, dim=2)

    calls = []

    def explode(batch):
        calls.append(batch)
        if len(calls) == 2:  # the first batch is already in the private .tmp shard
            raise RuntimeError("killed mid-way")
        return batch

    with pytest.raises(RuntimeError):
        ns.fill(["a", "b", "c"], [np.ones(2)] * 3, explode, batch_size=1)
    assert list(ns.root.glob("shard-*")) == []
    assert len(FeatureCache(tmp_path).namespace({"e": 1}, dim=2)) == 0


def test_list_and_clear_account_for_space(tmp_path):
    cache = FeatureCache(tmp_path)
    cache.namespace({"e": 1}, dim=2).fill(["a"], [np.ones((3, 2))], lambda b: b)
    (entry,) = cache.list()
    assert entry["items"] == 1 and entry["bytes"] >= 12
    assert cache.clear() >= 12 and cache.list() == []
