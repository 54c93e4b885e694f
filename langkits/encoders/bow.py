"""The weight-free bag-of-n-grams baseline: hashed word 1–2-grams and character 2–4-grams.

Character n-grams make it work for scripts without spaces (Chinese) and for rich
morphology (Greek, Catalan); hashing keeps memory fixed whatever the vocabulary.

The features are those of scikit-learn's `HashingVectorizer` (`analyzer="word"` with
`token_pattern=r"\\b\\w+\\b"`, and `analyzer="char_wb"`; lowercased, counts, each block
L2-normalised), but the n-grams are hashed by vectorised numpy over a whole batch of
texts instead of scikit-learn's per-text Python analyzers, which were most of a bow
unit's time at full size (65–73% on the full-size single-sentence GLUE cards). The hash
is a 32-bit polynomial hash of the code points finished by MurmurHash3's finaliser, not
scikit-learn's MurmurHash3 of the n-gram strings, so the columns differ from
scikit-learn's: the `bow` kind's `version` (`polyglue.encoders.BUILTIN_KINDS`)
is part of its identity (`bow@v2`, hence of every unit key), so results of the old
featuriser are never mixed with these. (The counts are gathered by one sort of each
entry's (row, column) key rather than scipy's COO-to-CSR conversion: the same matrix, so
the identity stays `bow@v2`.)

`BowEncoder.seconds` keeps the time of the two phases apart (tokenisation: lowercasing,
code points, character classes, word boundaries; features: hashing, the count matrix, its
normalisation), which the probe stores as a unit's `tokenise_s` and `features_s`.
"""

from __future__ import annotations

import time
from functools import lru_cache

import numpy as np
from scipy import sparse

# 32-bit arithmetic (half the memory traffic of 64-bit): only the low 18 bits become a column.
_P = np.uint32(16777619)  # FNV's 32-bit prime: odd, hence invertible modulo 2**32
_P_INV = np.uint32(pow(16777619, -1, 2**32))
_BIGRAM = np.uint32(0x9E3779B1)
_SPACE = 32
#: Texts per hashing batch: bounds the temporary arrays (about 150 bytes per character).
BATCH_CHARS = 1_000_000


def _classes(char: str) -> tuple[bool, bool]:
    """(is whitespace as `str.split` sees it, is a `\\w` character as `re` sees it)."""
    return char.isspace(), char.isalnum() or char == "_"


@lru_cache(maxsize=1)
def _bmp_table() -> np.ndarray:
    """`_classes` of every Basic Multilingual Plane code point, (65536, 2) bool: built once (~30 ms)."""
    return np.array([_classes(chr(c)) for c in range(1 << 16)], dtype=bool)


def _masks(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Whitespace and word-character masks; code points beyond the BMP are classified one distinct value at a time."""
    if not len(codes) or int(codes.max()) < 1 << 16:
        table = _bmp_table()[codes]
        return table[:, 0], table[:, 1]
    uniq, inverse = np.unique(codes, return_inverse=True)
    table = np.array([_classes(chr(int(c))) for c in uniq], dtype=bool).reshape(-1, 2)
    return table[inverse, 0], table[inverse, 1]


def _mix(h: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser: spreads the polynomial hash over all bits (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        h = h ^ (h >> np.uint32(16))
        h *= np.uint32(0x85EBCA6B)
        h ^= h >> np.uint32(13)
        h *= np.uint32(0xC2B2AE35)
        return h ^ (h >> np.uint32(16))


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Start and end (exclusive) of every maximal run of True."""
    edges = np.diff(np.concatenate(([0], mask.view(np.int8), [0])))
    return np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)


