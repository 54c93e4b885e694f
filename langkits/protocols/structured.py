"""The `probe` protocol of token, QA and multiple-choice cards.

`bow` runs the weight-free baseline of the task type (`langkits.protocols.lexical`);
an `hf:` encoder is frozen and only its linear task head is trained
(`langkits.protocols.finetune.run_frozen`).
"""

from __future__ import annotations

from benchmarks.errors import UserError
from benchmarks.runs.units import UnitResult


def run(ctx) -> UnitResult:
    if ctx.encoder.kind == "bow":
        from langkits.protocols.lexical import RUNNERS

        return RUNNERS[ctx.card.task](ctx)
    if ctx.encoder.kind == "hf":
        from langkits.protocols.finetune import run_frozen

        return run_frozen(ctx)
    raise UserError(f"'{ctx.encoder.label}' is not a text encoder")
