"""Single-sentence, sentence-pair classification and regression: `AutoModelForSequenceClassification`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from polyglue.langkits import inputs
from polyglue.langkits.tasks.base import TaskHead, model_inputs


@dataclass
class SentenceExamples:
    ids: list[str]
    texts: list[str]
    pairs: list[str] | None
    targets: np.ndarray
    """Class positions in the card's label list, or float scores for regression."""

    def __len__(self) -> int:
        return len(self.ids)


class SequenceHead(TaskHead):
    model_class = "AutoModelForSequenceClassification"

    @property
    def regression(self) -> bool:
        return self.card.task == "regression"

    def model_kwargs(self) -> dict:
        if self.regression:
            return {"num_labels": 1, "problem_type": "regression"}
        labels = self.card.labels
        return {
            "num_labels": len(labels),
            "id2label": dict(enumerate(labels)),
            "label2id": {name: i for i, name in enumerate(labels)},
            "problem_type": "single_label_classification",
        }

    def examples(self, card, split) -> SentenceExamples:
        texts, pairs = inputs.sentence_inputs(card, split, self.kit, template=self.settings.input_template)
        return SentenceExamples(inputs.example_ids(card, split), texts, pairs, inputs.targets(card, split))

    def encode(self, examples: SentenceExamples, tokenizer, max_length: int) -> list[dict]:
        args = (examples.texts,) if examples.pairs is None else (examples.texts, examples.pairs)
        enc = tokenizer(*args, truncation=True, max_length=max_length)
        keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
        features = []
        for i, target in enumerate(examples.targets):
            feature = {k: enc[k][i] for k in keys}
            feature["labels"] = float(target) if self.regression else int(target)
            features.append(feature)
        return features

    def outputs(self, model, batch: dict) -> list:
        logits = model(**model_inputs(batch)).logits.float().cpu().numpy()
        return list(logits)

    def decode(self, examples, features, outputs) -> list:
        stacked = np.stack(outputs) if outputs else np.zeros((0, 1))
        if self.regression:
            return [float(v) for v in stacked[:, 0]]
        return [int(v) for v in stacked.argmax(axis=1)]

    def golds(self, examples: SentenceExamples) -> list:
        return [float(v) for v in examples.targets] if self.regression else [int(v) for v in examples.targets]

    def records(self, examples, predictions, role):
        if self.regression:
            return super().records(examples, predictions, role)
        names = self.card.labels
        return [
            {"split": role, "id": i, "gold": names[g], "pred": names[p]}
            for i, g, p in zip(examples.ids, self.golds(examples), predictions)
        ]
