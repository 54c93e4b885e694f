"""Options shared by several commands, declared once."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

CardsOpt = Annotated[
    Optional[list[Path]],
    typer.Option("--cards", help="Extra card directory (repeatable); POLYGLUE_CARDS adds more.", show_default=False),
]
RunsDirOpt = Annotated[Path, typer.Option("--runs-dir", help="Where results live (SQLite store, predictions, reports).")]
FormatOpt = Annotated[str, typer.Option("--format", help="Output format: text or json.")]

DEFAULT_RUNS_DIR = Path("runs")


def registry(cards: list[Path] | None):
    """Cards from the built-in folder, `--cards` and POLYGLUE_CARDS; a `--cards` folder that is not there is an error."""
    from polyglue.cards.registry import Registry
    from polyglue.errors import UserError

    for path in cards or []:
        if not Path(path).exists():
            raise UserError(f"--cards {path}: no such file or directory")
    return Registry.discover(cards or [])
