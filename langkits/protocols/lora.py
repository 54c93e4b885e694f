"""The text PEFT protocols: `lora`, `prompt` and `prefix`, the task head trained in full.

LoRA (Hu et al. 2021), soft prompt tuning (Lester et al. 2021) and prefix tuning (Li & Liang
2021) through the `peft` library, on `finetune`'s recipe (the card's epochs, learning rate
or grid, batch size, warm-up, best epoch on validation). The pretrained encoder's weights do
not learn; the adapter (low-rank updates, virtual-token embeddings, or per-layer key/value
prefixes) and every module of the task head do. The wrapping, counting and saving is the
shared `polyglue.peft_adapters` layer (also used by speech's `(asr, lora)`).

Which task types each protocol serves is `SUPPORT` (registered in `polyglue.runs.dispatch`):
prompt tuning prepends virtual tokens to the input, so its outputs are per input position
only for sentence-level heads; prefix tuning leaves the positions alone but needs attention
that reads `past_key_values`, checked for real on the model type at planning.

A unit records its parameter counts (`extras["parameters"]`: total, trainable, adapter,
head, frozen) and returns the trained adapter and head as `peft` files plus
`polyglue_adapter.json`; `load_trained` rebuilds the model from them.
"""

from __future__ import annotations

from typing import Any

from polyglue.contract import RunContext, UnitResult
from polyglue.peft_adapters import (
    ADAPTER_INFO, PeftAdapter, check_targets, head_modules, linear_names, load_trained, missing_targets, peft_lib,
)

__all__ = [
    "ADAPTER_INFO", "LoraAdapter", "SUPPORT", "TextPeftAdapter", "check_targets", "head_modules", "linear_names",
    "load_trained", "missing_targets", "run", "run_prefix", "run_prompt",
]

_TEXT_TASKS = ("single-classification", "pair-classification", "regression", "token-classification", "extractive-qa", "multiple-choice")

#: Task types each text PEFT protocol runs on (measured with a tiny random BERT under the pinned
#: transformers and peft, `tests/text/test_peft_prompt.py`): prompt tuning shifts every position by
#: the virtual tokens, so token tagging and span heads would be read off the wrong positions; peft has
#: no multiple-choice task type (its inputs are 3-D) for either prompt-learning method.
SUPPORT: dict[str, tuple[str, ...]] = {
    "lora": _TEXT_TASKS,
    "prompt": ("single-classification", "pair-classification", "regression"),
    "prefix": ("single-classification", "pair-classification", "regression", "token-classification", "extractive-qa"),
}


class TextPeftAdapter(PeftAdapter):
    """The shared adapter, with a text unit's settings, names and artifact record."""

    def __init__(self, ctx: Any, kind: str = "lora") -> None:
        from polyglue.cards.schema import LoraSettings, PrefixSettings, PromptSettings

        defaults: dict[str, type[LoraSettings] | type[PromptSettings] | type[PrefixSettings]] = {
            "lora": LoraSettings, "prompt": PromptSettings, "prefix": PrefixSettings,
        }
        settings = getattr(ctx.settings, kind, None) or defaults[kind].model_validate({})
        path = getattr(ctx.encoder, "local_path", None)
        super().__init__(kind, settings, card_name=ctx.card.name, encoder_label=ctx.encoder.label,
                         tokenizer_path=str(path) if path is not None else None)
        self.ctx = ctx

    def finish(self, model: Any, result: UnitResult, info: dict | None = None) -> None:  # type: ignore[override]
        card = self.ctx.card
        super().finish(model, result, {"encoder": self.ctx.encoder.spec, "card": card.name, "labels": card.labels,
                                       "task": card.task, **(info or {})})


def LoraAdapter(ctx: Any) -> TextPeftAdapter:  # noqa: N802 - the name the lora protocol has always had
    return TextPeftAdapter(ctx, "lora")


def _run(ctx: RunContext, kind: str) -> UnitResult:
    from polyglue.langkits.protocols.finetune import _train_and_score

    peft_lib(kind)
    return _train_and_score(ctx, frozen=False, adapter=TextPeftAdapter(ctx, kind))


def run(ctx: RunContext) -> UnitResult:
    """Fine-tune LoRA adapters and the task head with the card's recipe (the `lora` protocol)."""
    return _run(ctx, "lora")


def run_prompt(ctx: RunContext) -> UnitResult:
    """Train soft prompt embeddings and the task head (the `prompt` protocol)."""
    return _run(ctx, "prompt")


def run_prefix(ctx: RunContext) -> UnitResult:
    """Train per-layer key/value prefixes and the task head (the `prefix` protocol)."""
    return _run(ctx, "prefix")
