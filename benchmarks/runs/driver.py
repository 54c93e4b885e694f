"""Drive a planned run: skip finished units, execute the rest on a backend, record everything.

The driver is the only writer to the store. Backends call back `started`, `finished` and
`failed`; the driver writes predictions (atomically) and then marks the unit done, so a
unit counts as done only when its files are on disk.
"""

from __future__ import annotations

import importlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from polyglue.cards import vocab
from polyglue.runs.envstamp import device_name, environment_stamp
from polyglue.runs.progress import RunProgress
from polyglue.runs.store import Store, write_artifacts, write_predictions
from polyglue.contract import UnitResult
from polyglue.runs.units import UnitTask

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
    failed: list[tuple[UnitTask, str, str]] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 all done; 2 when a failure was the user's (bad data); 1 otherwise."""
        if not self.failed:
            return 0
        return 2 if any(kind == "user" for _, _, kind in self.failed) else 1


class Hooks:
    """What a backend reports back to the driver (all calls happen in the driver process)."""

    def __init__(self, store: Store, run_id: str, progress: RunProgress, summary: RunSummary):
        self.store, self.run_id, self.progress, self.summary = store, run_id, progress, summary
        self._started: dict[str, float] = {}

    def started(self, task: UnitTask, device: str = "cpu") -> None:
        self._started[task.key] = time.perf_counter()
        self.store.mark_running(task, self.run_id, device_name(device))
        self.progress.start_unit(task.describe())

    def step(self, advance: int = 0, total: int | None = None, description: str = "") -> None:
        self.progress.step(advance, total, description)

    def finished(self, task: UnitTask, result: UnitResult) -> None:
        duration = time.perf_counter() - self._started.pop(task.key, time.perf_counter())
        result.extras["comparability"] = task.comparability
        if result.artifacts:
            result.extras["artifacts"] = write_artifacts(self.store.runs_dir, task, result.artifacts)
        path = write_predictions(self.store.runs_dir, task, result.predictions) if result.predictions else None
        self.store.mark_done(task.key, result.metrics, result.extras, path, duration)
        self.summary.done += 1
        self.progress.finish_unit(f"✓ {task.describe()}  {_headline(task, result)}  ({duration:.1f}s)")

    def failed(self, task: UnitTask, message: str, kind: str, detail: str | None = None) -> None:
        duration = time.perf_counter() - self._started.pop(task.key, time.perf_counter())
        self.store.mark_failed(task.key, detail or message, kind, duration)
        self.summary.failed.append((task, message, kind))
        self.progress.finish_unit(f"✗ {task.describe()}  {message}")


def _headline(task: UnitTask, result: UnitResult) -> str:
    main = task.card["main_metric"]
    parts = []
    for split, values in result.metrics.items():
        if main in values:
            parts.append(f"{split} {main}={vocab.format_value(main, values[main])}")
    return ", ".join(parts)


def _hash(body: dict) -> str:
    from polyglue.hashing import json_sha256

    return json_sha256(body, ensure_ascii=True)


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
) -> RunSummary:
    """Execute `tasks`, reusing finished units unless `force`; returns the summary.

    `suite` (the suite definition as a dict) is stored with the cards so reports can be
    rebuilt from the store alone.
    """
    store = Store(runs_dir)
    try:
        if suite is not None:
            store.save_definition("suite", suite, _hash(suite))
        for card in {t.unit.card_hash: t.card for t in tasks}.values():
            store.save_definition("card", card, _hash(card))
        runner = get_backend(backend, **(backend_options or {}))
        todo = []
        reused = 0
        for task in tasks:
            if not force and store.status(task.key) == "done":
                store.relabel(task.key, task.label)
                reused += 1
            else:
                todo.append(task)
        run_id = store.start_run(argv or [], environment_stamp(), len(tasks))
        summary = RunSummary(run_id=run_id, total=len(tasks), reused=reused)
        with RunProgress(len(tasks), enabled=show_progress) as progress:
            if reused:
                progress.progress.advance(progress.units, reused)
                progress.note(f"reusing {reused} finished unit(s) from {store.path} (--force recomputes them)")
            hooks = Hooks(store, run_id, progress, summary)
            try:
                runner.run(todo, hooks)
            except BaseException:
                store.finish_run(run_id, "interrupted")
                raise
        store.finish_run(run_id, "failed" if summary.failed else "done")
        return summary
    finally:
        store.close()
