"""Leaderboard submission files from stored hidden-split predictions (`bench submit`).

GLUE and CLUE score their test sets on their own servers from files in their own layouts.
The suite card declares that layout (`submission:` in `suite.yaml`: one entry per file,
naming the card, its hidden split, the official file name, the layout and how a prediction
is written), so nothing about a particular leaderboard lives here. The text runners predict
every hidden split with the model they scored validation with and the driver stores those
records apart (`*.hidden.jsonl`, never scored); this module picks one unit per card (the
seed with the best validation score unless `seed` is given — model selection on
validation, never on test), writes each file and zips them at the top level.

Everything is checked before anything is written: a suite without a submission layout, a
card without a finished unit, a unit with no stored hidden predictions (or a debug unit
that predicted a sample only) is named, and the command exits 2.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from polyglue import metrics as metric_lib
from polyglue.errors import UserError
from polyglue.report.leaderboard import current_units
from polyglue.runs.protocol import row_protocol


@dataclass
class SubmissionSummary:
    out: Path
    files: dict[str, int] = field(default_factory=dict)
    """File name -> number of predictions written."""
    units: dict[str, str] = field(default_factory=dict)
    """Card -> `seed N (unit key)` used."""


def _pick(units: list[dict], card, seed: int | None) -> dict | None:
    if seed is not None:
        return next((u for u in units if u["seed"] == seed), None)
    if not units:
        return None
    main, split = card.main_metric, card.report_split
    sign = 1 if metric_lib.higher_is_better(main) else -1

    def score(unit: dict) -> float:
        value = unit["metrics"].get(split, {}).get(main)
        return float("-inf") if value is None else sign * value

    return max(units, key=lambda u: (score(u), -u["seed"]))  # ties: the lowest seed


def _records(runs_dir: Path, unit: dict) -> dict[str, list[dict]]:
    info = (unit.get("extras") or {}).get("hidden_predictions") or {}
    path = info.get("path")
    if not path or not (runs_dir / path).exists():
        return {}
    by_split: dict[str, list[dict]] = {}
    for line in (runs_dir / path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            record = json.loads(line)
            by_split.setdefault(record["split"], []).append(record)
    return by_split


def _id(value: str):
    text = str(value)
    return int(text) if text.lstrip("-").isdigit() else text


def _prediction(card, item, record: dict):
    pred = record["pred"]
    if item.prediction == "choice":
        return record["choice"]
    if item.prediction == "index":
        return card.labels.index(pred)
    if item.prediction == "value" and isinstance(pred, float):
        return round(pred, 3)  # the GLUE formatter writes STS-B scores with 3 decimals
    return pred


def _lacking(item, records: list[dict]) -> str | None:
    """The record field the layout needs that some record lacks (predictions stored before the
    multiple-choice records carried choice indices), or None."""
    needs = (["choice"] if item.prediction == "choice" or item.layout == "json-blank-choice" else []) + (
        ["blank"] if item.layout == "json-blank-choice" else [])
    for name in needs:
        if any(r.get(name) is None for r in records):
            return {"choice": "choice indices", "blank": "CHID blank tags"}[name]
    return None


def render(card, item, records: list[dict]) -> str:
    """One submission file's text in the declared layout."""
    if item.layout == "json-blank-choice":
        return json.dumps({r["blank"]: r["choice"] for r in records}, ensure_ascii=False, indent=1) + "\n"
    ids = range(len(records)) if item.ids == "position" else (_id(r["id"]) for r in records)
    rows = [(i, _prediction(card, item, r)) for i, r in zip(ids, records)]
    if item.layout == "tsv-index-prediction":
        return "index\tprediction\n" + "".join(f"{i}\t{p}\n" for i, p in rows)
    if item.layout == "jsonl-id-label":
        return "".join(json.dumps({"id": i, "label": p}, ensure_ascii=False) + "\n" for i, p in rows)
    return json.dumps({str(i): p for i, p in rows}, ensure_ascii=False, indent=1) + "\n"


def build_submission(suite, cards: dict, store, model: str, out: Path, *, protocol: str | None = None,
                     seed: int | None = None, suites_with_layout: list[str] | None = None) -> SubmissionSummary:
    """Check every file of `suite`'s submission layout, then write them into the zip `out`."""
    if suite.submission is None:
        others = ", ".join(suites_with_layout or []) or "none"
        raise UserError(f"suite '{suite.name}' declares no leaderboard submission (its test labels are not hidden, or it has no `submission:` block); suites with one: {others}")
    current, _ = current_units(suite, cards, store.units())
    mine = [u for u in current if u["encoder"] == model]
    if not mine:
        rows = sorted({u["encoder"] for u in current})
        raise UserError(f"--model {model}: no finished units in suite '{suite.name}' (rows: {', '.join(rows) or 'none'})")
    protocols = sorted({row_protocol(u["protocol"]) for u in mine})
    if protocol is None and len(protocols) > 1:
        raise UserError(f"--model {model} has units of protocols {', '.join(protocols)} in '{suite.name}': add --protocol")
    if protocol is not None:
        mine = [u for u in mine if row_protocol(u["protocol"]) == protocol]
    runs_dir = Path(store.runs_dir)
    missing: list[str] = []
    contents: dict[str, str] = {}
    summary = SubmissionSummary(out=out)
    chosen: dict[str, tuple[dict | None, dict]] = {}
    for item in suite.submission.files:
        card = cards.get(item.card)
        if card is None:
            missing.append(f"{item.card} (card definition not found)")
            continue
        if item.card not in chosen:
            unit = _pick([u for u in mine if u["card"] == item.card], card, seed)
            chosen[item.card] = (unit, _records(runs_dir, unit) if unit else {})
        unit, by_split = chosen[item.card]
        if unit is None:
            missing.append(f"{item.card} (no finished unit{f' for seed {seed}' if seed is not None else ''})")
            continue
        extras = unit.get("extras") or {}
        if (extras.get("comparability") or {}).get("debug"):
            missing.append(f"{item.card} (seed {unit['seed']} is a debug run: {'; '.join(extras['comparability']['reasons'])}; its test predictions cover a sample only)")
            continue
        if item.split not in by_split:
            why = (extras.get("hidden_predictions_skipped") or {}).get(item.split)
            missing.append(f"{item.card} ({item.split} not predicted: {why or 'no stored hidden-split predictions; rerun the unit with `bench run ... --force`'})")
            continue
        lacking = _lacking(item, by_split[item.split])
        if lacking:
            missing.append(f"{item.card} (its stored {item.split} predictions carry no {lacking}; rerun the unit with `bench run ... --force`)")
            continue
        contents[item.file] = render(card, item, by_split[item.split])
        summary.files[item.file] = len(by_split[item.split])
        summary.units[item.card] = f"seed {unit['seed']} (unit {unit['key'][:12]})"
    if missing:
        raise UserError(f"cannot write the {suite.name} submission for '{model}': missing test predictions for {'; '.join(dict.fromkeys(missing))}")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in contents.items():
            archive.writestr(name, text.encode("utf-8"))
    out = Path(out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_bytes(buffer.getvalue())
        os.replace(tmp, out)
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    return summary
