"""The numpy bow featuriser and the probe's memory-saving steps keep the features they replace.

The bow encoder hashes n-grams with numpy instead of scikit-learn's per-text analyzers;
its n-grams must be exactly scikit-learn's (same tokens, same counts), only the columns
differ. The probe's chunked pair features, block stacking and in-place scaling must give
the matrices the one-shot versions give.
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
from scipy import sparse

from polyglue.langkits.encoders import bow
from polyglue.langkits.protocols import probe

TEXTS = [
    "Hello world, hello!", "  Ça va? Très bien_ok 12 ", "", "a", "中文没有空格的句子。", "x  y\tz\nw",
    "İstanbul ΣΟΦΙΑ σοφία", "ab cd ab cd ab", "emoji 🙂🙂 outside the BMP", "tab\u00a0nbsp\u2003em-space",
]


def _sklearn_counts(texts):
    from sklearn.feature_extraction.text import HashingVectorizer

    words = HashingVectorizer(analyzer="word", ngram_range=(1, 2), token_pattern=r"(?u)\b\w+\b").build_analyzer()
    chars = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 4)).build_analyzer()
    return [(sorted(collections.Counter(words(t)).values()), sorted(collections.Counter(chars(t)).values())) for t in texts]


def _our_counts(matrix, n_features):
    out = []
    for i in range(matrix.shape[0]):
        row = matrix.getrow(i)
        blocks = []
        for part in (row.data[row.indices < n_features], row.data[row.indices >= n_features]):
            # Each block is L2-normalised counts: dividing by the smallest entry recovers the counts' ratios.
            blocks.append(sorted(np.rint(part / part.min()).astype(int).tolist()) if len(part) else [])
        out.append(tuple(blocks))
    return out


def test_bow_ngrams_are_scikit_learns_with_unit_norm_rows():
    n_features = 2**22  # wide enough that these few n-grams do not collide
    matrix = bow.BowEncoder(n_features=n_features).encode(TEXTS)
    assert matrix.shape == (len(TEXTS), 2 * n_features) and matrix.dtype == np.float32 and matrix.has_canonical_format
    expected = [(_scale(w), _scale(c)) for w, c in _sklearn_counts(TEXTS)]
    assert _our_counts(matrix, n_features) == expected
    norms = np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel()
    both = [bool(w) and bool(c) for w, c in expected]
    np.testing.assert_allclose(norms[both], 1.0, rtol=1e-5)
    assert norms[TEXTS.index("")] == 0.0


def _scale(counts):
    return [round(c / min(counts)) for c in counts] if counts else []


def test_bow_rows_do_not_depend_on_batching(monkeypatch):
    texts = [f"sentence {i} with words w{i % 7} and more w{i % 3}" for i in range(300)]
    whole = bow.BowEncoder().encode(texts)
    monkeypatch.setattr(bow, "BATCH_CHARS", 100)
    batched = bow.BowEncoder().encode(texts)
    assert bow.BowEncoder.rows_independent
    assert (whole != batched).nnz == 0 and whole.shape == batched.shape


def test_pair_features_in_chunks_equal_one_shot():
    texts = [f"premise {i} says w{i % 5}" for i in range(50)]
    pairs = [f"hypothesis {i} says w{i % 4}" for i in range(50)]
    featurizer = probe._Featurizer.__new__(probe._Featurizer)
    featurizer.encoder, featurizer.label = bow.BowEncoder(), "bow"
    featurizer.chunk = None
    one_shot = featurizer(texts, pairs)
    featurizer.chunk = 7
    chunked = featurizer(texts, pairs)
    assert chunked.shape == one_shot.shape and abs(chunked - one_shot).max() == 0


@pytest.mark.parametrize("kind", ["sparse", "dense"])
def test_stack_rows_and_in_place_scaling_match_the_copying_versions(kind):
    blocks = [sparse.random(n, 40, density=0.1, format="csr", random_state=n, dtype=np.float32) for n in (5, 1, 9)]
    if kind == "dense":
        blocks = [b.toarray() for b in blocks]
    expected = sparse.vstack(blocks, format="csr") if kind == "sparse" else np.vstack(blocks)
    stacked = probe._stack_rows(list(blocks))
    assert (abs(stacked - expected).max()) == 0
    other = blocks[0].copy()
    if kind == "sparse":
        keep = np.flatnonzero(expected.getnnz(axis=0))
        want = (expected[:, keep].toarray(), other[:, keep].toarray())
    else:
        mean, std = expected.mean(0), expected.std(0) + 1e-6
        want = ((expected - mean) / std, (other - mean) / std)
    got = probe._scaled(stacked.copy(), other.copy())
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g.toarray() if sparse.issparse(g) else g, w)


def test_bow_reports_its_tokenisation_and_feature_time_apart():
    encoder = bow.BowEncoder()
    assert encoder.seconds == {"tokenise": 0.0, "features": 0.0}
    encoder.encode(TEXTS * 50)
    first = dict(encoder.seconds)
    assert first["tokenise"] > 0 and first["features"] > 0
    encoder.encode(TEXTS)
    assert all(encoder.seconds[k] > first[k] for k in first)  # running totals: callers take differences


def test_unit_timings_split_encode_into_tokenise_and_features():
    phases = probe._Phases()
    phases.seconds.update({"load_s": 1.0, "normalise_s": 0.5, "featurise_s": 4.0, "fit_s": 9.0})
    split = phases.timings(1.5)
    assert split["encode_s"] == 4.5 and split["tokenise_s"] == 2.0 and split["features_s"] == 2.5
    assert "tokenise_s" not in phases.timings(None) and phases.timings(None)["encode_s"] == 4.5  # encoders that do not report it


def test_a_bow_unit_stores_the_split_and_never_imports_torch(tmp_path):
    """The weight-free unit's phases add up, and its efficiency figures do not import torch to learn the device is the CPU."""
    import json
    import sqlite3
    import subprocess
    import sys

    script = f"""
import sys
from tests.fixtures.core_suite import write_suite
from polyglue.cli import main
cards = write_suite({str(tmp_path / 's')!r}, n_cards=1)
code = main(["run", "--suite", "core", "--cards", str(cards), "--tasks", "core-sent0", "--model", "bow", "--runs-dir", {str(tmp_path / 'runs')!r}, "--quiet"])
assert code == 0, code
assert "torch" not in sys.modules, "a bow unit imported torch"
"""
    env = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "POLYGLUE_CACHE": str(tmp_path / "cache"), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", script], cwd=str(__import__("pathlib").Path(__file__).resolve().parents[2]), env=env,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    conn = sqlite3.connect(tmp_path / "runs" / "polyglue.sqlite")
    (extras,) = conn.execute("SELECT extras_json FROM units").fetchone()
    timings = json.loads(extras)["timings"]
    assert {"load_s", "tokenise_s", "features_s", "fit_s", "import_s", "encode_s", "total_s"} <= set(timings)
    assert abs(timings["tokenise_s"] + timings["features_s"] - timings["encode_s"]) <= 0.002  # rounded to ms each
    assert timings["load_s"] + timings["encode_s"] + timings["import_s"] + timings["fit_s"] <= timings["total_s"]
