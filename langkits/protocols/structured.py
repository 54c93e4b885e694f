"""The `probe` protocol of token, QA and multiple-choice cards.

`bow` runs the weight-free baseline of the task type (`polyglue.langkits.protocols.lexical`);
an `hf:` encoder is frozen and only its linear task head is trained
(`polyglue.langkits.protocols.finetune.run_frozen`).
"""

from __future__ import annotations

from polyglue.errors import UserError
from polyglue.contract import UnitResult


def run(ctx) -> UnitResult:
    if ctx.encoder.kind == "bow":
        from polyglue.langkits.protocols.lexical import RUNNERS

        return RUNNERS[ctx.card.task](ctx)
    if ctx.encoder.kind == "hf":
        from polyglue.langkits.protocols.finetune import run_frozen

        return run_frozen(ctx)
    raise UserError(f"'{ctx.encoder.label}' is not a text encoder")
