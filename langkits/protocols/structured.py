"""The `probe` protocol of token, QA and multiple-choice cards.

`bow` runs the weight-free baseline of the task type (`polyglue.langkits.protocols.lexical`);
an `hf:` encoder is frozen and only its linear task head is trained
(`polyglue.langkits.protocols.finetune.run_frozen`).
"""

from __future__ import annotations

from polyglue.errors import UserError
from polyglue.contract import RunContext, UnitResult


def run(ctx: RunContext) -> UnitResult:
    if ctx.encoder.has_weights:
        from polyglue.langkits.protocols.finetune import run_frozen

        return run_frozen(ctx)
    if ctx.encoder.kind == "bow":
        from polyglue.langkits.protocols.lexical import RUNNERS

        return RUNNERS[ctx.card.task](ctx)
    raise UserError(
        f"'{ctx.encoder.label}' gives sentence vectors only; {ctx.card.task} cards need token-level states (an hf: model)"
    )
