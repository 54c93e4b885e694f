"""Multiple choice (C3, CHID): `AutoModelForMultipleChoice` over (passage, question + choice) pairs.

Examples may have different numbers of choices (C3 has 2–4): a batch pads to its largest
choice count and the padded choices' logits are masked out of the softmax, so the loss
and the decision only ever see real choices. Predictions and golds are the choice texts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from polyglue.langkits import inputs
from polyglue.langkits.tasks.base import TaskHead, model_inputs

MASKED = -1e4


@dataclass
class ChoiceExamples:
    items: list[inputs.ChoiceItem]

    @property
    def ids(self) -> list[str]:
        return [item.id for item in self.items]

    def __len__(self) -> int:
        return len(self.items)


def masked_logits(model, batch: dict):
    """(batch, max_choices) logits with padded choices set to -1e4."""
    logits = model(**model_inputs(batch)).logits.float()
    return logits.masked_fill(~batch["choice_mask"], MASKED)


class ChoiceHead(TaskHead):
    model_class = "AutoModelForMultipleChoice"
    window_chars: int | None = None

    def examples(self, card, split) -> ChoiceExamples:
        return ChoiceExamples(inputs.choice_items(card, split, self.kit, window_chars=self.window_chars))

    def encode(self, examples: ChoiceExamples, tokenizer, max_length: int) -> list[dict]:
        firsts, seconds, owners = [], [], []
        for e, item in enumerate(examples.items):
            for choice in item.choices:
                firsts.append(item.context)
                seconds.append(f"{item.question} {choice}".strip())
                owners.append(e)
        if not firsts:
            return []
        enc = tokenizer(firsts, seconds, truncation="only_first", max_length=max_length)
        keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
        features = [{k: [] for k in keys} for _ in examples.items]
        for row, e in enumerate(owners):
            for k in keys:
                features[e][k].append(enc[k][row])
        for e, item in enumerate(examples.items):
            features[e]["labels"] = max(item.answer, 0)
        return features

    def forward(self, model, batch: dict):
        import torch

        return torch.nn.functional.cross_entropy(masked_logits(model, batch), batch["labels"])

    def outputs(self, model, batch: dict) -> list:
        return list(masked_logits(model, batch).cpu().numpy())

    def decode(self, examples: ChoiceExamples, features, outputs) -> list[str]:
        return [item.choices[int(np.argmax(logits[: len(item.choices)]))] for item, logits in zip(examples.items, outputs)]

    def golds(self, examples: ChoiceExamples) -> list[str]:
        return [item.choices[item.answer] if item.answer >= 0 else "" for item in examples.items]
