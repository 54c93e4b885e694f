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

from polyglue.cards.schema import Card

#: Settings whose override turns a unit into a debug run, with the flag that sets them.
DEBUG_SETTINGS = {"limit": "--limit", "max_steps": "--max-steps"}


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
        if value is None:
            continue
        if key in DEBUG_SETTINGS:
            debug = True
            reasons.append(f"{DEBUG_SETTINGS[key]} {value}: a debug run, not the full unit")
        elif key == "languages":
            reasons.append(f"--languages {','.join(value)}: a subset of the card's languages")
        elif card_defaults.get(key) != value:
            reasons.append(f"{key}={value} overrides the card's {card_defaults.get(key)}")
    if config["name"] != default_protocol:
        reasons.append(f"protocol '{config['name']}' instead of the card's '{default_protocol}'")
    return {"comparable": not reasons, "debug": debug, "reasons": reasons}


def of_unit(unit: dict) -> dict:
    """The comparability record of a stored unit row (as `Store.units()` returns it).

    Units stored before the record existed carry none: a debug cap in their settings still
    marks them debug, so an old `--limit` run is never shown as a result.
    """
    record = (unit.get("extras") or {}).get("comparability")
    if isinstance(record, dict) and "comparable" in record:
        return {"comparable": bool(record["comparable"]), "debug": bool(record.get("debug")), "reasons": list(record.get("reasons") or [])}
    config = unit.get("protocol_config") or {}
    reasons = [f"{flag} {config[key]}: a debug run, not the full unit" for key, flag in DEBUG_SETTINGS.items() if config.get(key) is not None]
    return {"comparable": not reasons, "debug": bool(reasons), "reasons": reasons}
