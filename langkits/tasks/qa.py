"""Extractive QA, SQuAD-style: `AutoModelForQuestionAnswering` over doc-stride windows.

Two window rules, as the card says (`doc_stride_mode`):

* `overlap` (HF `run_qa.py`): questions and contexts are tokenised together, the context
  split into windows of `max_length` tokens overlapping by `doc_stride` (capped at a quarter
  of `max_length`, as before these fields existed);
* `step` (Google's BERT `run_squad.py`, CLUE's `cmrc2018_preprocess.py`): the context is
  tokenised once and each window starts `doc_stride` tokens after the previous one
  (`doc_spans` below), with `max_length - len(question) - specials` context tokens.

A window without the answer points at its first token (`[CLS]`). Decoding takes the
`n_best` best start and end logits of each window, keeps spans inside the context and at
most `max_answer_length` (else the kit's) tokens long — and, with `max_context_rule`, only
starts in the window where that token has the most context (`max_context`) — and answers
with the best start + end score over all windows of the question.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from polyglue.errors import UserError
from polyglue.langkits import inputs
from polyglue.langkits.tasks.base import TaskHead, model_inputs


def doc_spans(n_tokens: int, max_tokens: int, stride: int) -> list[tuple[int, int]]:
    """(start, length) windows over `n_tokens` context tokens, stepping by `stride` (Google's loop)."""
    spans, start = [], 0
    while start < n_tokens:
        length = min(n_tokens - start, max_tokens)
        spans.append((start, length))
        if start + length == n_tokens:
            break
        start += min(length, stride)
    return spans


def max_context(spans: list[tuple[int, int]], index: int, position: int) -> bool:
    """Whether window `index` is the one where `position` has the most context (left/right
    minimum, ties to the longer window and then the earlier one), as `_check_is_max_context`."""
    best, best_index = None, None
    for k, (start, length) in enumerate(spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best is None or score > best:
            best, best_index = score, k
    return best_index == index


@dataclass
class QAExamples:
    items: list[inputs.QAItem]

    @property
    def ids(self) -> list[str]:
        return [item.id for item in self.items]

    def __len__(self) -> int:
        return len(self.items)


def _cut_questions(questions: list[str], tokenizer, limit: int) -> list[str]:
    """Questions longer than `limit` sub-tokens are cut there (SQuAD's `max_query_length`)."""
    enc = tokenizer(questions, add_special_tokens=False, return_offsets_mapping=True)
    out = []
    for q, offsets in zip(questions, enc["offset_mapping"]):
        out.append(q[: offsets[limit - 1][1]] if len(offsets) > limit else q)
    return out


class QAHead(TaskHead):
    model_class = "AutoModelForQuestionAnswering"

    def examples(self, card, split) -> QAExamples:
        return QAExamples(inputs.qa_items(card, split, self.kit))

    def encode(self, examples: QAExamples, tokenizer, max_length: int) -> list[dict]:
        if not getattr(tokenizer, "is_fast", False):
            raise UserError("extractive QA needs a fast tokenizer (character offsets); this model has a slow one")
        items = examples.items
        if not items:
            return []
        s = self.settings
        questions = _cut_questions([it.question for it in items], tokenizer, min(s.max_query_length, max_length // 2))
        pad_right = tokenizer.padding_side == "right"
        if s.doc_stride_mode == "step" or s.max_context_rule:
            if not pad_right:
                raise UserError("step-wise doc spans and the max-context rule need a tokenizer that puts the question first")
            return self._encode_spans(items, questions, tokenizer, max_length)
        return self._encode_overflow(items, questions, tokenizer, max_length, min(s.doc_stride, max_length // 4), pad_right)

    @staticmethod
    def _encode_overflow(items, questions, tokenizer, max_length: int, stride: int, pad_right: bool = True) -> list[dict]:
        """Question + context pairs through the fast tokenizer, the context in windows that overlap by `stride` tokens."""
        first, second = (questions, [it.context for it in items]) if pad_right else ([it.context for it in items], questions)
        enc = tokenizer(
            first, second, truncation="only_second" if pad_right else "only_first", max_length=max_length, stride=stride,
            return_overflowing_tokens=True, return_offsets_mapping=True,
        )
        context_seq = 1 if pad_right else 0
        keys = [k for k in ("input_ids", "token_type_ids") if k in enc]
        features = []
        for f, e in enumerate(enc["overflow_to_sample_mapping"]):
            seq_ids = enc.sequence_ids(f)
            offsets: list[Any] = [o if s == context_seq else None for o, s in zip(enc["offset_mapping"][f], seq_ids)]
            ids = enc["input_ids"][f]
            cls = ids.index(tokenizer.cls_token_id) if tokenizer.cls_token_id in ids else 0
            start_pos = end_pos = cls
            item = items[e]
            if item.answers and item.starts and item.starts[0] >= 0:
                a_start, a_end = item.starts[0], item.starts[0] + len(item.answers[0])
                inside = [p for p, o in enumerate(offsets) if o is not None]
                if inside and offsets[inside[0]][0] <= a_start and offsets[inside[-1]][1] >= a_end:
                    start_pos = next(p for p in inside if offsets[p][1] > a_start)
                    end_pos = next(p for p in reversed(inside) if offsets[p][0] < a_end)
            feature = {k: enc[k][f] for k in keys}
            feature.update(start_positions=start_pos, end_positions=end_pos, example=int(e), offsets=offsets)
            features.append(feature)
        return features

    def _encode_spans(self, items, questions, tokenizer, max_length: int) -> list[dict]:
        """Google-style features: windows of `room` context tokens (the length left after the
        question and the special tokens) starting every `step` tokens, i.e. overlapping by
        `room - step`; the tokenizer's own overflow makes them, one call per question length.
        Each window's context tokens get their max-context flag for decoding."""
        s = self.settings
        q_lens = [len(x) for x in tokenizer(questions, add_special_tokens=False)["input_ids"]]
        n_ctx = [len(x) for x in tokenizer([it.context for it in items], add_special_tokens=False)["input_ids"]]
        specials = tokenizer.num_special_tokens_to_add(pair=True)
        rooms = [max(1, max_length - q_len - specials) for q_len in q_lens]

        def step_for(room: int) -> int:  # `overlap` mode still overlaps by the (capped) stride
            return s.doc_stride if s.doc_stride_mode == "step" else max(1, room - min(s.doc_stride, max_length // 4))

        by_room: dict[int, list[int]] = {}
        for e, room in enumerate(rooms):
            by_room.setdefault(room, []).append(e)
        out: dict[int, list[dict]] = {}
        for room, members in by_room.items():
            step = step_for(room)
            feats = self._encode_overflow([items[e] for e in members], [questions[e] for e in members], tokenizer, max_length, max(0, room - step))
            for f in feats:
                out.setdefault(members[f["example"]], []).append(f)
        features = []
        for e in range(len(items)):
            spans = doc_spans(n_ctx[e], rooms[e], step_for(rooms[e])) or [(0, 0)]
            windows = out.get(e, [])
            if len(windows) != len(spans):
                raise RuntimeError(f"the tokenizer made {len(windows)} windows for question {e}, Google's rule {len(spans)}")
            for k, f in enumerate(windows):
                f["example"] = e
                if s.max_context_rule:
                    flags = [False] * len(f["input_ids"])
                    for j, p in enumerate(p for p, o in enumerate(f["offsets"]) if o is not None):
                        flags[p] = max_context(spans, k, spans[k][0] + j)
                    f["max_context"] = flags
                features.append(f)
        return features

    def outputs(self, model, batch: dict) -> list:
        out = model(**model_inputs(batch))
        starts, ends = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
        return list(zip(starts, ends))

    def decode(self, examples: QAExamples, features: list[dict], outputs: list) -> list[str]:
        best: dict[int, tuple[float, str]] = {}
        limit = self.settings.max_answer_length or self.kit.max_answer_tokens
        n_best = self.settings.n_best
        for feature, (start_logits, end_logits) in zip(features, outputs):
            offsets = feature["offsets"]
            flags = feature.get("max_context")
            n = len(offsets)
            starts = np.argsort(start_logits[:n])[::-1][:n_best]
            ends = np.argsort(end_logits[:n])[::-1][:n_best]
            context = examples.items[feature["example"]].context
            for s in starts:
                if offsets[s] is None or (flags is not None and not flags[s]):
                    continue
                for e in ends:
                    if offsets[e] is None or e < s or e - s + 1 > limit:
                        continue
                    score = float(start_logits[s] + end_logits[e])
                    current = best.get(feature["example"])
                    if current is None or score > current[0]:
                        best[feature["example"]] = (score, context[offsets[s][0] : offsets[e][1]])
        return [best.get(i, (0.0, ""))[1] for i in range(len(examples))]

    def golds(self, examples: QAExamples) -> list[list[str]]:
        return [list(item.answers) for item in examples.items]
