"""The results store: one SQLite file under `--runs-dir`, written by one process (the driver).

Each unit row moves `running` -> `done` | `failed` in its own transaction. A unit is
`done` only after its predictions file has been written and renamed into place, so a
process killed at any instant (even SIGKILL) leaves finished units intact and the
interrupted one marked `running`, to be redone on the next run.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from polyglue.runs.units import UnitTask

DB_NAME = "polyglue.sqlite"
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    argv TEXT,
    env_json TEXT NOT NULL,
    n_units INTEGER,
    status TEXT NOT NULL DEFAULT 'running'
);
CREATE TABLE IF NOT EXISTS units (
    key TEXT PRIMARY KEY,
    suite TEXT NOT NULL,
    suite_version TEXT NOT NULL,
    card TEXT NOT NULL,
    card_version TEXT NOT NULL,
    card_hash TEXT NOT NULL,
    dataset_revision TEXT NOT NULL,
    encoder TEXT NOT NULL,
    encoder_identity TEXT NOT NULL,
    protocol TEXT NOT NULL,
    protocol_hash TEXT NOT NULL,
    protocol_json TEXT NOT NULL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
    metrics_json TEXT,
    extras_json TEXT,
    predictions_path TEXT,
    error TEXT,
    error_kind TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    run_id TEXT REFERENCES runs(run_id),
    device TEXT,
    started_at TEXT,
    finished_at TEXT,
    duration_s REAL
);
CREATE INDEX IF NOT EXISTS units_suite ON units (suite, status);
CREATE TABLE IF NOT EXISTS definitions (
    kind TEXT NOT NULL CHECK (kind IN ('suite', 'card')),
    name TEXT NOT NULL,
    version TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    body_json TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    PRIMARY KEY (kind, name, content_hash)
);
"""


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Store:
    """SQLite results store at `<runs_dir>/polyglue.sqlite`."""

    def __init__(self, runs_dir: Path):
        self.runs_dir = Path(runs_dir)
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.path = self.runs_dir / DB_NAME
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(_SCHEMA)
        self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _tx(self):
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    # ------------------------------------------------------------------ runs

    def start_run(self, argv: list[str], env: dict, n_units: int) -> str:
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{uuid.uuid4().hex[:6]}"
        with self._tx() as c:
            c.execute(
                "INSERT INTO runs (run_id, started_at, argv, env_json, n_units) VALUES (?, ?, ?, ?, ?)",
                (run_id, _now(), json.dumps(argv), json.dumps(env), n_units),
            )
        return run_id

    def finish_run(self, run_id: str, status: str) -> None:
        with self._tx() as c:
            c.execute("UPDATE runs SET finished_at = ?, status = ? WHERE run_id = ?", (_now(), status, run_id))

    # ------------------------------------------------------------------ units

    def status(self, key: str) -> str | None:
        row = self.conn.execute("SELECT status FROM units WHERE key = ?", (key,)).fetchone()
        return row["status"] if row else None

    def get(self, key: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM units WHERE key = ?", (key,)).fetchone()

    def mark_running(self, task: UnitTask, run_id: str, device: str) -> None:
        u = task.unit
        with self._tx() as c:
            c.execute(
                """INSERT INTO units (key, suite, suite_version, card, card_version, card_hash, dataset_revision,
                       encoder, encoder_identity, protocol, protocol_hash, protocol_json, seed, status,
                       attempts, run_id, device, started_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', 1, ?, ?, ?)
                   ON CONFLICT(key) DO UPDATE SET status = 'running', attempts = attempts + 1, run_id = excluded.run_id,
                       encoder = excluded.encoder, device = excluded.device, started_at = excluded.started_at,
                       error = NULL, error_kind = NULL, finished_at = NULL""",
                (
                    task.key, u.suite, u.suite_version, u.card, u.card_version, u.card_hash, u.dataset_revision,
                    task.label, u.encoder_identity, u.protocol, u.protocol_hash,
                    json.dumps(task.protocol_config, sort_keys=True), u.seed, run_id, device, _now(),
                ),
            )

    def mark_done(self, key: str, metrics: dict, extras: dict, predictions_path: str | None, duration_s: float) -> None:
        with self._tx() as c:
            c.execute(
                """UPDATE units SET status = 'done', metrics_json = ?, extras_json = ?, predictions_path = ?,
                       finished_at = ?, duration_s = ? WHERE key = ?""",
                (json.dumps(metrics), json.dumps(extras, default=str), predictions_path, _now(), duration_s, key),
            )

    def mark_failed(self, key: str, error: str, kind: str, duration_s: float) -> None:
        with self._tx() as c:
            c.execute(
                "UPDATE units SET status = 'failed', error = ?, error_kind = ?, finished_at = ?, duration_s = ? WHERE key = ?",
                (error, kind, _now(), duration_s, key),
            )

    def relabel(self, key: str, encoder: str) -> None:
        """A finished unit reused under another display label takes the new label."""
        with self._tx() as c:
            c.execute("UPDATE units SET encoder = ? WHERE key = ? AND encoder != ?", (encoder, key, encoder))

    # ------------------------------------------------------------------ definitions

    def save_definition(self, kind: str, body: dict, content_hash: str) -> None:
        """Keep the exact suite/card a unit ran with, so results stay reportable without the card files."""
        with self._tx() as c:
            c.execute(
                "INSERT OR IGNORE INTO definitions VALUES (?, ?, ?, ?, ?, ?)",
                (kind, body["name"], body["version"], content_hash, json.dumps(body, sort_keys=True), _now()),
            )

    def definition(self, kind: str, name: str, content_hash: str | None = None) -> dict | None:
        """A stored definition: the given hash, else the most recently saved one."""
        sql = "SELECT body_json FROM definitions WHERE kind = ? AND name = ?"
        args: list = [kind, name]
        if content_hash:
            sql, args = sql + " AND content_hash LIKE ?", args + [content_hash + "%"]
        row = self.conn.execute(sql + " ORDER BY saved_at DESC, rowid DESC LIMIT 1", args).fetchone()
        return json.loads(row[0]) if row else None

    # ------------------------------------------------------------------ queries

    def units(self, suite: str | None = None, status: str | None = "done") -> list[dict]:
        sql, args = "SELECT u.*, r.env_json FROM units u LEFT JOIN runs r ON u.run_id = r.run_id WHERE 1=1", []
        if suite is not None:
            sql, args = sql + " AND u.suite = ?", args + [suite]
        if status is not None:
            sql, args = sql + " AND u.status = ?", args + [status]
        rows = []
        for row in self.conn.execute(sql + " ORDER BY u.suite, u.card, u.encoder, u.seed", args):
            item = dict(row)
            for col, name in (("metrics_json", "metrics"), ("extras_json", "extras"), ("protocol_json", "protocol_config"), ("env_json", "env")):
                raw = item.pop(col)
                item[name] = json.loads(raw) if raw else None
            rows.append(item)
        return rows

    def suites(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT suite FROM units WHERE status = 'done' ORDER BY suite")]


def write_predictions(runs_dir: Path, task: UnitTask, records: list[dict]) -> str:
    """Write per-example predictions as JSONL, atomically; returns the path relative to `runs_dir`."""
    rel = Path("predictions") / task.unit.suite / task.unit.card / f"{task.encoder_slug()}-seed{task.unit.seed}-{task.key[:12]}.jsonl"
    path = Path(runs_dir) / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False, default=_jsonable) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    return str(rel)


def write_artifacts(runs_dir: Path, task: UnitTask, files: dict[str, bytes]) -> str:
    """Write a unit's files (e.g. adapter weights) into its own folder, atomically; returns the folder relative to `runs_dir`.

    The folder is written under a temporary name and renamed into place, so it is either
    complete or absent; a recomputed unit (`--force`) replaces it.
    """
    import shutil

    rel = Path("artifacts") / task.unit.suite / task.unit.card / f"{task.encoder_slug()}-seed{task.unit.seed}-{task.key[:12]}"
    final = Path(runs_dir) / rel
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for name, data in files.items():
        if Path(name).name != name or name.startswith("."):
            raise ValueError(f"artifact name '{name}' must be a plain file name")
        with open(tmp / name, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return str(rel)


def _jsonable(value):
    try:
        import numpy as np

        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
    except ImportError:  # pragma: no cover
        pass
    return str(value)

