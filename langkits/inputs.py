"""Read a text card's inputs and targets out of a split, through the card's field roles."""

from __future__ import annotations

import numpy as np

from benchmarks.cards.schema import Card
from benchmarks.data.labels import LabelSpace, encode_regression
from benchmarks.data.materialize import SplitData


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return " ".join(_as_text(v) for v in value)
    return str(value)


def texts(card: Card, split: SplitData, kit, role: str = "text") -> list[str]:
    """Normalised strings of the column playing `role` (lists, e.g. CSL keywords, are joined)."""
    column = card.role_column(role)
    return [kit.normalize(_as_text(v)) for v in split.column(column)]


def sentence_inputs(card: Card, split: SplitData, kit) -> tuple[list[str], list[str] | None]:
    """(texts, second texts or None) for single-sentence, pair and regression cards."""
    pairs = texts(card, split, kit, "text_pair") if card.role_column("text_pair") else None
    return texts(card, split, kit), pairs


def example_ids(card: Card, split: SplitData) -> list[str]:
    column = card.role_column("id")
    if column and column in split.table.column_names:
        return [str(v) for v in split.column(column)]
    return [f"{split.role}-{i}" for i in range(len(split))]


def label_space(card: Card, split: SplitData) -> LabelSpace:
    return LabelSpace(card.labels, split.source_label_names)


def targets(card: Card, split: SplitData) -> np.ndarray:
    """Class positions in the card's label list, or floats for regression."""
    values = split.column(card.role_column("label"))
    if card.task == "regression":
        return encode_regression(values, split.origin, allow_hidden=split.hidden_labels)
    return label_space(card, split).encode(values, split.origin, allow_hidden=split.hidden_labels)
