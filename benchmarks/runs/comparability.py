"""Is a unit the card's official recipe, comparable with the published rows? Decided once, at planning.

Two marks, one mechanism for every suite:

* `debug`: the unit computes something other than the full unit (`--limit`, `--max-steps`):
  a smoke test, never a result. Its settings differ, so its unit key differs from the full unit's.
* `comparable`: the unit ran the card's official protocol with the card's settings. Anything
  else (a debug cap, another protocol than the card's, a subset of languages, a changed
  setting such as a learning-rate or batch-size override) is listed in `reasons`, and reports
  show the row as "not comparable" with them. A card's documented `deviations` (an
  unavoidable difference from the official recipe, e.g. a substitute data set) are reasons
  too, so those rows are never set beside the published ones as if they matched.

`overrides` lists the reasons that come from the run's own flags (not the card), so the
command line can say once, before anything runs, that its rows will not be comparable.

A card's `deviations:` (where its recipe departs from the official code, by design) travel in
the same dict for reports to show; they do not by themselves mark the row not comparable.

The dict this returns travels with the unit (`UnitTask.comparability`) and is stored in the
unit's extras (`extras["comparability"]`), so every report format reads the same record.
"""

from __future__ import annotations

from polyglue.cards.schema import Card, LoraSettings, PrefixSettings, PromptSettings

#: Protocol blocks whose keys are compared one by one (a flag that sets one key names that key).
PEFT_SETTINGS: dict[str, type[LoraSettings] | type[PromptSettings] | type[PrefixSettings]] = {
    "lora": LoraSettings, "prompt": PromptSettings, "prefix": PrefixSettings,
}

#: Settings whose override turns a unit into a debug run, with the flag that sets them.
DEBUG_SETTINGS = {"limit": "--limit", "max_steps": "--max-steps"}

#: How a reason names a protocol that is not the published rows' one.
PROTOCOL_TITLES = {"superb": "SUPERB-style protocol 'superb' (frozen upstream, trained head)"}

#: ASR language-model decoding settings: they only add the `wer_lm`/`cer_lm` metrics (greedy `wer`/`cer`
#: are unchanged), and the paper reports both, so giving an LM keeps a row comparable.
LM_SETTINGS = frozenset({"lm_path", "lm_lexicon", "lm_weight", "word_score", "beam_width"})


def assess(card: Card, config: dict, overrides: dict, *, default_protocol: str, unverified_copy: str | None = None) -> dict:
    """`{"comparable": bool, "debug": bool, "reasons": [...]}` for one planned unit.

    `config`: the resolved protocol settings; `overrides`: the run's setting overrides (None
    values mean "not given"); `default_protocol`: the protocol the card's recipe uses;
    `unverified_copy`: the `--data-dir` folder a pinned card reads that has no `manifest.json`
    (so nothing checks it holds the pinned revision).
    """
    reasons: list[str] = []
    if unverified_copy is not None:
        reasons.append(f"data read from {unverified_copy} without a manifest.json: not verified against the pinned revision")
    debug = False
    card_defaults = card.protocol.model_dump()
    for key, value in overrides.items():
        if value is None or key in LM_SETTINGS:
            continue
        if key in DEBUG_SETTINGS:
            debug = True
            reasons.append(f"{DEBUG_SETTINGS[key]} {value}: a debug run, not the full unit")
        elif key == "feature_storage" and value == "fp16":
            continue  # the default stored form
        elif key == "feature_storage":
            reasons.append(f"--feature-storage {value}: features stored quantised (close to, not equal to, fp16 features)")
        elif key in PEFT_SETTINGS:
            card_block = card_defaults.get(key) or PEFT_SETTINGS[key].model_validate({}).model_dump()
            for sub, sub_value in value.items():
                if sub_value is not None and card_block.get(sub) != sub_value:
                    reasons.append(f"{key}.{sub}={sub_value} overrides the card's {card_block.get(sub)}")
        elif key == "languages":
            reasons.append(f"--languages {','.join(value)}: a subset of the card's languages")
        elif card_defaults.get(key) != value:
            # `--learning-rate`, `--batch-size`, `-o protocol.<field>=...` or a run config's `overrides:`
            reasons.append(f"protocol.{key}={value} overrides the card's {card_defaults.get(key)}")
    if config["name"] != default_protocol:
        if card.protocol.official_protocol == default_protocol:
            # e.g. IndicSUPERB ASR: the card's SUPERB-style frozen-upstream default, not the paper's fine-tuning
            title = PROTOCOL_TITLES.get(config["name"], f"protocol '{config['name']}'")
            reasons.append(f"{title}, not the paper's protocol '{default_protocol}'")
        else:
            reasons.append(f"protocol '{config['name']}' instead of the card's '{default_protocol}'")
    # The card's own documented departures from the official code (`deviations:`): shown with every row.
    return {"comparable": not reasons, "debug": debug, "reasons": reasons, "overrides": list(reasons), "deviations": list(card.deviations)}


def override_notice(assessments: list[dict]) -> str | None:
    """One line for the run's start when its own flags make rows not comparable (None otherwise)."""
    reasons: list[str] = []
    for a in assessments:
        for r in a.get("overrides", []):
            if r not in reasons:
                reasons.append(r)
    if not reasons:
        return None
    return f"note: these rows will not be comparable with published results ({'; '.join(reasons)})"


def of_unit(unit: dict) -> dict:
    """The comparability record of a stored unit row (as `Store.units()` returns it).

    Units stored before the record existed carry none: a debug cap in their settings still
    marks them debug, so an old `--limit` run is never shown as a result.
    """
    record = (unit.get("extras") or {}).get("comparability")
    if isinstance(record, dict) and "comparable" in record:
        return {
            "comparable": bool(record["comparable"]), "debug": bool(record.get("debug")), "reasons": list(record.get("reasons") or []),
            "deviations": list(record.get("deviations") or []),
        }
    config = unit.get("protocol_config") or {}
    reasons = [f"{flag} {config[key]}: a debug run, not the full unit" for key, flag in DEBUG_SETTINGS.items() if config.get(key) is not None]
    return {"comparable": not reasons, "debug": bool(reasons), "reasons": reasons, "deviations": []}