def _word_ngrams(codes, starts, ends, doc_of, ngrams) -> tuple[np.ndarray, np.ndarray]:
    """(row, hash) of every word n-gram; tokens (`starts`, `ends`) are maximal runs of `\\w` (= `\\b\\w+\\b`)."""
    if len(starts) == 0:
        return np.empty(0, np.int32), np.empty(0, np.uint32)
    with np.errstate(over="ignore"):
        # A token's hash is sum_i c_i P^(i - start) = (prefix[end] - prefix[start]) * P^-start.
        powers = np.full(len(codes) + 1, _P, dtype=np.uint32)
        powers[0] = 1
        np.cumprod(powers, out=powers)
        prefix = np.zeros(len(codes) + 1, dtype=np.uint32)
        np.cumsum(codes * powers[:-1], out=prefix[1:])
        inverse = powers  # reused: P^-k
        inverse.fill(_P_INV)
        inverse[0] = 1
        np.cumprod(inverse, out=inverse)
        token = (prefix[ends] - prefix[starts]) * inverse[starts] + (ends - starts).astype(np.uint32)
        del prefix, inverse, powers
    doc = doc_of[starts]
    rows, hashes = [], []
    low, high = ngrams
    for n in range(low, high + 1):
        if len(token) < n:
            break
        same = doc[: len(doc) - n + 1] == doc[n - 1 :]
        h = token[: len(token) - n + 1].copy()
        with np.errstate(over="ignore"):
            for k in range(1, n):
                h = h * _BIGRAM + token[k : len(token) - n + 1 + k]
        rows.append(doc[: len(doc) - n + 1][same])
        hashes.append(_mix(h[same] + np.uint32(n)))
    return np.concatenate(rows), np.concatenate(hashes)


def _char_ngrams(codes, is_space, starts, ends, doc_of, ngrams) -> tuple[np.ndarray, np.ndarray]:
    """(row, hash) of every `char_wb` n-gram: windows inside each whitespace-split word (`starts`, `ends`:
    the maximal runs of non-space) padded with one space each side."""
    if len(starts) == 0:
        return np.empty(0, np.int32), np.empty(0, np.uint32)
    lengths = ends - starts
    padded_len = lengths + 2
    offsets = np.concatenate(([0], np.cumsum(padded_len)[:-1]))
    padded = np.full(int(padded_len.sum()), _SPACE, dtype=np.uint32)
    word_chars = np.flatnonzero(~is_space)
    padded[word_chars + np.repeat(offsets + 1 - starts, lengths)] = codes[word_chars]
    word_of = np.repeat(np.arange(len(starts), dtype=np.int32), padded_len)
    doc = doc_of[starts][word_of]
    rows, hashes = [], []
    low, high = ngrams
    h = np.zeros(len(padded), dtype=np.uint32)
    power = np.uint32(1)
    with np.errstate(over="ignore"):
        for n in range(1, high + 1):
            # h[p] = sum_{k < n} padded[p + k] P^k over the windows that still fit.
            h = h[: len(padded) - n + 1] + padded[n - 1 :] * power
            power = power * _P
            if n >= low:
                inside = word_of[: len(word_of) - n + 1] == word_of[n - 1 :]
                rows.append(doc[: len(doc) - n + 1][inside])
                hashes.append(_mix(h[inside] + np.uint32(n)))
    return np.concatenate(rows), np.concatenate(hashes)


