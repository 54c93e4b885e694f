"""Drive a planned run: skip finished units, execute the rest on a backend, record everything.

The driver is the only writer to the store. Backends call back `started`, `finished` and
`failed`; the driver writes predictions (atomically) and then marks the unit done, so a
unit counts as done only when its files are on disk.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from polyglue.cards import vocab
from polyglue.runs.envstamp import device_name, environment_stamp
from polyglue.runs.progress import RunProgress
from polyglue.runs.store import Store, write_artifacts, write_predictions
from polyglue.contract import UnitResult
from polyglue.runs.units import UnitTask
from polyglue.runs import runfile

BACKENDS = {
    "local": "polyglue.runs.backends:LocalBackend",
    "ray": "polyglue.runs.ray_backend:RayBackend",
}


@dataclass
class RunSummary:
    run_id: str
    total: int
    reused: int = 0
    done: int = 0
    busy: list[tuple[UnitTask, str]] = field(default_factory=list)
    """Units left to another live process that holds their lease (task, owner)."""
    failed: list[tuple[UnitTask, str, str]] = field(default_factory=list)
    run_file: Path | None = None
    """`<runs_dir>/results.json`, written after the run."""

    @property
    def exit_code(self) -> int:
        """0 all done; 2 when a failure was the user's (bad data); 1 otherwise."""
        if not self.failed:
            return 0
        return 2 if any(kind == "user" for _, _, kind in self.failed) else 1


class Hooks:
    """What a backend reports back to the driver (all calls happen in the driver process)."""

    def __init__(self, store: Store, run_id: str, progress: RunProgress, summary: RunSummary, trackers: list | None = None, force: bool = False):
        self.store, self.run_id, self.progress, self.summary = store, run_id, progress, summary
        self.trackers = trackers or []
        self.force = force
        self._started: dict[str, float] = {}
        self._forced: set[str] = set()

    def started(self, task: UnitTask, device: str = "cpu") -> bool:
        """Claim the unit's lease; False tells the backend to skip it (finished meanwhile, or a live process computes it)."""
        force = self.force and task.key not in self._forced  # --force recomputes a unit once, not again and again
        outcome = self.store.claim(task, self.run_id, device_name(device), force=force)
        if outcome == "done":
            self.summary.reused += 1
            self.progress.finish_unit(f"= {task.describe()}  finished by another process meanwhile; reused")
            return False
        if outcome == "busy":
            owner = self.store.busy_owner(task.key)
            self.summary.busy.append((task, owner))
            self.progress.finish_unit(f"… {task.describe()}  being computed by {owner}; left to it")
            return False
        self._forced.add(task.key)
        self._started[task.key] = time.perf_counter()
        self.progress.start_unit(task.describe())
        return True

    def step(self, advance: int = 0, total: int | None = None, description: str = "") -> None:
        self.progress.step(advance, total, description)

    def finished(self, task: UnitTask, result: UnitResult) -> None:
        empty = _nothing_scored(task, result)
        if empty:
            self.failed(task, empty, "user")
            return
        duration = time.perf_counter() - self._started.pop(task.key, time.perf_counter())
        result.extras["comparability"] = task.comparability
        if result.artifacts:
            result.extras["artifacts"] = write_artifacts(self.store.runs_dir, task, result.artifacts)
        hidden_roles = hidden_splits(task.card)
        scored = [r for r in result.predictions if r.get("split") not in hidden_roles]
        hidden = [r for r in result.predictions if r.get("split") in hidden_roles]
        if hidden:
            # Never scored, never mixed with the scored records: a file of their own, for `bench submit`.
            counts: dict[str, int] = {}
            for record in hidden:
                counts[record["split"]] = counts.get(record["split"], 0) + 1
            hidden_path = write_predictions(self.store.runs_dir, task, hidden, suffix=".hidden.jsonl")
            result.extras["hidden_predictions"] = {"path": hidden_path, "splits": counts}
        path = write_predictions(self.store.runs_dir, task, scored) if scored else None
        if not self.store.mark_done(task.key, result.metrics, result.extras, path, duration):
            self.progress.finish_unit(f"= {task.describe()}  another process took this unit over; its result is kept")
            return
        for tracker in self.trackers:
            try:
                tracker.log_unit(task, result, duration)
            except Exception as exc:  # noqa: BLE001 - the unit is stored; a tracker hiccup must not stop the run
                self.progress.note(f"{type(tracker).__name__} could not log {task.describe()}: {type(exc).__name__}: {exc}")
        self.summary.done += 1
        self.progress.finish_unit(f"✓ {task.describe()}  {_headline(task, result)}  ({duration:.1f}s)")

    def failed(self, task: UnitTask, message: str, kind: str, detail: str | None = None) -> None:
        duration = time.perf_counter() - self._started.pop(task.key, time.perf_counter())
        if not self.store.mark_failed(task.key, detail or message, kind, duration):
            return
        self.summary.failed.append((task, message, kind))
        self.progress.finish_unit(f"✗ {task.describe()}  {message}")


