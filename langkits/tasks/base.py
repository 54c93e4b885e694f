"""What a task head tells the training loop and the runners.

A head turns a split into *examples* (the unit that is scored and gets one prediction
record), examples into *features* (model inputs; QA windows and long token sequences
give several features per example), model outputs back into one prediction per example,
and predictions into metrics and records. One head per task type, each with its
`AutoModelFor*` class.
"""

from __future__ import annotations

from typing import Any

from polyglue import metrics as metric_lib

#: Batch keys a model receives as inputs (targets are passed by each head's `forward`).
MODEL_INPUTS = ("input_ids", "attention_mask", "token_type_ids")


def model_inputs(batch: dict) -> dict:
    return {k: batch[k] for k in MODEL_INPUTS if k in batch}


class TaskHead:
    """Base class; subclasses set `model_class` and implement the example/feature/prediction steps."""

    model_class = "AutoModel"

    def __init__(self, card, kit, settings=None):
        self.card = card
        self.kit = kit
        self.settings = settings if settings is not None else card.protocol
        """The unit's protocol settings (the card's `protocol` block when no run context sets them)."""

    # --------------------------------------------------------------- model

    def model_kwargs(self) -> dict:
        """Keyword arguments for `from_pretrained` (label count, label names)."""
        return {}

    def tokenizer_kwargs(self, model_type: str) -> dict:
        return {}

    def forward(self, model, batch: dict):
        """Mean loss of one batch (targets included in `batch`)."""
        targets = {k: batch[k] for k in ("labels", "start_positions", "end_positions") if k in batch}
        return model(**model_inputs(batch), **targets).loss

    # --------------------------------------------------------------- data

    def examples(self, card, split) -> Any:
        raise NotImplementedError

    def prepare(self, train_examples) -> None:
        """Learn anything from the training examples that decoding needs (default: nothing)."""

    def encode(self, examples, tokenizer, max_length: int) -> list[dict]:
        raise NotImplementedError

    def outputs(self, model, batch: dict) -> list:
        """Per-feature outputs (numpy) of one evaluation batch."""
        raise NotImplementedError

    def decode(self, examples, features: list[dict], outputs: list) -> list:
        """One prediction per example, in the units `golds` uses."""
        raise NotImplementedError

    # --------------------------------------------------------------- scoring

    def golds(self, examples) -> list:
        raise NotImplementedError

    def ids(self, examples) -> list[str]:
        return examples.ids

    def score(self, examples, predictions: list) -> dict[str, float]:
        return metric_lib.compute(self.card.metrics, self.golds(examples), predictions, kit=self.kit)

    def records(self, examples, predictions: list, role: str) -> list[dict]:
        return [
            {"split": role, "id": i, "gold": g, "pred": p}
            for i, g, p in zip(self.ids(examples), self.golds(examples), predictions)
        ]
