"""Token classification (NER, POS): `AutoModelForTokenClassification`, labels on the first sub-token.

A sentence longer than the model's window is split at word boundaries into chunks that
fit, so every word gets a prediction (truncating, as `run_ner.py` does, would silently
drop the tail of long sentences from scoring). A word that produces no sub-token at all
(a lone combining mark after normalisation) is given the most frequent training tag.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from polyglue.errors import UserError
from polyglue.langkits import inputs
from polyglue.langkits.batching import IGNORE
from polyglue.langkits.tasks.base import TaskHead, model_inputs

#: Byte-level BPE tokenizers need this to take pre-split words (as `run_ner.py` does).
PREFIX_SPACE_TYPES = frozenset({"roberta", "gpt2", "bloom", "deberta", "longformer", "bart", "camembert", "xlm-roberta"})


@dataclass
class TokenExamples:
    ids: list[str]
    words: list[list[str]]
    tags: list[np.ndarray]

    def __len__(self) -> int:
        return len(self.ids)


def word_chunks(token_counts: list[int], budget: int) -> list[tuple[int, int]]:
    """Split words into consecutive [start, end) ranges whose sub-token counts fit `budget`.

    >>> word_chunks([2, 3, 1, 4], 5)
    [(0, 2), (2, 4)]
    """
    chunks, start, used = [], 0, 0
    for i, n in enumerate(token_counts):
        if used + n > budget and i > start:
            chunks.append((start, i))
            start, used = i, 0
        used += n
    chunks.append((start, len(token_counts)))
    return chunks


class TokenHead(TaskHead):
    model_class = "AutoModelForTokenClassification"
    fallback = 0

    def model_kwargs(self) -> dict:
        labels = self.card.labels
        return {"num_labels": len(labels), "id2label": dict(enumerate(labels)), "label2id": {n: i for i, n in enumerate(labels)}}

    def tokenizer_kwargs(self, model_type: str) -> dict:
        return {"add_prefix_space": True} if model_type in PREFIX_SPACE_TYPES else {}

    def examples(self, card, split) -> TokenExamples:
        words, tags = inputs.token_inputs(card, split, self.kit)
        return TokenExamples(inputs.example_ids(card, split), words, tags)

    def prepare(self, train_examples: TokenExamples) -> None:
        counts = Counter(int(t) for tags in train_examples.tags for t in tags)
        self.fallback = counts.most_common(1)[0][0] if counts else 0

    def encode(self, examples: TokenExamples, tokenizer, max_length: int) -> list[dict]:
        if not getattr(tokenizer, "is_fast", False):
            raise UserError("token classification needs a fast tokenizer (word alignment); this model has a slow one")
        budget = max(1, max_length - tokenizer.num_special_tokens_to_add(pair=False))
        present = [e for e in range(len(examples)) if examples.words[e]]  # an empty sentence has nothing to tag
        plain = tokenizer([examples.words[e] for e in present], is_split_into_words=True, add_special_tokens=False)
        pieces: list[tuple[int, int, int]] = []  # (example, first word, end word)
        for k, e in enumerate(present):
            counts = [0] * len(examples.words[e])
            for w in plain.word_ids(k):
                if w is not None:
                    counts[w] += 1
            pieces += [(e, a, b) for a, b in word_chunks(counts, budget)]
        if not pieces:
            return []
        enc = tokenizer([examples.words[e][a:b] for e, a, b in pieces], is_split_into_words=True, truncation=True, max_length=max_length)
        keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
        features = []
        for f, (e, a, b) in enumerate(pieces):
            word_ids = enc.word_ids(f)
            first = [p for p, w in enumerate(word_ids) if w is not None and (p == 0 or word_ids[p - 1] != w)]
            labels = [IGNORE] * len(word_ids)
            tags = examples.tags[e]
            for p in first:
                labels[p] = int(tags[a + word_ids[p]])
            feature = {k: enc[k][f] for k in keys}
            feature.update(labels=labels, example=e, word_offset=a, n_words=b - a, first=first, word_ids=[word_ids[p] for p in first])
            features.append(feature)
        return features

    def outputs(self, model, batch: dict) -> list:
        logits = model(**model_inputs(batch)).logits.float()
        return list(logits.argmax(-1).cpu().numpy())

    def decode(self, examples: TokenExamples, features: list[dict], outputs: list) -> list:
        preds = [np.full(len(w), self.fallback, dtype=np.int64) for w in examples.words]
        for feature, best in zip(features, outputs):
            row = preds[feature["example"]]
            for p, w in zip(feature["first"], feature["word_ids"]):
                row[feature["word_offset"] + w] = int(best[p])
        names = self.card.labels
        return [[names[int(t)] for t in row] for row in preds]

    def golds(self, examples: TokenExamples) -> list:
        names = self.card.labels
        return [[names[int(t)] for t in tags] for tags in examples.tags]
