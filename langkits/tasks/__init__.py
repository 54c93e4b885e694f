"""Task heads by card task type (imported lazily by the fine-tuning and probing runners)."""

from __future__ import annotations

from benchmarks.errors import UserError


def head_for(card, kit):
    """The `TaskHead` for a text card's task type."""
    task = card.task
    if task in ("single-classification", "pair-classification", "regression"):
        from langkits.tasks.sequence import SequenceHead

        return SequenceHead(card, kit)
    if task == "token-classification":
        from langkits.tasks.tokens import TokenHead

        return TokenHead(card, kit)
    if task == "extractive-qa":
        from langkits.tasks.qa import QAHead

        return QAHead(card, kit)
    if task == "multiple-choice":
        from langkits.tasks.choice import ChoiceHead

        return ChoiceHead(card, kit)
    raise UserError(f"card '{card.name}': {task} is not a text task")
