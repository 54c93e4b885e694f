"""Weight-free baselines for token, QA and multiple-choice tasks (`--model bow`).

- `NgramTagger`: each word is classified from hashed features of a window around it
  (the word, its neighbours two to each side, prefixes, suffixes, character 2–4-grams,
  word shape) by a linear model trained with SGD — the classic feature-based tagger.
- `SlidingWindowQA`: the sliding-window baseline of SQuAD (Rajpurkar et al. 2016),
  which takes Richardson et al.'s (2013) MCTest scorer to spans: a candidate span scores
  the IDF-weighted question words found within `window` units on each side.
- `sliding_window_scores`: Richardson et al.'s sliding window for multiple choice: each
  choice scores the best window of the passage against the question ∪ choice words.

Units are words, or characters for kits with `token_unit == "char"` (Chinese).
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

SENTENCE_END = frozenset({".", "!", "?", "。", "！", "？", ";", "；"})


def inverse_counts(tokens: list[str]) -> dict[str, float]:
    """Richardson et al.'s IC(w) = log(1 + 1 / C(w)), C counted over the passage."""
    return {w: math.log(1.0 + 1.0 / c) for w, c in Counter(tokens).items()}


# --------------------------------------------------------------------------- token tagging


def _shape(word: str) -> str:
    out: list[str] = []
    for ch in word:
        code = "X" if ch.isupper() else "x" if ch.islower() else "d" if ch.isdigit() else "a" if ch.isalpha() else ch
        if not out or out[-1] != code:
            out.append(code)
    return "".join(out)


def word_features(words: list[str], i: int) -> list[str]:
    """Hashed-feature names of word `i` in its window (strings; hashed by `FeatureHasher`)."""
    w = words[i]
    lw = w.lower()
    feats = ["bias", f"w={lw}", f"shape={_shape(w)}", f"first={i == 0}"]
    feats += [f"p{k}={lw[:k]}" for k in (1, 2, 3)] + [f"s{k}={lw[-k:]}" for k in (1, 2, 3)]
    for off in (-2, -1, 1, 2):
        j = i + off
        feats.append(f"w{off:+d}={words[j].lower() if 0 <= j < len(words) else '<pad>'}")
    feats.append(f"w-1w0={words[i - 1].lower() if i else '<pad>'}|{lw}")
    feats.append(f"w0w+1={lw}|{words[i + 1].lower() if i + 1 < len(words) else '<pad>'}")
    padded = f"<{lw}>"
    feats += [f"c={padded[k:k + n]}" for n in (2, 3, 4) for k in range(max(0, len(padded) - n + 1))]
    return feats


class NgramTagger:
    """Linear word classifier over windowed n-gram features; `fit(sentences, tags)` then `predict`."""

    def __init__(self, *, alpha: float = 1e-5, n_features: int = 2**18, epochs: int = 15, seed: int = 0):
        self.alpha = alpha
        self.n_features = n_features
        self.epochs = epochs
        self.seed = seed

    def _matrix(self, sentences: list[list[str]]):
        from sklearn.feature_extraction import FeatureHasher

        hasher = FeatureHasher(n_features=self.n_features, input_type="string", alternate_sign=False)
        return hasher.transform(word_features(s, i) for s in sentences for i in range(len(s)))

    def fit(self, sentences: list[list[str]], tags: list[np.ndarray]) -> "NgramTagger":
        from sklearn.linear_model import SGDClassifier

        y = np.concatenate(tags) if tags else np.zeros(0, dtype=np.int64)
        self.classes_ = np.unique(y)
        if len(self.classes_) == 1:
            self.model_ = None
            return self
        self.model_ = SGDClassifier(loss="log_loss", alpha=self.alpha, max_iter=self.epochs, tol=None, random_state=self.seed)
        self.model_.fit(self._matrix(sentences), y)
        return self

    def predict(self, sentences: list[list[str]]) -> list[np.ndarray]:
        if not hasattr(self, "classes_"):
            raise RuntimeError("NgramTagger.predict called before fit")
        lengths = [len(s) for s in sentences]
        if self.model_ is None:
            flat = np.full(sum(lengths), self.classes_[0])
        else:
            flat = self.model_.predict(self._matrix(sentences)) if sum(lengths) else np.zeros(0, dtype=np.int64)
        return np.split(flat, np.cumsum(lengths)[:-1]) if sentences else []


