"""Resolve which protocol evaluates a (card, encoder) pair and with which settings.

The card's `protocol` block gives defaults; CLI flags override a few of them (`--protocol`,
`--max-steps`, `--limit`, `--languages`). The resolved dict is hashed into the unit key,
so two runs that differ in any setting never share results.
"""

from __future__ import annotations

from polyglue.cards.schema import Card
from polyglue.encoders import EncoderSpec
from polyglue.errors import UserError
from polyglue.runs.units import stable_hash

#: Protocol used when neither `--protocol` nor the card names one.
TASK_DEFAULT_PROTOCOL = {
    "single-classification": "finetune",
    "pair-classification": "finetune",
    "regression": "finetune",
    "token-classification": "finetune",
    "extractive-qa": "finetune",
    "multiple-choice": "finetune",
    "keyword-spotting": "superb",
    "language-id": "superb",
    "speaker-id": "superb",
    "speaker-verification": "superb",
    "asr": "superb",
    "query-by-example": "qbe",
}

TEXT_PROTOCOLS = ("probe", "finetune", "lora")

#: Protocols that belong to another one's leaderboard row. QbE is SUPERB's frozen-upstream
#: protocol for the query-by-example task (DTW instead of a trained head), not a user choice.
ROW_PROTOCOL = {"qbe": "superb"}


def row_protocol(name: str) -> str:
    """The protocol a unit's results are shown under (one row per encoder and user-chosen protocol)."""
    return ROW_PROTOCOL.get(name, name)


def protocol_name(card: Card, encoder: EncoderSpec, requested: str | None) -> str:
    """The protocol for this pair. Weight-free text baselines have no weights to fine-tune: they probe."""
    from polyglue.runs.dispatch import has_runner, protocols_for

    if card.modality == "text":
        if not encoder.has_weights and (requested is None or requested in TEXT_PROTOCOLS):
            return "probe"  # nothing to fine-tune; a plugin's own protocol may still be asked for
        if requested is not None:
            if not has_runner(card.task, requested):
                raise UserError(
                    f"--protocol {requested} does not apply to text card '{card.name}' (use {' or '.join(protocols_for(card.task))})"
                )
            return requested
    elif requested is not None and requested not in TEXT_PROTOCOLS and has_runner(card.task, requested):
        # A speech protocol (e.g. a plugin's) for this task; text protocols of a mixed suite leave speech cards as they are.
        return requested
    return card.protocol.default or TASK_DEFAULT_PROTOCOL[card.task]


def official_protocol(card: Card, encoder: EncoderSpec) -> str:
    """The protocol of the card's own recipe for this encoder (weight-free baselines probe)."""
    return protocol_name(card, encoder, None)


def resolve(card: Card, encoder: EncoderSpec, requested: str | None, overrides: dict) -> dict:
    """The full protocol config: card defaults, then a named recipe, then overrides that are not None.

    The `lora` block is resolved (defaults filled in) for `lora` units only; other units do
    not carry it, so their keys are the same as before the block existed.
    """
    config = {"name": protocol_name(card, encoder, requested), **card.protocol.model_dump(exclude={"default"})}
    lora_override = overrides.get("lora") or {}
    if config["name"] == "lora":
        from polyglue.runs.lora_config import resolve_lora

        config.update(resolve_lora(card, config, lora_override, encoder))
    else:
        if lora_override and card.modality == "text":
            flags = ", ".join(sorted({"recipe": "--recipe"}.get(k, f"--lora-{k.replace('target_modules', 'targets')}") for k in lora_override))
            raise UserError(f"{flags}: only the lora protocol uses these settings (add --protocol lora); card '{card.name}' runs '{config['name']}'")
        config.pop("lora", None)
    for key, value in overrides.items():
        if value is not None and key != "lora":
            config[key] = value
    if overrides.get("learning_rate") is not None:
        config["lr_grid"] = None  # one learning rate named on the command line replaces the card's grid
    return config


def config_hash(config: dict) -> str:
    return stable_hash(config)[:16]
