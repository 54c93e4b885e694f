"""Task heads by card task type (imported lazily by the fine-tuning and probing runners)."""

from __future__ import annotations

from polyglue.errors import UserError


def head_for(card, kit):
    """The `TaskHead` for a text card's task type."""
    task = card.task
    if task in ("single-classification", "pair-classification", "regression"):
        from polyglue.langkits.tasks.sequence import SequenceHead

        return SequenceHead(card, kit)
    if task == "token-classification":
        from polyglue.langkits.tasks.tokens import TokenHead

        return TokenHead(card, kit)
    if task == "extractive-qa":
        from polyglue.langkits.tasks.qa import QAHead

        return QAHead(card, kit)
    if task == "multiple-choice":
        from polyglue.langkits.tasks.choice import ChoiceHead

        return ChoiceHead(card, kit)
    raise UserError(f"card '{card.name}': {task} is not a text task")
