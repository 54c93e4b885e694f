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
