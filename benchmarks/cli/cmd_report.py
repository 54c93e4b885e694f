"""`bench report`: leaderboards from the results store."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from benchmarks.cli.options import DEFAULT_RUNS_DIR, CardsOpt, RunsDirOpt, registry
from benchmarks.errors import UserError

FORMATS = ("md",)


def report_cmd(
    suite: Annotated[Optional[str], typer.Option("--suite", help="One suite (default: every suite with results).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md")] = "md",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write to this file instead of stdout.")] = None,
    cards: CardsOpt = None,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
) -> None:
    """Print a leaderboard per suite: one row per encoder, one column per card, plus the aggregate."""
    from benchmarks.report.leaderboard import build, definitions, render_markdown
    from benchmarks.runs.store import DB_NAME, Store

    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if not (runs_dir / DB_NAME).exists():
        raise UserError(f"no results in {runs_dir}/ (run `bench run` or `bench demo` first, or pass --runs-dir)")
    store = Store(runs_dir)
    try:
        suites = [suite] if suite else store.suites()
        if not suites:
            raise UserError(f"no finished units in {runs_dir}/")
        reg = registry(cards)
        units = store.units()
        boards = [build(*definitions(reg, store, s), units) for s in suites]
    finally:
        store.close()
    text = "\n\n".join(render_markdown(b) for b in boards) + "\n"
    if out:
        out.write_text(text, encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    else:
        sys.stdout.write(text)


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
