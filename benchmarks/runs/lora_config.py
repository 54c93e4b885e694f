"""Resolve a `lora` unit's settings at planning: card block, named recipe, then flags.

Every problem is a user error naming where the value came from (the card field
`protocol.lora.<key>` or the flag `--lora-<key>`), found before anything runs.
"""

from __future__ import annotations

from pydantic import ValidationError

from polyglue.cards.schema import Card, LoraSettings
from polyglue.encoders import EncoderSpec
from polyglue.errors import UserError

#: Flag that sets each `lora` key on the command line (the Python API takes `lora={...}`).
FLAGS = {"r": "--lora-r", "alpha": "--lora-alpha", "dropout": "--lora-dropout", "target_modules": "--lora-targets", "recipe": "--recipe"}


def _where(card: Card, key: str, override: dict) -> str:
    if key in override:
        return FLAGS.get(key, f"lora={{'{key}': ...}}")
    return f"card '{card.name}' field protocol.lora.{key}"


def resolve_lora(card: Card, config: dict, override: dict, encoder: EncoderSpec | None = None) -> dict:
    """The settings a `lora` unit runs with: `{"lora": {...}, ...optimiser settings a recipe sets}`."""
    from polyglue.runs.recipes import RECIPES

    unknown = sorted(set(override) - set(LoraSettings.model_fields))
    if unknown:
        raise UserError(f"unknown lora setting(s) {', '.join(unknown)} (known: {', '.join(LoraSettings.model_fields)})")
    block = dict(config.get("lora") or LoraSettings.model_validate({}).model_dump())
    out: dict = {}
    recipe_name = override.get("recipe", block.get("recipe"))
    if recipe_name is not None:
        recipe = RECIPES.get(recipe_name)
        if recipe is None or recipe.protocol != "lora":
            known = ", ".join(n for n, r in RECIPES.items() if r.protocol == "lora")
            raise UserError(f"{_where(card, 'recipe', override)}: unknown recipe '{recipe_name}' (known: {known})")
        settings = recipe.settings_for(card.name)
        if settings is None:
            raise UserError(
                f"{_where(card, 'recipe', override)}: recipe '{recipe_name}' has settings for cards "
                f"{', '.join(recipe.per_card)}, not for '{card.name}'"
            )
        block.update(settings.pop("lora"))
        out.update(settings)
    block.update({k: v for k, v in override.items() if v is not None})
    block["recipe"] = recipe_name
    try:
        out["lora"] = LoraSettings.model_validate(block).model_dump()
    except ValidationError as exc:
        err = exc.errors()[0]
        key = str(err["loc"][0]) if err["loc"] else "lora"
        raise UserError(f"{_where(card, key, override)}: {err['msg']}") from None
    if encoder is not None and out["lora"]["target_modules"]:
        from polyglue.langkits.protocols.lora import check_targets

        check_targets(card.name, encoder, out["lora"]["target_modules"])
    return out
