"""The local backend: units one after another in this process (GPU when present)."""

from __future__ import annotations

import traceback

from polyglue.errors import UserError
from polyglue.runs.execute import execute


def classify_error(exc: BaseException) -> tuple[str, str, str | None]:
    """(one-line message, kind, detail): user errors need no traceback; bugs keep theirs in the store."""
    if isinstance(exc, UserError):
        return str(exc), "user", None
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}", "internal", detail


class LocalBackend:
    """Sequential execution; an exception in one unit fails that unit, not the run."""

    def run(self, tasks, hooks) -> None:
        for task in tasks:
            if hooks.started(task, task.device if task.device != "auto" else "cpu") is False:
                continue  # finished by another process meanwhile, or being computed by one
            try:
                result = execute(task, hooks.step)
            except Exception as exc:  # noqa: BLE001 - every unit failure is recorded, the run goes on
                message, kind, detail = classify_error(exc)
                hooks.failed(task, message, kind, detail)
                continue
            hooks.finished(task, result)
