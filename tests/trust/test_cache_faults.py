"""A truncated feature shard or a garbled index line is dropped and recomputed with one warning, never a crash."""

from __future__ import annotations

import numpy as np

from polyglue.features import FeatureCache


def _fill(ns, keys):
    calls = []

    def compute(batch):
        calls.extend(batch)
        return [np.full((2, 4), float(x), dtype=np.float32) for x in batch]

    ns.fill([f"k{x}" for x in keys], keys, compute)
    return calls


def test_truncated_shard_and_garbled_index_are_dropped_recomputed_and_warned(tmp_path, capsys):
    identity = {"encoder": "x"}
    ns = FeatureCache(tmp_path).namespace(identity, dim=4)
    assert _fill(ns, [1, 2, 3]) == [1, 2, 3]
    (shard,) = ns.root.glob("shard-*.f16")
    index = shard.with_suffix(".idx")
    lines = index.read_bytes().splitlines(keepends=True)
    index.write_bytes(lines[0] + b'{"not": "a list"}\n\xff\xfe garbage\n' + lines[1] + lines[2])
    shard.write_bytes(shard.read_bytes()[: 2 * 4 * 2 * 2 + 3])  # k1 and k2 intact, k3 cut short
    capsys.readouterr()

    again = FeatureCache(tmp_path).namespace(identity, dim=4)
    warning = capsys.readouterr().err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith("warning: feature cache") and "3 entries" in warning[0]
    assert "k1" in again and "k2" in again and "k3" not in again
    assert _fill(again, [1, 2, 3]) == [3]  # only the lost entry is recomputed
    assert np.array_equal(again.get("k3"), np.full((2, 4), 3.0, dtype=np.float16))
    third = FeatureCache(tmp_path).namespace(identity, dim=4)
    assert all(k in third for k in ("k1", "k2", "k3"))
