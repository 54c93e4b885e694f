"""Read a text card's inputs and targets out of a split, through the card's field roles.

Sentence tasks give strings; token tasks word lists and tag positions; QA gives
`QAItem`s (answers re-located in the normalised context); multiple choice gives
`ChoiceItem`s, where a CHID row with several `#idiomNNNNNN#` blanks becomes one item per
blank. Every item id is unique within its split (duplicates get `#k` suffixes), so
prediction records can be paired across runs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from polyglue.cards.schema import Card
from polyglue.data.labels import LabelSpace, encode_regression
from polyglue.data.materialize import SplitData
from polyglue.errors import DataError

BLANK = "____"
"""What a CHID blank under question becomes in the passage (other blanks are dropped)."""
_IDIOM = re.compile(r"#idiom\d+#")


def _as_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):  # e.g. CLUEWSC `target`: its text fields, in order
        return " ".join(_as_text(v) for v in value.values() if isinstance(v, (str, list, tuple)))
    if isinstance(value, (list, tuple)):
        return " ".join(_as_text(v) for v in value)
    return str(value)


def texts(card: Card, split: SplitData, kit, role: str = "text") -> list[str]:
    """Normalised strings of the column playing `role` (lists, e.g. CSL keywords, are joined)."""
    column = card.role_column(role)
    return [kit.normalize(_as_text(v)) for v in split.column(column)]


def sentence_inputs(card: Card, split: SplitData, kit, template: str = "default") -> tuple[list[str], list[str] | None]:
    """(texts, second texts or None) for single-sentence, pair and regression cards.

    `template: span-markers` (CLUEWSC2020): the `text_pair` column holds the target spans,
    which are marked inside the sentence instead of being a second text: span 1 as `_..._`,
    span 2 as `[...]`, as the WSC processor of CLUE's `run_classifier.py`."""
    if template == "span-markers" and card.role_column("text_pair"):
        raw = split.column(card.role_column("text"))
        targets = split.column(card.role_column("text_pair"))
        where = split.origin
        return [kit.normalize(mark_spans(str(t), g, f"{where}: row {i + 1}")) for i, (t, g) in enumerate(zip(raw, targets))], None
    pairs = texts(card, split, kit, "text_pair") if card.role_column("text_pair") else None
    return texts(card, split, kit), pairs


def mark_spans(text: str, target: dict, where: str) -> str:
    """`text` with `span1` wrapped in `_` and `span2` in `[` `]` at their character indexes."""
    if not isinstance(target, dict):
        raise DataError(f"{where}: span markers need a target with span1/span2 text and index, got {type(target).__name__}")
    marks = []
    for k, (opening, closing) in (("1", ("_", "_")), ("2", ("[", "]"))):
        span, start = target.get(f"span{k}_text"), target.get(f"span{k}_index")
        if span is None or start is None:
            raise DataError(f"{where}: target has no span{k}_text/span{k}_index")
        start = int(start)
        if text[start : start + len(span)] != span:
            raise DataError(f"{where}: span{k} '{span}' is not at index {start} of the text")
        marks += [(start, 0, opening), (start + len(span), 1, closing)]
    out = text
    # Right to left; at one index the opening mark goes in first, so a span's closing mark stays before the next opening.
    for index, _, mark in sorted(marks, key=lambda m: (-m[0], m[1])):
        out = out[:index] + mark + out[index:]
    return out


def unique_ids(ids: list[str]) -> list[str]:
    """Make ids unique: the second `x` becomes `x#1`, the third `x#2` (C3 repeats document ids)."""
    seen: dict[str, int] = {}
    out = []
    for i in ids:
        k = seen.get(i, 0)
        seen[i] = k + 1
        out.append(i if k == 0 else f"{i}#{k}")
    return out


def example_ids(card: Card, split: SplitData) -> list[str]:
    column = card.role_column("id")
    if column and column in split.table.column_names:
        return unique_ids([str(v) for v in split.column(column)])
    return [f"{split.role}-{i}" for i in range(len(split))]


def label_space(card: Card, split: SplitData) -> LabelSpace:
    if card.labels is None:  # was a TypeError from list(None); classification and tagging cards list them
        raise DataError(f"card '{card.name}': {split.origin}: the card lists no `labels` to encode this split's labels with")
    return LabelSpace(card.labels, split.source_label_names, card.label_map)


def targets(card: Card, split: SplitData) -> np.ndarray:
    """Class positions in the card's label list, or floats for regression."""
    values = split.column(card.role_column("label"))
    if card.task == "regression":
        return encode_regression(values, split.origin, allow_hidden=split.hidden_labels)
    return label_space(card, split).encode(values, split.origin, allow_hidden=split.hidden_labels)


# --------------------------------------------------------------------------- token classification


def token_inputs(card: Card, split: SplitData, kit) -> tuple[list[list[str]], list[np.ndarray]]:
    """(normalised word lists, tag positions per word in the card's label list)."""
    words = [[kit.normalize(str(w)) for w in row] for row in split.column(card.role_column("tokens"))]
    tags = label_space(card, split).encode_sequences(split.column(card.role_column("tags")), split.origin)
    for i, (w, t) in enumerate(zip(words, tags)):
        if len(w) != len(t):
            raise DataError(f"{split.origin}: row {i + 1} has {len(w)} tokens but {len(t)} tags")
    return words, tags


