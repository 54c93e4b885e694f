"""Extractive QA, SQuAD-style: `AutoModelForQuestionAnswering` over doc-stride windows.

As `run_qa.py`: questions and contexts are tokenised together, the context split into
windows of `max_length` tokens overlapping by `stride`; a window without the answer
points at its first token (`[CLS]`). Decoding takes the 20 best start and end logits of
each window, keeps spans inside the context and at most `kit.max_answer_tokens` long,
and answers with the best start + end score over all windows of the question.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from polyglue.errors import UserError
from polyglue.langkits import inputs
from polyglue.langkits.tasks.base import TaskHead, model_inputs

N_BEST = 20
MAX_QUESTION_TOKENS = 64


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
        stride = min(128, max_length // 4)
        questions = _cut_questions([it.question for it in items], tokenizer, min(MAX_QUESTION_TOKENS, max_length // 2))
        pad_right = tokenizer.padding_side == "right"
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
            offsets = [o if s == context_seq else None for o, s in zip(enc["offset_mapping"][f], seq_ids)]
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

    def outputs(self, model, batch: dict) -> list:
        out = model(**model_inputs(batch))
        starts, ends = out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()
        return list(zip(starts, ends))

    def decode(self, examples: QAExamples, features: list[dict], outputs: list) -> list[str]:
        best: dict[int, tuple[float, str]] = {}
        limit = self.kit.max_answer_tokens
        for feature, (start_logits, end_logits) in zip(features, outputs):
            offsets = feature["offsets"]
            n = len(offsets)
            starts = np.argsort(start_logits[:n])[::-1][:N_BEST]
            ends = np.argsort(end_logits[:n])[::-1][:N_BEST]
            context = examples.items[feature["example"]].context
            for s in starts:
                if offsets[s] is None:
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
