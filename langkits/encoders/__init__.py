"""Text encoders: the weight-free `bow` baseline, Hugging Face models (`hf:`), and plugins' kinds.

`build_text_encoder(ctx)` is the text side's one factory: the spec's kind names the
builder (`polyglue.encoders.EncoderKind.text_factory`), which returns an object with
`encode(texts) -> (n_texts, dim)` matrix (dense or sparse).
"""

from __future__ import annotations

from polyglue.contract import RunContext
from polyglue.errors import UserError


def build_text_encoder(ctx: RunContext):
    """The unit's sentence encoder, built by its kind's text factory (imported lazily)."""
    from polyglue.plugins import resolve_target

    factory = ctx.encoder.info.text_factory
    if factory is None:
        raise UserError(f"'{ctx.encoder.label}' is not a text encoder")
    return resolve_target(factory)(ctx.encoder, ctx)
