"""`bench compare A B --suite S`: which differences between two leaderboard rows are real."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from polyglue.cli.cmd_report import FORMATS, open_store, write_output
from polyglue.cli.options import DEFAULT_RUNS_DIR, CardsOpt, RunsDirOpt, registry
from polyglue.errors import UserError


def compare_cmd(
    model_a: Annotated[str, typer.Argument(help="Row label A (as `bench report` shows it).", show_default=False)],
    model_b: Annotated[str, typer.Argument(help="Row label B.", show_default=False)],
    suite: Annotated[str, typer.Option("--suite", help="The suite both rows ran on.")],
    protocol: Annotated[Optional[str], typer.Option("--protocol", help="Protocol of A (and of B unless --protocol-b); needed when a row has several.")] = None,
    protocol_b: Annotated[Optional[str], typer.Option("--protocol-b", help="Protocol of B, when it differs from A's.")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, csv, json or html.")] = "md",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write to this file instead of stdout.")] = None,
    n_bootstrap: Annotated[int, typer.Option("--n-bootstrap", help="Bootstrap resamples.")] = 1000,
    alpha: Annotated[float, typer.Option("--alpha", help="Significance level.")] = 0.05,
    correction: Annotated[str, typer.Option("--correction", help="Family-wise correction over cards: holm or none.")] = "holm",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the resampling (results are reproducible).")] = 0,
    include_debug: Annotated[bool, typer.Option("--include-debug", help="Also compare debug units (--limit, --max-steps runs).")] = False,
    cards: CardsOpt = None,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
) -> None:
    """Paired bootstrap over stored per-example predictions (and McNemar's test for single-label cards),
    per card and for the suite aggregate; significant differences are marked."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    from polyglue.report import compare_render
    from polyglue.report.compare import CompareRequest, compare
    from polyglue.report.leaderboard import definitions

    request = CompareRequest(model_a, model_b, protocol, protocol_b, n_bootstrap, alpha, correction, seed, include_debug=include_debug)
    store = open_store(runs_dir)
    try:
        suite_def, card_defs = definitions(registry(cards), store, suite)
        doc = compare(suite_def, card_defs, store.units(suite=suite), runs_dir, request)
    finally:
        store.close()
    if fmt == "md":
        text = compare_render.comparison_markdown(doc) + "\n"
    elif fmt == "csv":
        text = compare_render.comparison_csv(doc)
    elif fmt == "json":
        text = compare_render.comparison_json(doc)
    else:
        from polyglue.report.html import comparison_html

        text = comparison_html(doc)
    write_output(text, out)


def register(app: typer.Typer) -> None:
    app.command("compare")(compare_cmd)
