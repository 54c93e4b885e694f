"""The bounded feature cache: size parsing, LRU eviction within the budget, int8 storage, recompute on a miss."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from polyglue.cache_budget import parse_size, total_bytes
from polyglue.errors import UserError
from polyglue.features import FeatureCache, MissingFeatures, dequantise, quantise

DIM = 64


@pytest.fixture(autouse=True)
def _fresh_notices():
    """Cache notices are printed once per process; each test starts with none printed."""
    from polyglue.cache_budget import notice

    notice._seen.clear()


def _block(seed: int, rows: int = 100) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((rows, DIM)) * rng.uniform(0.01, 30, DIM)).astype(np.float32)


def _store(cache: FeatureCache, name: str, seed: int, codec: str = "f16"):
    ns = cache.namespace({"model": name}, DIM, codec=codec)
    with ns.writer() as writer:
        writer.add(name, _block(seed))
    return ns


@pytest.mark.parametrize("text,value", [("5MB", 5 * 10**6), ("500GB", 500 * 10**9), ("1.5GiB", int(1.5 * 2**30)), ("200kb", 200_000), ("4096", 4096), (" 2 TB ", 2 * 10**12)])
def test_sizes_parse(text, value):
    assert parse_size(text) == value


@pytest.mark.parametrize("text", ["", "5 parsecs", "-1GB", "0", "GB", "1e9", "5MB5"])
def test_bad_sizes_are_user_errors(text):
    with pytest.raises(UserError, match="cache budget"):
        parse_size(text)


def test_least_recently_used_shards_go_first_and_the_budget_holds(tmp_path):
    one = 100 * DIM * 2  # bytes of one item's data
    first = FeatureCache(tmp_path)
    a, b, c = (_store(first, name, seed) for seed, name in enumerate("abc"))
    now = time.time()
    for ns, age in ((a, 300), (b, 100), (c, 200)):  # a oldest, then c, then b
        for idx in ns.root.glob("*.idx"):
            os.utime(idx, (now - age, now - age))
    budget = 3 * one + 400
    later = FeatureCache(tmp_path, budget=budget)  # another run, same root
    _store(later, "d", 3)
    assert total_bytes(tmp_path) <= budget
    survivors = {name for name in "abcd" if name in later.namespace({"model": name}, DIM)}
    assert survivors == {"b", "c", "d"}  # the least recently used (a) was evicted
    _store(later, "e", 4)
    survivors = {name for name in "abcde" if name in later.namespace({"model": name}, DIM)}
    assert survivors == {"b", "d", "e"} and total_bytes(tmp_path) <= budget


def test_a_read_refreshes_recency(tmp_path):
    one = 100 * DIM * 2
    cache = FeatureCache(tmp_path)
    a, b = _store(cache, "a", 0), _store(cache, "b", 1)
    old = time.time() - 500
    for ns in (a, b):
        for idx in ns.root.glob("*.idx"):
            os.utime(idx, (old, old))
    reader = FeatureCache(tmp_path)
    reader.namespace({"model": "a"}, DIM).read("a")  # a is now the most recently used
    later = FeatureCache(tmp_path, budget=2 * one + 300)
    _store(later, "c", 2)
    assert "a" in later.namespace({"model": "a"}, DIM) and "b" not in later.namespace({"model": "b"}, DIM)


def test_a_run_never_evicts_its_own_features_and_keeps_the_overflow_in_memory(tmp_path, capsys):
    one = 100 * DIM * 2
    cache = FeatureCache(tmp_path, budget=2 * one + 300)
    ns = cache.namespace({"model": "m"}, DIM)
    blocks = {f"k{i}": _block(i) for i in range(4)}
    with ns.writer() as writer:
        writer.shard_bytes = 1  # one shard per item
        for key, block in blocks.items():
            writer.add(key, block)
    assert total_bytes(tmp_path) <= 2 * one + 300
    assert len(list(ns.root.glob("*.idx"))) == 2  # the first two were stored, the others are in memory
    for key, block in blocks.items():  # every item reads back, stored or not
        assert np.array_equal(ns.read(key), block.astype(np.float16))
    assert "budget" in capsys.readouterr().err


def test_a_budget_smaller_than_one_item_stores_nothing_and_says_so_once(tmp_path, capsys):
    cache = FeatureCache(tmp_path, budget=1000, spill_bytes=0)
    ns = cache.namespace({"model": "m"}, DIM)
    with ns.writer() as writer:
        writer.add("x", _block(0))
        writer.add("y", _block(1))
    assert total_bytes(tmp_path) == 0
    with pytest.raises(MissingFeatures):
        ns.read("x")
    err = capsys.readouterr().err.strip().splitlines()
    assert len([line for line in err if "smaller than one item" in line]) == 1


def test_an_unwritable_cache_directory_means_recomputing_not_failing(tmp_path, capsys):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")  # mkdir under a file fails even for root
    ns = FeatureCache(blocker / "features").namespace({"model": "m"}, DIM)
    with ns.writer() as writer:
        writer.add("x", _block(0))
    assert np.array_equal(ns.read("x"), _block(0).astype(np.float16))  # kept in memory, this run only
    assert "cannot write" in capsys.readouterr().err
    assert "x" not in FeatureCache(blocker / "features").namespace({"model": "m"}, DIM)


def test_a_full_disk_leaves_no_partial_entry(tmp_path, monkeypatch, capsys):
    cache = FeatureCache(tmp_path, spill_bytes=0)
    ns = cache.namespace({"model": "m"}, DIM)
    real_fsync = os.fsync

    def full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with ns.writer() as writer:
        writer.add("x", _block(0))
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert "No space left" in capsys.readouterr().err
    assert sorted(p.name for p in ns.root.iterdir()) == ["meta.json"]  # no shard, no tmp file
    assert "x" not in FeatureCache(tmp_path).namespace({"model": "m"}, DIM)


def test_a_shard_evicted_by_another_process_reads_as_missing(tmp_path):
    cache = FeatureCache(tmp_path)
    ns = _store(cache, "a", 0)
    other = FeatureCache(tmp_path).namespace({"model": "a"}, DIM)
    for path in ns.root.glob("shard-*"):
        path.unlink()
    with pytest.raises(MissingFeatures):
        other.read("a")
    assert "a" not in other


def _within_int8_tolerance(back: np.ndarray, block: np.ndarray) -> bool:
    """The stated tolerance: half a quantisation step per channel (max|channel| / 254), plus fp16 rounding."""
    back = back.astype(np.float32)
    bound = np.abs(block).max(axis=0) / 254 + np.abs(back) * 2**-11
    return bool((np.abs(back - block) <= bound * (1 + 1e-6) + 1e-7).all())


def test_int8_storage_is_within_the_stated_tolerance_and_about_half_the_size(tmp_path):
    block = _block(7, rows=400)
    scales, q = quantise(block)
    assert _within_int8_tolerance(dequantise(scales, q), block)
    assert not _within_int8_tolerance(dequantise(scales, q) + 0.5, block)  # the check can fail
    cache = FeatureCache(tmp_path)
    f16 = _store(cache, "a", 7)
    q8 = cache.namespace({"model": "a"}, DIM, codec="q8")
    with q8.writer() as writer:
        writer.add("a", _block(7))
    assert q8.root != f16.root  # the stored form is part of the namespace key
    size = lambda ns, ext: sum(p.stat().st_size for p in ns.root.glob(f"*.{ext}"))
    assert size(q8, "q8") == 100 * DIM + 4 * DIM and size(f16, "f16") == 100 * DIM * 2
    reread = FeatureCache(tmp_path).namespace({"model": "a"}, DIM, codec="q8")
    full = reread.read("a")
    assert full.dtype == np.float16 and np.array_equal(reread.read("a", 10, 5), full[10:15])
    assert _within_int8_tolerance(full, _block(7))