def _nothing_scored(task: UnitTask, result: UnitResult) -> str | None:
    """Why a unit that "finished" has no result (no main metric on any split), else None."""
    main = task.card["main_metric"]
    values = [v.get(main) for v in (result.metrics or {}).values() if isinstance(v, dict)]
    if not any(isinstance(v, (int, float)) for v in values):
        return "no example was scored (empty split, missing transcriptions or unsupported audio?); nothing recorded as done"
    return None


def _headline(task: UnitTask, result: UnitResult) -> str:
    main = task.card["main_metric"]
    parts = []
    for split, values in result.metrics.items():
        if main in values:
            parts.append(f"{split} {main}={vocab.format_value(main, values[main])}")
    return ", ".join(parts)


def hidden_splits(card: dict) -> set[str]:
    """Split roles of a (dumped) card whose labels are withheld: predicted, never scored."""
    splits = card.get("splits") or {}
    roles = {r: splits[r] for r in ("train", "validation", "test") if splits.get(r)}
    roles.update(splits.get("extra_eval") or {})
    return {r for r, spec in roles.items() if isinstance(spec, dict) and spec.get("labels") == "hidden"}


def _hash(body: dict) -> str:
    from polyglue.hashing import json_sha256

    return json_sha256(body, ensure_ascii=True)


def _write_run_file(store, run_id, tasks, reused, suite, suite_hash, argv, status, quiet=False):
    try:
        doc = runfile.build(store, run_id, tasks, reused=reused, suite=suite, suite_hash=suite_hash, argv=argv or [], status=status)
        return runfile.write(store.runs_dir, doc)
    except Exception:
        if quiet:  # an interrupted run still stops with its own error, not this one
            return None
        raise


def get_backend(name: str, **options):
    from polyglue.errors import UserError

    if name not in BACKENDS:
        raise UserError(f"unknown backend '{name}' (use {' or '.join(BACKENDS)})")
    module, _, cls = BACKENDS[name].partition(":")
    return getattr(importlib.import_module(module), cls)(**options)


def run_tasks(
    tasks: list[UnitTask],
    runs_dir: Path,
    *,
    backend: str = "local",
    backend_options: dict | None = None,
    force: bool = False,
    argv: list[str] | None = None,
    show_progress: bool = True,
    suite: dict | None = None,
    trackers: list | None = None,
) -> RunSummary:
    """Execute `tasks`, reusing finished units unless `force`; returns the summary.

    `suite` (the suite definition as a dict) is stored with the cards so reports can be
    rebuilt from the store alone. Afterwards — also when interrupted — the run file
    `<runs_dir>/results.json` describes the run (`polyglue.runs.runfile`). `trackers`
    (`polyglue.runs.trackers`) get every finished unit's parameters and metrics.
    """
    store = Store(runs_dir)
    suite_hash = _hash(suite) if suite is not None else None
    try:
        if suite is not None:
            store.save_definition("suite", suite, _hash(suite))
        for card in {t.unit.card_hash: t.card for t in tasks}.values():
            store.save_definition("card", card, _hash(card))
        runner = get_backend(backend, **(backend_options or {}))
        todo = []
        reused_keys: set[str] = set()
        for task in tasks:
            if not force and store.status(task.key) == "done":
                store.relabel(task.key, task.label)
                reused_keys.add(task.key)
            elif task.trained_model is not None:  # kept models live under the runs dir (`polyglue.runs.models`)
                todo.append(replace(task, options={**task.options, "runs_dir": str(Path(runs_dir).resolve())}))
            else:
                todo.append(task)
        reused = len(reused_keys)
        run_id = store.start_run(argv or [], environment_stamp(), len(tasks))
        summary = RunSummary(run_id=run_id, total=len(tasks), reused=reused)
        with RunProgress(len(tasks), enabled=show_progress) as progress:
            if reused:
                progress.progress.advance(progress.units, reused)
                progress.note(f"reusing {reused} finished unit(s) from {store.path} (--force recomputes them)")
            hooks = Hooks(store, run_id, progress, summary, trackers, force=force)
            try:
                runner.run(todo, hooks)
            except BaseException:
                store.finish_run(run_id, "interrupted")
                _write_run_file(store, run_id, tasks, reused_keys, suite, suite_hash, argv, "interrupted", quiet=True)
                raise
        status = "failed" if summary.failed else "done"
        store.finish_run(run_id, status)
        summary.run_file = _write_run_file(store, run_id, tasks, reused_keys, suite, suite_hash, argv, status)
        return summary
    finally:
        store.close()