# --------------------------------------------------------------------------- extractive QA


@dataclass
class QAItem:
    id: str
    question: str
    context: str
    answers: list[str]
    starts: list[int]
    """Character offsets of `answers` in `context` (-1 when an answer is not found there)."""


def _locate(context: str, answer: str, hint: int) -> int:
    """Offset of `answer` in `context`, the occurrence nearest to `hint` (data offsets drift after strip/NFC)."""
    if 0 <= hint and context[hint : hint + len(answer)] == answer:
        return hint
    hits = [m.start() for m in re.finditer(re.escape(answer), context)] if answer else []
    return min(hits, key=lambda h: abs(h - hint)) if hits else -1


def qa_items(card: Card, split: SplitData, kit) -> list[QAItem]:
    contexts = split.column(card.role_column("context"))
    questions = split.column(card.role_column("question"))
    answers = split.column(card.role_column("answers"))
    items = []
    for i, (ident, context, question, ans) in enumerate(zip(example_ids(card, split), contexts, questions, answers)):
        context = kit.normalize(str(context))
        ans = ans or {}
        if not isinstance(ans, dict):
            raise DataError(f"{split.origin}: row {i + 1}: answers must be {{text: [...], answer_start: [...]}}, got {type(ans).__name__}")
        golds = [kit.normalize(str(t)) for t in ans.get("text") or []]
        hints = list(ans.get("answer_start") or []) + [-1] * len(golds)
        starts = [_locate(context, g, int(h)) for g, h in zip(golds, hints)]
        items.append(QAItem(ident, kit.normalize(str(question)), context, golds, starts))
    return items


# --------------------------------------------------------------------------- multiple choice


@dataclass
class ChoiceItem:
    id: str
    context: str
    question: str
    choices: list[str]
    answer: int
    """Index of the right choice; -1 when the split hides it."""
    group: str | None = None
    """CHID: the row the blank belongs to (its blanks share one candidate list; joint decoding)."""
    segments: tuple[str, ...] | None = None
    """CHID: the row passage's text between its blanks (normalised), for the official input template."""
    blank: int = -1
    """CHID: which gap between `segments` is the blank under question."""
    tag: str | None = None
    """CHID: the blank's own `#idiomNNNNNN#` tag, the key CLUE's CHID submission file uses."""


def _answer_index(value, choices: list[str], where: str) -> int:
    if value is None or value == "":
        return -1
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        if not 0 <= int(value) < len(choices):
            raise DataError(f"{where}: answer index {value} is outside the {len(choices)} choices")
        return int(value)
    text = str(value)
    if text in choices:
        return choices.index(text)
    raise DataError(f"{where}: answer '{text}' is not one of the choices {choices}")


def _window(text: str, center: int, width: int | None) -> str:
    if width is None or len(text) <= width:
        return text
    start = max(0, min(center - width // 2, len(text) - width))
    return text[start : start + width]


def choice_items(card: Card, split: SplitData, kit, *, window_chars: int | None = None) -> list[ChoiceItem]:
    """Items of a multiple-choice split. CHID rows (context passages with `#idiomNNNNNN#` blanks and
    answers `{text, candidate_id}` in blank order) expand to one item per blank, its passage cut to
    `window_chars` characters around the blank."""
    choices_col, answer_col = card.role_column("choices"), card.role_column("answer")
    context_col, question_col = card.role_column("context"), card.role_column("question")
    ids = example_ids(card, split)
    rows_choices = split.column(choices_col)
    rows_answer = split.column(answer_col)
    rows_context = split.column(context_col) if context_col else [""] * len(split)
    rows_question = split.column(question_col) if question_col else [""] * len(split)
    items: list[ChoiceItem] = []
    for i, (ident, choices, answer, context, question) in enumerate(zip(ids, rows_choices, rows_answer, rows_context, rows_question)):
        where = f"{split.origin}: row {i + 1}"
        choices = [kit.normalize(str(c)) for c in choices or []]
        passages = context if isinstance(context, (list, tuple)) else [context or ""]
        blanks = [(p, m) for p in passages for m in _IDIOM.finditer(str(p))]
        if blanks:
            gold_ids = list((answer or {}).get("candidate_id") or []) if isinstance(answer, dict) else []
            if gold_ids and len(gold_ids) != len(blanks):
                raise DataError(f"{where}: {len(blanks)} idiom blanks but {len(gold_ids)} answers")
            for k, (passage, match) in enumerate(blanks):
                text = str(passage)
                filled = _IDIOM.sub("", text[: match.start()]) + BLANK + _IDIOM.sub("", text[match.end() :])
                center = len(_IDIOM.sub("", text[: match.start()]))
                gold = _answer_index(int(gold_ids[k]), choices, where) if gold_ids else -1
                own = [m for m in _IDIOM.finditer(text)]
                segments = tuple(kit.normalize(part) for part in _IDIOM.split(text))
                items.append(ChoiceItem(
                    f"{ident}:{match.group(0)}", kit.normalize(_window(filled, center, window_chars)), "", choices, gold,
                    group=ident, segments=segments, blank=[m.start() for m in own].index(match.start()), tag=match.group(0),
                ))
            continue
        context_text = "\n".join(str(p) for p in passages)
        items.append(ChoiceItem(ident, kit.normalize(context_text), kit.normalize(_as_text(question)), choices, _answer_index(answer, choices, where)))
    return items
