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

TEXT_PROTOCOLS = ("probe", "finetune", "lora", "prompt", "prefix")

#: Protocols with a settings block of their own (`protocol.<name>`), resolved only for their units.
PEFT_PROTOCOLS = ("lora", "prompt", "prefix")

#: Text protocols that also switch a speech card of a mixed suite, where its task has a runner
#: (LoRA on the wav2vec2 upstream of `(asr, lora)`): the same method on both sides.
SHARED_PROTOCOLS = ("lora",)

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
    elif requested is not None and (requested not in TEXT_PROTOCOLS or requested in SHARED_PROTOCOLS) and has_runner(card.task, requested):
        # A speech protocol (e.g. a plugin's) for this task; text protocols of a mixed suite leave speech cards as they are.
        return requested
    return card.protocol.default or TASK_DEFAULT_PROTOCOL[card.task]


def official_protocol(card: Card, encoder: EncoderSpec) -> str:
    """The protocol of the card's own recipe for this encoder (weight-free baselines probe)."""
    return protocol_name(card, encoder, None)


def resolve(card: Card, encoder: EncoderSpec, requested: str | None, overrides: dict) -> dict:
    """The full protocol config: card defaults, then a named recipe, then overrides that are not None.

    The `lora`, `prompt` and `prefix` blocks are resolved (defaults filled in) for units of
    that protocol only; other units do not carry them, so their keys are the same as before
    the blocks existed.
    """
    from polyglue.runs.lora_config import FLAGS, resolve_peft

    config = {"name": protocol_name(card, encoder, requested), **card.protocol.model_dump(exclude={"default"})}
    for kind in PEFT_PROTOCOLS:
        override = overrides.get(kind) or {}
        if config["name"] == kind:
            config.update(resolve_peft(card, config, kind, override, encoder))
            continue
        if override and (card.modality == "text" or kind not in SHARED_PROTOCOLS):
            flags = ", ".join(sorted(FLAGS[kind].get(k, f"{kind}={{'{k}': ...}}") for k in override))
            raise UserError(f"{flags}: only the {kind} protocol uses these settings (add --protocol {kind}); card '{card.name}' runs '{config['name']}'")
        config.pop(kind, None)
    for key, value in overrides.items():
        if value is not None and key not in PEFT_PROTOCOLS:
            config[key] = value
    if overrides.get("learning_rate") is not None:
        config["lr_grid"] = None  # one learning rate named on the command line replaces the card's grid
    return config


def config_hash(config: dict) -> str:
    return stable_hash(config)[:16]
