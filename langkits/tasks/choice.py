"""Multiple choice (C3, CHID): `AutoModelForMultipleChoice` over (passage, question + choice) pairs.

Examples may have different numbers of choices (C3 has 2–4): a batch pads to its largest
choice count and the padded choices' logits are masked out of the softmax, so the loss
and the decision only ever see real choices. Predictions and golds are the choice texts.

Two CHID recipe options (card `protocol`):

* `input_template: chid-official` builds the input as CLUE's `CHID_preprocess.py`: the
  candidate idiom first, then the passage around the blank with the blank under question
  as `[unused1]` and every other blank as four `[MASK]`, one segment id, the context
  window balanced around the blank (`around`);
* `choice_decoding: joint` decodes all blanks of a row together, as the official
  `logits_matrix_to_array`: take the highest (blank, candidate) logit of the row, fix that
  pair, drop its blank and candidate, repeat (`joint_assignment`). This is greedy, not the
  assignment with the largest sum: it is the assignment whose logits, sorted from high to
  low, are lexicographically largest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from polyglue.langkits import inputs
from polyglue.langkits.tasks.base import TaskHead, model_inputs

MASKED = -1e4
#: CHID_preprocess.py's character replacements before tokenising a passage.
CHID_REPLACE = (("“", '"'), ("”", '"'), ("——", "--"), ("—", "-"), ("―", "-"), ("…", "..."), ("‘", "'"), ("’", "'"))
#: Tokens the official template reserves besides the window: [CLS], [SEP], [SEP] and five more.
CHID_RESERVED = 3 + 5


def joint_assignment(logits) -> list[int]:
    """The candidate index for each blank (rows of `logits`: blanks, columns: candidates), greedy
    on the highest remaining logit as CHID's `logits_matrix_to_array`. A blank left without a
    candidate (more blanks than candidates) gets its own argmax."""
    matrix = np.asarray(logits, dtype=float)
    n_blanks, n_choices = matrix.shape
    order = sorted(((matrix[b, c], c, b) for b in range(n_blanks) for c in range(n_choices)), key=lambda t: -t[0])
    chosen: dict[int, int] = {}
    used: set[int] = set()
    for _, c, b in order:  # stable sort: ties keep candidate-major order, as the official transposed loop
        if b not in chosen and c not in used:
            chosen[b] = c
            used.add(c)
    return [chosen.get(b, int(np.argmax(matrix[b]))) for b in range(n_blanks)]


def around(n_tokens: int, pos: int, width: int) -> tuple[int, int]:
    """(left, right) token counts kept around position `pos` of `n_tokens`: half each side,
    the rest moved to the other side near either end (CHID_preprocess.py `add_tokens_for_around`)."""
    half_l = width // 2
    half_r = width - half_l
    after = n_tokens - 1 - pos
    if pos >= half_l and after >= half_r:
        return half_l, half_r
    if pos <= half_l:
        return pos, min(after, width - pos)
    # Near the end the official slice `tokens[pos - left_len : pos]` starts at a negative index
    # when the passage is shorter than the window; Python then counts from the end. Kept as is.
    start = pos - (width - after)
    if start < 0:
        start = max(0, start + n_tokens)
    return max(0, pos - start), after


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
        if self.settings.input_template == "chid-official" and any(it.segments is not None for it in examples.items):
            return self._encode_chid(examples, tokenizer, max_length)
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
        features: list[dict[str, Any]] = [{k: [] for k in keys} for _ in examples.items]
        for row, e in enumerate(owners):
            for k in keys:
                features[e][k].append(enc[k][row])
        for e, item in enumerate(examples.items):
            features[e]["labels"] = max(item.answer, 0)
        return features

    def _encode_chid(self, examples: ChoiceExamples, tokenizer, max_length: int) -> list[dict]:
        """Features in CHID_preprocess.py's format (see the module docstring)."""
        vocab = tokenizer.get_vocab()
        blank_id = vocab.get("[unused1]", tokenizer.mask_token_id)
        mask_id = tokenizer.mask_token_id if tokenizer.mask_token_id is not None else tokenizer.unk_token_id
        cls_id, sep_id = tokenizer.cls_token_id, tokenizer.sep_token_id
        width = max(2, max_length - CHID_RESERVED)
        cache: dict[str, list[int]] = {}

        def ids(text: str) -> list[int]:
            if text not in cache:
                clean = text
                for old, new in CHID_REPLACE:
                    clean = clean.replace(old, new)
                cache[text] = tokenizer(clean, add_special_tokens=False)["input_ids"]
            return cache[text]

        features = []
        for item in examples.items:
            if item.segments is None:
                raise ValueError(f"{item.id}: the chid-official template needs CHID rows with #idiom# blanks")
            # The passage as tokens, each blank one placeholder (None: another blank, -1: this one).
            seq: list = []
            for k, segment in enumerate(item.segments):
                seq += ids(segment)
                if k < len(item.segments) - 1:
                    seq.append(-1 if k == item.blank else None)
            pos = seq.index(-1)
            n_left, n_right = around(len(seq), pos, width)
            expand = lambda part: [t for x in part for t in ([mask_id] * 4 if x is None else [x])]  # noqa: E731
            left = expand(seq[pos - n_left : pos])[-n_left:] if n_left else []
            right = expand(seq[pos + 1 : pos + 1 + n_right])[:n_right]
            rows = [[cls_id, *ids(choice), sep_id, *left, blank_id, *right, sep_id] for choice in item.choices]
            feature = {"input_ids": rows, "token_type_ids": [[0] * len(r) for r in rows], "labels": max(item.answer, 0)}
            features.append(feature)
        return features

    def forward(self, model, batch: dict):
        import torch

        return torch.nn.functional.cross_entropy(masked_logits(model, batch), batch["labels"])

    def outputs(self, model, batch: dict) -> list:
        return list(masked_logits(model, batch).cpu().numpy())

    def decode(self, examples: ChoiceExamples, features, outputs) -> list[str]:
        picks = [int(np.argmax(logits[: len(item.choices)])) for item, logits in zip(examples.items, outputs)]
        if self.settings.choice_decoding == "joint":
            rows: dict[str, list[int]] = {}
            for i, item in enumerate(examples.items):
                if item.group is not None:
                    rows.setdefault(item.group, []).append(i)
            for members in rows.values():
                n = len(examples.items[members[0]].choices)
                matrix = np.stack([np.asarray(outputs[i][:n], dtype=float) for i in members])
                for i, c in zip(members, joint_assignment(matrix)):
                    picks[i] = c
        return [item.choices[p] for item, p in zip(examples.items, picks)]

    def records(self, examples: ChoiceExamples, predictions: list, role: str) -> list[dict]:
        """The shared records plus what CLUE's submission files need and the choice text alone does
        not give: `choice`, the chosen choice's index (C3 submits it; CHID the candidate index), and
        for a CHID blank its `#idiomNNNNNN#` tag as `blank` (the key of the CHID file). Every
        protocol (fine-tuning, frozen probe, the `bow` baseline) writes its records through here.
        Identical choice texts get the first one's index: they are the same answer."""
        records = super().records(examples, predictions, role)
        for record, item, pred in zip(records, examples.items, predictions):
            record["choice"] = item.choices.index(pred) if pred in item.choices else None
            if item.tag is not None:
                record["blank"] = item.tag
        return records

    def golds(self, examples: ChoiceExamples) -> list[str]:
        return [item.choices[item.answer] if item.answer >= 0 else "" for item in examples.items]
