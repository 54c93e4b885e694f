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

#: PEFT protocols a speech task has too (`(asr, lora)`): their flags are not refused on the
#: speech cards of a mixed suite that run another protocol.
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
    elif requested is not None and has_runner(card.task, requested):
        # A speech protocol for this task (ASR `finetune`, a plugin's); a text protocol that this speech
        # task has no runner for (a mixed suite's `--protocol lora`) leaves the card's default.
        return requested
    return card.protocol.default or TASK_DEFAULT_PROTOCOL[card.task]


def official_protocol(card: Card, encoder: EncoderSpec) -> str:
    """The protocol of the published rows for this encoder: the card's `official_protocol` when it names
    one (IndicSUPERB ASR: the paper's `finetune`, not the `superb` default), else its own default
    (weight-free text baselines probe)."""
    if card.protocol.official_protocol is not None and not (card.modality == "text" and not encoder.has_weights):
        return card.protocol.official_protocol
    return protocol_name(card, encoder, None)


def resolve(card: Card, encoder: EncoderSpec, requested: str | None, overrides: dict) -> dict:
    """The full protocol config: card defaults, then a named recipe, then overrides that are not None.

    The `lora`, `prompt` and `prefix` blocks are resolved (defaults filled in) for units of
    that protocol only; other units do not carry them, so their keys are the same as before
    the blocks existed.
    """
    from polyglue.runs.lora_config import FLAGS, resolve_peft

    config = {"name": protocol_name(card, encoder, requested), **card.protocol.model_dump(exclude={"default", "official_protocol"})}
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
    if card.task != "asr" or not config.get("lm_path"):
        # Only ASR units decode with an LM (a suite-wide `-o protocol.lm_path=...` leaves the other cards as they are).
        given = [k for k in LM_DECODING if k != "lm_path" and overrides.get(k) is not None]
        if given and card.task == "asr":
            raise UserError(f"protocol.{given[0]} is a setting of LM decoding: give protocol.lm_path too (an ARPA or KenLM binary file)")
        for key in LM_DECODING:  # units without an LM keep the keys they had before these settings existed
            config.pop(key, None)
    else:
        # Checked now, before anything trains: a missing or garbage LM is one line and exit 2.
        from pathlib import Path

        from polyglue.speech.lm import check_lm_file, files_sha256

        lm_file = check_lm_file(config["lm_path"], config.get("lm_lexicon"))
        config["lm_path"] = str(lm_file)
        if config.get("lm_lexicon"):
            config["lm_lexicon"] = str(Path(config["lm_lexicon"]).expanduser().resolve())
        config["lm_sha256"] = files_sha256(config["lm_path"], config.get("lm_lexicon"))
    return config


#: ASR beam-search settings: carried (and hashed) only by units that decode with an LM.
LM_DECODING = ("lm_path", "lm_lexicon", "lm_weight", "word_score", "beam_width")

#: Settings that locate a file whose content hash is in the config too: the key follows the content, not the path.
PATH_SETTINGS = ("lm_path", "lm_lexicon")


def config_hash(config: dict) -> str:
    return stable_hash({k: v for k, v in config.items() if k not in PATH_SETTINGS})[:16]


def lm_notice(tasks) -> str | None:
    """One line for the run's start when ASR units decode greedily only (no `protocol.lm_path`)."""
    cards = sorted({t.unit.card for t in tasks if (t.card or {}).get("task") == "asr" and not t.protocol_config.get("lm_path")})
    if not cards:
        return None
    return (f"note: beam search with an LM skipped for {', '.join(cards)}: no protocol.lm_path, greedy decoding only "
            "(-o protocol.lm_path=<ARPA or KenLM binary> adds wer_lm/cer_lm)")
