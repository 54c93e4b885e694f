"""The run file: `results.json` next to the store, one self-describing record of a `bench run`.

In the spirit of lm-eval's `results_<date>.json`: everything needed to read, cite or redo the
run without the store — the command line, the resolved suite and card versions with their
content hashes and dataset revisions, every unit's protocol settings, all metrics on every
scored split, seeds, timings, the environment and whether each unit is comparable with the
published rows. The driver writes it after every run (`polyglue.runs.driver.run_tasks`):
`<runs-dir>/results.json` is the latest run, and a copy stays as
`<runs-dir>/results/<run_id>.json` so earlier runs are not lost.

The file is built through the pydantic models below, so the JSON Schema that
`python -m polyglue.runs.runfile` prints (`docs/results-schema-v1.json`) is what the files hold.
Versioning as the report schema: a new optional field bumps MINOR, anything else MAJOR.
This module lives in `polyglue.runs` (not `polyglue.report`) because the driver writes it and
imports run one way (runs ← report).
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Literal["1.0"] = "1.0"
FILE_NAME = "results.json"
ARCHIVE_DIR = "results"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class SuiteRef(_Model):
    name: str
    version: str
    content_hash: str
    """SHA-256 of the suite definition as stored with the results (sorted-key JSON)."""


class CardRef(_Model):
    name: str
    version: str
    content_hash: str
    """First 16 hex digits of the validated card's SHA-256 (what unit keys use)."""
    task: str
    main_metric: str
    report_split: str
    source: dict
    """The card's `source` block: hub path, config, revision (or local files, or a layout)."""
    hidden_splits: list[str] = Field(default_factory=list)
    """Split roles whose labels are withheld (never scored; predicted for leaderboard submission)."""


class UnitRecord(_Model):
    key: str
    card: str
    model: str
    """The row label (`--model` label)."""
    encoder: str
    """The `--model` value as given."""
    encoder_identity: str
    """What the label stood for (weights hash or hub revision)."""
    protocol: str
    protocol_hash: str
    settings: dict
    """The resolved protocol settings (card defaults, then overrides) hashed into the key."""
    seed: int
    status: Literal["done", "reused", "failed", "not-run"]
    """`done`: computed in this run; `reused`: finished earlier and taken from the store."""
    metrics: dict[str, dict[str, float]] = Field(default_factory=dict)
    """Split role -> metric -> value (fractions, or raw values for raw metrics)."""
    comparability: dict
    """`{"comparable", "debug", "reasons", "overrides"}` as decided at planning (`polyglue.runs.comparability`)."""
    duration_s: float | None = None
    timings: dict = Field(default_factory=dict)
    """Per-stage timings the runner reported (seconds)."""
    device: str | None = None
    dataset_revision: str
    predictions_path: str | None = None
    """Per-example predictions, relative to the runs directory."""
    hidden_predictions_path: str | None = None
    """Predictions on hidden-label splits (for `bench submit`), relative to the runs directory."""
    error: str | None = None
    error_kind: str | None = None


class Summary(_Model):
    total: int
    done: int
    reused: int
    failed: int


class RunFile(_Model):
    """`<runs-dir>/results.json`."""

    schema_: Literal["polyglue.results"] = Field("polyglue.results", alias="schema")
    schema_version: Literal["1.0"] = SCHEMA_VERSION
    run_id: str
    status: Literal["done", "failed", "interrupted"]
    argv: list[str]
    started_at: str | None
    finished_at: str
    """UTC, ISO 8601."""
    runs_dir: str
    store: str
    """The SQLite store this run wrote (file name, relative to the runs directory)."""
    suite: SuiteRef | None
    cards: list[CardRef]
    seeds: list[int]
    summary: Summary
    units: list[UnitRecord]
    environment: dict
    """Python, platform, package versions, git hashes, CPU (the stamp stored with the run)."""


def _card_ref(card: dict, content_hash: str) -> CardRef:
    splits = card.get("splits") or {}
    roles = {r: splits[r] for r in ("train", "validation", "test") if splits.get(r)}
    roles.update(splits.get("extra_eval") or {})
    hidden = [r for r, spec in roles.items() if isinstance(spec, dict) and spec.get("labels") == "hidden"]
    from polyglue.cards.schema import Card

    validated = Card.model_validate(card)
    return CardRef(
        name=card["name"], version=card["version"], content_hash=content_hash, task=card["task"],
        main_metric=card["main_metric"], report_split=validated.report_split, source=card["source"], hidden_splits=hidden,
    )


def build(store, run_id: str, tasks: list, *, reused: set[str], suite: dict | None, suite_hash: str | None,
          argv: list[str], status: str) -> RunFile:
    """The run file of `run_id` from the store rows of `tasks` (the planned units)."""
    run = store.conn.execute("SELECT * FROM runs WHERE run_id = ?", (run_id,)).fetchone()
    cards: dict[str, CardRef] = {}
    units, counts = [], {"done": 0, "reused": 0, "failed": 0}
    for task in tasks:
        if task.unit.card not in cards:
            cards[task.unit.card] = _card_ref(task.card, task.unit.card_hash)
        row = store.get(task.key)
        extras = json.loads(row["extras_json"]) if row is not None and row["extras_json"] else {}
        if row is None or (row["status"] == "running"):
            state = "not-run"
        elif task.key in reused:
            state = "reused"
        else:
            state = row["status"]
        if state in counts:
            counts[state] += 1
        hidden = extras.get("hidden_predictions") or {}
        units.append(UnitRecord(
            key=task.key, card=task.unit.card, model=task.label, encoder=task.encoder,
            encoder_identity=task.unit.encoder_identity, protocol=task.unit.protocol, protocol_hash=task.unit.protocol_hash,
            settings=task.protocol_config, seed=task.unit.seed, status=state,
            metrics=json.loads(row["metrics_json"]) if row is not None and row["metrics_json"] else {},
            comparability=extras.get("comparability") or task.comparability,
            duration_s=row["duration_s"] if row is not None else None,
            timings=extras.get("timings") or {}, device=row["device"] if row is not None else None,
            dataset_revision=task.unit.dataset_revision,
            predictions_path=row["predictions_path"] if row is not None else None,
            hidden_predictions_path=hidden.get("path"),
            error=row["error"] if row is not None else None, error_kind=row["error_kind"] if row is not None else None,
        ))
    suite_ref = SuiteRef(name=suite["name"], version=suite["version"], content_hash=suite_hash or "") if suite else None
    return RunFile(
        run_id=run_id, status=status, argv=list(argv), started_at=run["started_at"] if run else None,
        finished_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        runs_dir=str(Path(store.runs_dir).resolve()), store=store.path.name, suite=suite_ref,
        cards=list(cards.values()), seeds=sorted({t.unit.seed for t in tasks}),
        summary=Summary(total=len(tasks), **counts), units=units,
        environment=json.loads(run["env_json"]) if run else {},
    )


def write(runs_dir: Path, doc: RunFile) -> Path:
    """Write `results.json` (and its archived copy) atomically; returns the path of `results.json`."""
    text = doc.model_dump_json(by_alias=True, indent=2) + "\n"
    runs_dir = Path(runs_dir)
    targets = [runs_dir / FILE_NAME, runs_dir / ARCHIVE_DIR / f"{doc.run_id}.json"]
    for path in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return targets[0]


def read(path: Path) -> RunFile:
    """A run file, validated against the schema."""
    return RunFile.model_validate_json(Path(path).read_text(encoding="utf-8"))


def json_schema() -> dict:
    schema = RunFile.model_json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"polyglue run file (results.json), schema version {SCHEMA_VERSION}"
    return schema


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
