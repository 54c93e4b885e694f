"""The results store: one SQLite file under `--runs-dir`, written by each run's driver process.

Each unit row moves `running` -> `done` | `failed` in its own transaction. A unit is
`done` only after its predictions file has been written and renamed into place, so a
process killed at any instant (even SIGKILL) leaves finished units intact and the
interrupted one marked `running`, to be redone on the next run.

Several `bench run` processes may share one runs dir. Starting a unit is a claim, decided
inside one `BEGIN IMMEDIATE` transaction: a `done` unit is never taken over (unless
`--force`), and a `running` unit whose lease is alive is left to its owner. A lease is the
owner's host and pid: on the same host it is alive while that process exists; a lease from
another host is trusted for `REMOTE_LEASE_S` after the unit started. Only the lease holder
may finish or fail a unit, so a process that lost its lease never overwrites a result.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
import uuid
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from polyglue.errors import UserError
from polyglue.runs.units import UnitTask

DB_NAME = "polyglue.sqlite"
SCHEMA_VERSION = 2
REMOTE_LEASE_S = 24 * 3600
"""How long a lease held by a process on another host counts as alive (its pid cannot be checked from here)."""

#: Columns added after schema version 1, with their SQL types (added to older stores on open).
_LEASE_COLUMNS = {"owner_host": "TEXT", "owner_pid": "INTEGER", "claimed_at": "REAL"}

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
    duration_s REAL,
    owner_host TEXT,
    owner_pid INTEGER,
    claimed_at REAL
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

    def __init__(self, runs_dir: Path, *, readonly: bool = False):
        self.runs_dir = Path(runs_dir)
        self.path = self.runs_dir / DB_NAME
        self.owner = (socket.gethostname(), os.getpid())
        if self.runs_dir.exists() and not self.runs_dir.is_dir():
            raise UserError(f"--runs-dir {self.runs_dir} is a file, not a folder; pass a folder (it is created if missing)")
        try:
            if readonly:
                self.conn = _open_readonly(self.path)
                self.conn.execute("SELECT count(*) FROM units").fetchone()
                return
            self.runs_dir.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self._init_schema()
        except sqlite3.DatabaseError as exc:
            raise store_error(self.path, exc) from None
        except OSError as exc:
            raise UserError(f"--runs-dir {self.runs_dir}: cannot create or write it ({exc.strerror or exc})") from None

    def _init_schema(self) -> None:
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=FULL")
        self.conn.executescript(_SCHEMA)
        have = {row[1] for row in self.conn.execute("PRAGMA table_info(units)")}
        for column, kind in _LEASE_COLUMNS.items():
            if column not in have:
                self.conn.execute(f"ALTER TABLE units ADD COLUMN {column} {kind}")
        self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def _tx(self):
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as exc:
            raise store_error(self.path, exc) from None
        try:
            yield self.conn
        except sqlite3.DatabaseError as exc:
            self.conn.execute("ROLLBACK")
            raise store_error(self.path, exc) from None
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        try:
            self.conn.execute("COMMIT")
        except sqlite3.DatabaseError as exc:
            raise store_error(self.path, exc) from None

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

    def lease_alive(self, row) -> bool:
        """Whether the process that claimed `row` may still be computing it."""
        host, pid = row["owner_host"], row["owner_pid"]
        if host is None or pid is None:
            return False  # written before leases existed, or by a process that finished
        if (host, pid) == self.owner:
            return True
        if host != self.owner[0]:
            return time.time() - (row["claimed_at"] or 0) < REMOTE_LEASE_S
        return _pid_alive(pid)

    def claim(self, task: UnitTask, run_id: str, device: str, *, force: bool = False) -> str:
        """Take the lease of a unit before computing it: `claimed`, `done` (finished meanwhile) or `busy` (a live owner)."""
        with self._tx() as c:
            row = c.execute("SELECT status, owner_host, owner_pid, claimed_at FROM units WHERE key = ?", (task.key,)).fetchone()
            if row is not None:
                if row["status"] == "running" and self.lease_alive(row) and (row["owner_host"], row["owner_pid"]) != self.owner:
                    return "busy"
                if row["status"] == "done" and not force:
                    return "done"
            self._upsert_running(c, task, run_id, device)
        return "claimed"

    def busy_owner(self, key: str) -> str:
        row = self.get(key)
        return f"pid {row['owner_pid']} on {row['owner_host']}" if row else "another process"

    def mark_running(self, task: UnitTask, run_id: str, device: str) -> None:
        """Mark a unit running under this process's lease, unconditionally (use `claim` to respect other owners)."""
        with self._tx() as c:
            self._upsert_running(c, task, run_id, device)

    def _upsert_running(self, c, task: UnitTask, run_id: str, device: str) -> None:
        u = task.unit
        c.execute(
            """INSERT INTO units (key, suite, suite_version, card, card_version, card_hash, dataset_revision,
                   encoder, encoder_identity, protocol, protocol_hash, protocol_json, seed, status,
                   attempts, run_id, device, started_at, owner_host, owner_pid, claimed_at)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', 1, ?, ?, ?, ?, ?, ?)
               ON CONFLICT(key) DO UPDATE SET status = 'running', attempts = attempts + 1, run_id = excluded.run_id,
                   encoder = excluded.encoder, device = excluded.device, started_at = excluded.started_at,
                   error = NULL, error_kind = NULL, finished_at = NULL, owner_host = excluded.owner_host,
                   owner_pid = excluded.owner_pid, claimed_at = excluded.claimed_at""",
            (
                task.key, u.suite, u.suite_version, u.card, u.card_version, u.card_hash, u.dataset_revision,
                task.label, u.encoder_identity, u.protocol, u.protocol_hash,
                json.dumps(task.protocol_config, sort_keys=True), u.seed, run_id, device, _now(),
                self.owner[0], self.owner[1], time.time(),
            ),
        )

    def mark_done(self, key: str, metrics: dict, extras: dict, predictions_path: str | None, duration_s: float) -> bool:
        """Record a finished unit; False (nothing written) when this process no longer holds its lease."""
        with self._tx() as c:
            cur = c.execute(
                """UPDATE units SET status = 'done', metrics_json = ?, extras_json = ?, predictions_path = ?,
                       finished_at = ?, duration_s = ?, owner_host = NULL, owner_pid = NULL
                   WHERE key = ? AND status = 'running' AND owner_host IS ? AND owner_pid IS ?""",
                (json.dumps(metrics), json.dumps(extras, default=str), predictions_path, _now(), duration_s, key, *self.owner),
            )
            return cur.rowcount == 1

    def mark_failed(self, key: str, error: str, kind: str, duration_s: float) -> bool:
        """Record a failed unit; a unit another process finished or holds is left alone."""
        with self._tx() as c:
            cur = c.execute(
                """UPDATE units SET status = 'failed', error = ?, error_kind = ?, finished_at = ?, duration_s = ?,
                       owner_host = NULL, owner_pid = NULL
                   WHERE key = ? AND status = 'running' AND owner_host IS ? AND owner_pid IS ?""",
                (error, kind, _now(), duration_s, key, *self.owner),
            )
            return cur.rowcount == 1

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
        sql = "SELECT u.*, r.env_json FROM units u LEFT JOIN runs r ON u.run_id = r.run_id WHERE 1=1"
        args: list[str] = []
        if suite is not None:
            sql, args = sql + " AND u.suite = ?", args + [suite]
        if status is not None:
            sql, args = sql + " AND u.status = ?", args + [status]
        rows = []
        try:
            found = self.conn.execute(sql + " ORDER BY u.suite, u.card, u.encoder, u.seed", args).fetchall()
        except sqlite3.DatabaseError as exc:
            raise store_error(self.path, exc) from None
        for row in found:
            item = dict(row)
            for col, name in (("metrics_json", "metrics"), ("extras_json", "extras"), ("protocol_json", "protocol_config"), ("env_json", "env")):
                raw = item.pop(col)
                item[name] = json.loads(raw) if raw else None
            rows.append(item)
        return rows

    def suites(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT DISTINCT suite FROM units WHERE status = 'done' ORDER BY suite")]


def _open_readonly(path: Path) -> sqlite3.Connection:
    """Open the store for reading only (reports from a read-only runs dir, e.g. a mounted archive)."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None)
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError:
        # A WAL database in a folder we cannot write: no -shm can be made, so read it as an immutable file.
        conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, timeout=30, isolation_level=None)
    conn.row_factory = sqlite3.Row
    return conn


def store_error(path: Path, exc: sqlite3.DatabaseError):
    """One line for a store that cannot be used: corrupt or truncated, full disk, read-only, locked."""
    message = str(exc)
    if "not a database" in message or "malformed" in message or isinstance(exc, sqlite3.DatabaseError) and "no such table" in message:
        what = "is not a readable polyglue store (corrupt or truncated); move it aside (earlier results are in it) and rerun"
    elif "disk is full" in message or "disk I/O" in message:
        what = f"cannot be written ({message}); free space on the disk and rerun — finished units are kept"
    elif "readonly" in message or "read-only" in message:
        what = f"is read-only ({message}); pass a writable --runs-dir"
    elif "locked" in message:
        what = f"is locked by another process for too long ({message}); rerun when it is done"
    else:
        what = f"cannot be used ({message})"
    return UserError(f"{path} {what}")


def _pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[-1].split()[0] != b"Z"
    except OSError:
        return True


def write_predictions(runs_dir: Path, task: UnitTask, records: list[dict], suffix: str = ".jsonl") -> str:
    """Write per-example predictions as JSONL, atomically; returns the path relative to `runs_dir`.

    `suffix` `.hidden.jsonl` holds the predictions on hidden-label splits (never scored)."""
    rel = Path("predictions") / task.unit.suite / task.unit.card / f"{task.encoder_slug()}-seed{task.unit.seed}-{task.key[:12]}{suffix}"
    path = Path(runs_dir) / rel
    tmp = path.with_name(path.name + ".tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(tmp, "w", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record, ensure_ascii=False, default=_jsonable) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        raise UserError(f"{path}: cannot write predictions ({exc.strerror or exc}); free space or fix permissions and rerun — finished units are kept") from None
    return str(rel)


def write_artifacts(runs_dir: Path, task: UnitTask, files: dict[str, bytes]) -> str:
    """Write a unit's files (e.g. adapter weights) into its own folder, atomically; returns the folder relative to `runs_dir`.

    The folder is written under a temporary name and renamed into place, so it is either
    complete or absent; a recomputed unit (`--force`) replaces it.
    """
    rel = Path("artifacts") / task.unit.suite / task.unit.card / f"{task.encoder_slug()}-seed{task.unit.seed}-{task.key[:12]}"
    write_folder(Path(runs_dir) / rel, files)
    return str(rel)


def write_folder(final: Path, files: dict[str, bytes]) -> None:
    """Write `files` (plain names -> bytes) as the folder `final`: under a temporary name unique
    to this process, then renamed into place, so readers see it complete or not at all."""
    import shutil

    tmp = final.with_name(f"{final.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for name, data in files.items():
            if Path(name).name != name or name.startswith("."):
                raise ValueError(f"artifact name '{name}' must be a plain file name")
            with open(tmp / name, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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

