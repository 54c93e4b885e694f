"""Batches with little padding: length-grouped training order and dynamic padding.

A *feature* is one model input as plain lists (`input_ids`, optional `token_type_ids`,
targets). Training batches follow Hugging Face's length grouping: shuffle, cut into
mega-batches of 50 batches, sort each by length, slice into batches, shuffle the batch
order — random enough for SGD, while every batch holds inputs of similar length.
Evaluation batches are simply length-sorted. `collate` pads to the longest input of the
batch only.
"""

from __future__ import annotations

import math

import numpy as np

MEGA_BATCH = 50
IGNORE = -100
"""Target value the loss ignores (non-first sub-tokens, special tokens, padding)."""


def feature_length(feature: dict) -> int:
    """Tokens of one feature (the longest choice for multiple-choice features)."""
    ids = feature["input_ids"]
    return max(len(c) for c in ids) if ids and isinstance(ids[0], list) else len(ids)


def grouped_batches(lengths: list[int], batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Training order: mega-batches sorted by length (longest first), batch order shuffled."""
    order = rng.permutation(len(lengths))
    mega = batch_size * MEGA_BATCH
    batches = []
    for start in range(0, len(order), mega):
        chunk = sorted(order[start : start + mega].tolist(), key=lambda i: -lengths[i])
        batches += [chunk[k : k + batch_size] for k in range(0, len(chunk), batch_size)]
    return [batches[i] for i in rng.permutation(len(batches))]


def random_batches(n: int, batch_size: int, rng: np.random.Generator) -> list[list[int]]:
    """Plain shuffled batches (what a Trainer without length grouping does)."""
    order = rng.permutation(n).tolist()
    return [order[k : k + batch_size] for k in range(0, n, batch_size)]


def sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Evaluation order: longest first, so each batch pads to nearly its own length."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[k : k + batch_size] for k in range(0, len(order), batch_size)]


def real_token_fraction(batches: list[list[int]], lengths: list[int]) -> float:
    """Fraction of the padded batch cells that hold real tokens."""
    real = sum(lengths[i] for b in batches for i in b)
    padded = sum(len(b) * max(lengths[i] for i in b) for b in batches if b)
    return real / padded if padded else 1.0


def steps_per_epoch(n_batches: int, accumulation: int) -> int:
    return math.ceil(n_batches / accumulation)


def collate(features: list[dict], pad_id: int) -> dict:
    """Pad a list of features into tensors.

    Returns `input_ids`, `attention_mask` (and `token_type_ids` when features carry them) of
    shape (batch, max_tokens) — or (batch, max_choices, max_tokens) for multiple choice,
    where missing choices are all-padding rows and `choice_mask` (batch, max_choices) marks
    real ones — plus the targets present: `labels` (class index, float score, or a
    per-token list padded with -100), `start_positions`/`end_positions`.
    """
    import torch

    multi = isinstance(features[0]["input_ids"][0], list) if features[0]["input_ids"] else False
    if multi:
        return _collate_choices(features, pad_id)
    width = max(len(f["input_ids"]) for f in features)
    ids = torch.full((len(features), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(features), width), dtype=torch.long)
    types = torch.zeros((len(features), width), dtype=torch.long) if "token_type_ids" in features[0] else None
    for i, f in enumerate(features):
        n = len(f["input_ids"])
        ids[i, :n] = torch.tensor(f["input_ids"])
        mask[i, :n] = 1
        if types is not None:
            types[i, :n] = torch.tensor(f["token_type_ids"])
    batch = {"input_ids": ids, "attention_mask": mask}
    if types is not None:
        batch["token_type_ids"] = types
    if "labels" in features[0]:
        first = features[0]["labels"]
        if isinstance(first, list):
            labels = torch.full((len(features), width), IGNORE, dtype=torch.long)
            for i, f in enumerate(features):
                labels[i, : len(f["labels"])] = torch.tensor(f["labels"])
            batch["labels"] = labels
        else:
            dtype = torch.float if isinstance(first, float) else torch.long
            batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=dtype)
    for key in ("start_positions", "end_positions"):
        if key in features[0]:
            batch[key] = torch.tensor([f[key] for f in features], dtype=torch.long)
    return batch


def _collate_choices(features: list[dict], pad_id: int) -> dict:
    import torch

    n_choices = max(len(f["input_ids"]) for f in features)
    width = max(len(c) for f in features for c in f["input_ids"])
    shape = (len(features), n_choices, width)
    ids = torch.full(shape, pad_id, dtype=torch.long)
    mask = torch.zeros(shape, dtype=torch.long)
    has_types = "token_type_ids" in features[0]
    types = torch.zeros(shape, dtype=torch.long)  # used only when has_types
    choice_mask = torch.zeros((len(features), n_choices), dtype=torch.bool)
    for i, f in enumerate(features):
        for j, seq in enumerate(f["input_ids"]):
            ids[i, j, : len(seq)] = torch.tensor(seq)
            mask[i, j, : len(seq)] = 1
            if has_types:
                types[i, j, : len(seq)] = torch.tensor(f["token_type_ids"][j])
            choice_mask[i, j] = True
        for j in range(len(f["input_ids"]), n_choices):
            mask[i, j, 0] = 1  # a one-token dummy keeps attention well defined; its logit is masked out
    batch = {"input_ids": ids, "attention_mask": mask, "choice_mask": choice_mask}
    if has_types:
        batch["token_type_ids"] = types
    if "labels" in features[0]:
        batch["labels"] = torch.tensor([f["labels"] for f in features], dtype=torch.long)
    return batch
