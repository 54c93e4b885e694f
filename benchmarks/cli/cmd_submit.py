"""`bench submit`: a leaderboard submission zip (GLUE, CLUE) from the stored hidden test predictions."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from polyglue.cli.options import DEFAULT_RUNS_DIR, CardsOpt, RunsDirOpt, registry


def submit_cmd(
    suite: Annotated[str, typer.Option("--suite", help="A suite whose test labels are hidden and whose card declares a submission layout (glue, clue).")],
    model: Annotated[str, typer.Option("--model", help="The row label whose test predictions to submit.")],
    out: Annotated[Path, typer.Option("--out", help="The zip file to write (e.g. submission.zip).")],
    protocol: Annotated[Optional[str], typer.Option("--protocol", help="The row's protocol, when the model has several.")] = None,
    seed: Annotated[Optional[int], typer.Option("--seed", help="Submit this seed's predictions (default: per card, the seed with the best validation score).")] = None,
    cards: CardsOpt = None,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
) -> None:
    """Write the leaderboard's own files (official names and layouts) for one model into a zip."""
    from polyglue.cli.cmd_report import open_store
    from polyglue.report.leaderboard import definitions
    from polyglue.report.submit import build_submission

    reg = registry(cards)
    store = open_store(runs_dir)
    try:
        suite_def, card_defs = definitions(reg, store, suite)
        with_layout = sorted(name for name, entry in reg.suites.items() if entry.suite.submission is not None)
        summary = build_submission(suite_def, card_defs, store, model, out, protocol=protocol, seed=seed, suites_with_layout=with_layout)
    finally:
        store.close()
    for name, count in summary.files.items():
        print(f"{name}: {count} predictions", file=sys.stderr)
    for card, which in summary.units.items():
        print(f"{card}: {which}", file=sys.stderr)
    print(f"wrote {summary.out}", file=sys.stderr)


def register(app: typer.Typer) -> None:
    app.command("submit")(submit_cmd)
