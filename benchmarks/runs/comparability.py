"""Is a unit the card's official recipe, comparable with the published rows? Decided once, at planning.

Two marks, one mechanism for every suite:

* `debug`: the unit computes something other than the full unit (`--limit`, `--max-steps`):
  a smoke test, never a result. Its settings differ, so its unit key differs from the full unit's.
* `comparable`: the unit ran the card's official protocol with the card's settings. Anything
  else (a debug cap, another protocol than the card's, a subset of languages, a changed
  setting) is listed in `reasons`, and reports show the row as "not comparable" with them.

The dict this returns travels with the unit (`UnitTask.comparability`) and is stored in the
unit's extras (`extras["comparability"]`), so every report format reads the same record.
"""

from __future__ import annotations

from polyglue.cards.schema import Card, LoraSettings

#: Settings whose override turns a unit into a debug run, with the flag that sets them.
DEBUG_SETTINGS = {"limit": "--limit", "max_steps": "--max-steps"}


def assess(card: Card, config: dict, overrides: dict, *, default_protocol: str) -> dict:
    """`{"comparable": bool, "debug": bool, "reasons": [...]}` for one planned unit.

    `config`: the resolved protocol settings; `overrides`: the run's setting overrides (None
    values mean "not given"); `default_protocol`: the protocol the card's recipe uses.
    """
    reasons: list[str] = []
    debug = False
    card_defaults = card.protocol.model_dump()
    for key, value in overrides.items():
        if value is None:
            continue
        if key in DEBUG_SETTINGS:
            debug = True
            reasons.append(f"{DEBUG_SETTINGS[key]} {value}: a debug run, not the full unit")
        elif key == "lora":
            card_lora = card_defaults.get("lora") or LoraSettings.model_validate({}).model_dump()
            for sub, sub_value in value.items():
                if sub_value is not None and card_lora.get(sub) != sub_value:
                    reasons.append(f"lora.{sub}={sub_value} overrides the card's {card_lora.get(sub)}")
        elif key == "languages":
            reasons.append(f"--languages {','.join(value)}: a subset of the card's languages")
        elif card_defaults.get(key) != value:
            reasons.append(f"{key}={value} overrides the card's {card_defaults.get(key)}")
    if config["name"] != default_protocol:
        reasons.append(f"protocol '{config['name']}' instead of the card's '{default_protocol}'")
    return {"comparable": not reasons, "debug": debug, "reasons": reasons}
