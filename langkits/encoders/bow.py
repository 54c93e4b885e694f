"""The weight-free bag-of-n-grams baseline: hashed word 1–2-grams and character 2–4-grams.

Character n-grams make it work for scripts without spaces (Chinese) and for rich
morphology (Greek, Catalan); hashing keeps memory fixed whatever the vocabulary.
"""

from __future__ import annotations

from scipy import sparse


class BowEncoder:
    """`encode(texts)` -> L2-normalised sparse matrix of shape (n_texts, 2 * n_features)."""

    def __init__(self, *, n_features: int = 2**18, word_ngrams=(1, 2), char_ngrams=(2, 4)):
        self.n_features = n_features
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams

    def _vectorizers(self):
        from sklearn.feature_extraction.text import HashingVectorizer

        common = dict(n_features=self.n_features, alternate_sign=False, norm="l2", lowercase=True)
        words = HashingVectorizer(analyzer="word", ngram_range=self.word_ngrams, token_pattern=r"(?u)\b\w+\b", **common)
        chars = HashingVectorizer(analyzer="char_wb", ngram_range=self.char_ngrams, **common)
        return words, chars

    def encode(self, texts: list[str]) -> sparse.csr_matrix:
        words, chars = self._vectorizers()
        return sparse.hstack([words.transform(texts), chars.transform(texts)], format="csr") * (2**-0.5)


def build(spec, ctx) -> BowEncoder:
    """The `bow` kind's text factory (`polyglue.encoders.BUILTIN_KINDS`)."""
    return BowEncoder()