def _count_matrix(rows: np.ndarray, cols: np.ndarray, n: int, width: int) -> tuple[sparse.csr_matrix, np.ndarray]:
    """(canonical float32 CSR of the occurrence counts of each (row, col), the row of each stored entry).

    One in-place sort of the combined key `row * width + col` (numpy's vectorised integer sort)
    orders the entries by row, then column, and puts duplicates side by side: their run
    lengths are the counts. The same matrix as scipy's COO-to-CSR conversion followed by
    `sum_duplicates` (which sorts every row's indices again); featurising 50,000 English pairs
    took 2.4–2.6 s instead of 3.0 s with it (perf/README.md, "Full-size suites")."""
    shift = width.bit_length() - 1  # width is a power of two
    key = rows.astype(np.int64)
    key <<= shift
    key |= cols
    key.sort()
    first = np.ones(len(key), dtype=bool)
    np.not_equal(key[1:], key[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    data = np.diff(np.append(starts, len(key))).astype(np.float32)
    key = key[starts]
    entry_row = (key >> shift).astype(np.int32)
    indices = (key & (width - 1)).astype(np.int32)
    index_dtype = np.int64 if len(key) > np.iinfo(np.int32).max else np.int32
    indptr = np.zeros(n + 1, dtype=index_dtype)
    np.cumsum(np.bincount(entry_row, minlength=n), out=indptr[1:])
    matrix = sparse.csr_matrix((data, indices, indptr), shape=(n, width), copy=False)
    matrix.has_sorted_indices = True
    matrix.has_canonical_format = True
    return matrix, entry_row


class BowEncoder:
    """`encode(texts)` -> L2-normalised float32 CSR matrix of shape (n_texts, 2 * n_features).

    Columns `[0, n_features)` hold the word n-grams, `[n_features, 2 n_features)` the
    character n-grams; each block is L2-normalised per row and the whole row scaled by
    2^-1/2, so a text with both kinds has unit norm. float32 (the probe's head fits in the
    input's precision, as it does for dense features) halves the bytes of the largest
    matrix a full-size card holds.
    """

    rows_independent = True
    """A text's row does not depend on the other texts of the call: callers may encode in chunks."""

    def __init__(self, *, n_features: int = 2**18, word_ngrams=(1, 2), char_ngrams=(2, 4)):
        if n_features & (n_features - 1):
            raise ValueError("n_features must be a power of two")
        self.n_features = n_features
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.seconds = {"tokenise": 0.0, "features": 0.0}
        """Time spent so far in `encode`, by phase: `tokenise` (lowercasing, code points, character
        classes, word and whitespace boundaries) and `features` (n-gram hashing, the CSR matrix,
        its normalisation). Callers (the probe's unit timings) read the difference around a call."""

    def encode(self, texts: list[str]) -> sparse.csr_matrix:
        t0 = time.perf_counter()
        lowered = [t.lower() for t in texts]
        self.seconds["tokenise"] += time.perf_counter() - t0
        blocks, batch, size = [], [], 0
        for text in lowered:
            batch.append(text)
            size += len(text) + 1
            if size >= BATCH_CHARS:
                blocks.append(self._encode_batch(batch))
                batch, size = [], 0
        if batch or not blocks:
            blocks.append(self._encode_batch(batch))
        if len(blocks) == 1:
            return blocks[0]
        t0 = time.perf_counter()
        out = sparse.vstack(blocks, format="csr")
        self.seconds["features"] += time.perf_counter() - t0
        return out

    def _encode_batch(self, lowered: list[str]) -> sparse.csr_matrix:
        t0 = time.perf_counter()
        n, width = len(lowered), 2 * self.n_features
        codes = np.frombuffer("\n".join(lowered).encode("utf-32-le"), dtype=np.uint32)
        lengths = np.fromiter(map(len, lowered), dtype=np.int64, count=n)
        doc_of = np.repeat(np.arange(n, dtype=np.int32), lengths + 1)[: len(codes)]
        is_space, is_word = _masks(codes)
        word_starts, word_ends = _runs(is_word)
        chunk_starts, chunk_ends = _runs(~is_space)
        t1 = time.perf_counter()
        self.seconds["tokenise"] += t1 - t0
        mask = np.uint32(self.n_features - 1)
        w_rows, w_hash = _word_ngrams(codes, word_starts, word_ends, doc_of, self.word_ngrams)
        c_rows, c_hash = _char_ngrams(codes, is_space, chunk_starts, chunk_ends, doc_of, self.char_ngrams)
        rows = np.concatenate((w_rows, c_rows))
        cols = np.concatenate(((w_hash & mask).astype(np.int32), (c_hash & mask).astype(np.int32) + np.int32(self.n_features)))
        del w_hash, c_hash, codes, doc_of
        counts, entry_row = _count_matrix(rows, cols, n, width)
        # Each block L2-normalised per row, then the row scaled by 2^-1/2.
        is_char = counts.indices >= self.n_features
        squares = counts.data.astype(np.float64) ** 2
        norms = np.sqrt(np.stack((np.bincount(entry_row[~is_char], squares[~is_char], minlength=n),
                                  np.bincount(entry_row[is_char], squares[is_char], minlength=n))))
        counts.data /= (norms[is_char.astype(np.int64), entry_row] * 2**0.5).astype(np.float32)
        self.seconds["features"] += time.perf_counter() - t1
        return counts


def build(spec, ctx) -> BowEncoder:
    """The `bow` kind's text factory (`polyglue.encoders.BUILTIN_KINDS`)."""
    return BowEncoder()
