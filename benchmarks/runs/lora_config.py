"""Resolve a PEFT unit's settings at planning: card block, named recipe (LoRA), then flags.

The `lora`, `prompt` and `prefix` protocols each read their own block (`protocol.<name>`).
Every problem is a user error naming where the value came from (the card field
`protocol.<name>.<key>` or its flag), found before anything runs: values out of range, a
LoRA target module the encoder lacks, prefix tuning on a model whose attention ignores it.
"""

from __future__ import annotations

from pydantic import BaseModel, ValidationError

from polyglue.cards.schema import Card, LoraSettings, PrefixSettings, PromptSettings
from polyglue.encoders import EncoderSpec
from polyglue.errors import UserError
from polyglue.peft_adapters import FLAGS

SETTINGS: dict[str, type[BaseModel]] = {"lora": LoraSettings, "prompt": PromptSettings, "prefix": PrefixSettings}

__all__ = ["FLAGS", "SETTINGS", "resolve_lora", "resolve_peft"]


def _where(card: Card, kind: str, key: str, override: dict) -> str:
    if key in override:
        return FLAGS[kind].get(key, f"{kind}={{'{key}': ...}}")
    return f"card '{card.name}' field protocol.{kind}.{key}"


def _head_class(card: Card) -> str:
    return {"token-classification": "AutoModelForTokenClassification", "extractive-qa": "AutoModelForQuestionAnswering"}.get(
        card.task, "AutoModelForSequenceClassification")


def resolve_peft(card: Card, config: dict, kind: str, override: dict, encoder: EncoderSpec | None = None) -> dict:
    """The settings a `kind` unit runs with: `{kind: {...}, ...optimiser settings a recipe sets}`."""
    from polyglue.runs.recipes import RECIPES

    model = SETTINGS[kind]
    unknown = sorted(set(override) - set(model.model_fields))
    if unknown:
        raise UserError(f"unknown {kind} setting(s) {', '.join(unknown)} (known: {', '.join(model.model_fields)})")
    block = dict(config.get(kind) or model.model_validate({}).model_dump())
    out: dict = {}
    recipe_name = override.get("recipe", block.get("recipe")) if kind == "lora" else None
    if recipe_name is not None:
        recipe = RECIPES.get(recipe_name)
        if recipe is None or recipe.protocol != "lora":
            known = ", ".join(n for n, r in RECIPES.items() if r.protocol == "lora")
            raise UserError(f"{_where(card, kind, 'recipe', override)}: unknown recipe '{recipe_name}' (known: {known})")
        settings = recipe.settings_for(card.name)
        if settings is None:
            raise UserError(
                f"{_where(card, kind, 'recipe', override)}: recipe '{recipe_name}' has settings for cards "
                f"{', '.join(recipe.per_card)}, not for '{card.name}'"
            )
        block.update(settings.pop("lora"))
        out.update(settings)
    block.update({k: v for k, v in override.items() if v is not None})
    if kind == "lora":
        block["recipe"] = recipe_name
    try:
        out[kind] = model.model_validate(block).model_dump()
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else next((k for k in ("init_text", "init") if k in override), "init")
        raise UserError(f"{_where(card, kind, key, override)}: {err['msg']}") from None
    if encoder is not None:
        from polyglue.peft_adapters import check_prefix_support, check_targets

        if kind == "lora" and out[kind]["target_modules"]:
            check_targets(card.name, encoder, out[kind]["target_modules"])
        if kind == "prefix" and card.modality == "text":
            check_prefix_support(card.name, encoder, _head_class(card), PrefixSettings.model_validate(out[kind]))
    return out


def resolve_lora(card: Card, config: dict, override: dict, encoder: EncoderSpec | None = None) -> dict:
    """The settings a `lora` unit runs with (kept for callers of the LoRA-only name)."""
    return resolve_peft(card, config, "lora", override, encoder)
