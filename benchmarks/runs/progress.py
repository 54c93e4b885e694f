"""One progress view per run (rich): units done/total with ETA, and steps within the current unit.

Runners report steps through a plain callable, so they never import rich and work the
same under Ray. On a non-terminal (CI logs) each finished unit prints one line instead.
"""

from __future__ import annotations

import sys


class RunProgress:
    """Context manager wrapping a rich Progress with an overall bar and a per-unit bar."""

    def __init__(self, total_units: int, *, enabled: bool = True, stream=None):
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.console = Console(file=stream or sys.stderr, highlight=False, soft_wrap=True)
        self.live = enabled and self.console.is_terminal
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
            disable=not self.live,
        )
        self.units = self.progress.add_task("units", total=total_units)
        self.steps = self.progress.add_task("", total=None, visible=False)

    def __enter__(self):
        self.progress.__enter__()
        return self

    def __exit__(self, *exc):
        self.progress.__exit__(*exc)

    def start_unit(self, description: str) -> None:
        self.progress.reset(self.steps, total=None, description=f"  {description}", visible=True)

    def step(self, advance: int = 0, total: int | None = None, description: str = "") -> None:
        if total is not None:
            self.progress.reset(self.steps, total=total, visible=True)
        if description:
            self.progress.update(self.steps, description=f"  {description}")
        if advance:
            self.progress.advance(self.steps, advance)

    def finish_unit(self, line: str) -> None:
        self.progress.advance(self.units)
        self.console.print(line, markup=False, highlight=False)

    def note(self, line: str) -> None:
        self.console.print(line, markup=False, highlight=False)