# --------------------------------------------------------------------------- extractive QA


class SlidingWindowQA:
    """Pick the span whose surroundings best match the question (no answers used in fitting).

    Candidates: spans of up to `max_span` units inside one sentence, starting and ending on a
    content unit that is neither a question word nor a corpus stop unit (one found in more
    than `stop_df` of the fitted contexts — the stand-in for SQuAD's constituent filter, which
    needs a parser). Score: Σ IDF(w) over question words w within `window` units before or
    after the span. Ties go to the longer (a whole name, not its last character), then the earlier span.
    """

    def __init__(self, *, max_span: int, window: int, stop_df: float = 0.25):
        self.max_span = max_span
        self.window = window
        self.stop_df = stop_df

    def fit(self, contexts: list[str], kit) -> "SlidingWindowQA":
        """Unit document frequencies over `contexts` (no questions, no answers)."""
        df: Counter = Counter()
        for context in contexts:
            df.update({context[s:e].lower() for s, e in kit.word_spans(context)})
        n = max(1, len(contexts))
        self.idf_ = {w: math.log((1 + n) / (1 + c)) + 1.0 for w, c in df.items()}
        self.default_idf_ = math.log(1 + n) + 1.0
        self.stop_ = {w for w, c in df.items() if c / n > self.stop_df}
        return self

    def predict(self, question: str, context: str, kit) -> str:
        if not hasattr(self, "idf_"):
            raise RuntimeError("SlidingWindowQA.predict called before fit")
        spans = kit.word_spans(context)
        if not spans:
            return ""
        units = [context[s:e].lower() for s, e in spans]
        asked = set(kit.lexical_tokens(question))
        usable = [any(ch.isalnum() for ch in u) and u not in asked and u not in self.stop_ for u in units]
        weight = np.array([self.idf_.get(u, self.default_idf_) if u in asked else 0.0 for u in units])
        prefix = np.concatenate([[0.0], np.cumsum(weight)])
        n, w = len(units), self.window
        best, best_key = None, None
        for s in range(n):
            if not usable[s]:
                continue
            for e in range(s, min(n, s + self.max_span)):
                if units[e] in SENTENCE_END:
                    break
                if not usable[e]:
                    continue
                score = (prefix[s] - prefix[max(0, s - w)]) + (prefix[min(n, e + 1 + w)] - prefix[e + 1])
                key = (score, e - s, -s)
                if best_key is None or key > best_key:
                    best, best_key = (s, e), key
        if best is None:
            first = next((i for i in range(n) if any(ch.isalnum() for ch in units[i])), 0)
            best = (first, first)
        return context[spans[best[0]][0] : spans[best[1]][1]]


# --------------------------------------------------------------------------- multiple choice


def sliding_window_scores(context: str, question: str, choices: list[str], kit) -> list[float]:
    """Richardson et al.'s sliding-window score of each choice against the passage."""
    passage = kit.lexical_tokens(context)
    ic = inverse_counts(passage)
    asked = kit.lexical_tokens(question)
    scores = []
    for choice in choices:
        target = set(asked) | set(kit.lexical_tokens(choice))
        if not passage or not target:
            scores.append(0.0)
            continue
        weight = np.array([ic[p] if p in target else 0.0 for p in passage])
        size = min(len(target), len(passage))
        sums = np.convolve(weight, np.ones(size), mode="valid")
        scores.append(float(sums.max()))
    return scores
