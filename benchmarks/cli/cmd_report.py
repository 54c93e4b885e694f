"""`bench report`: leaderboards from the results store, as Markdown, CSV, JSON or a static HTML page."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from polyglue.cli.options import DEFAULT_RUNS_DIR, CardsOpt, RunsDirOpt, registry
from polyglue.errors import UserError

FORMATS = ("md", "csv", "json", "html")
SPREADS = ("ci", "std")


def write_output(text: str, out: Path | None) -> None:
    """`text` to `out` (parents created) or to stdout."""
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"--out {out}: cannot write ({exc.strerror or exc})") from None
    print(f"wrote {out}", file=sys.stderr)


def parse_matches(values: list[str] | None) -> dict[str, str]:
    out = {}
    for value in values or []:
        label, sep, model = value.partition("=")
        if not sep or not label or not model:
            raise UserError(f"--match {value}: write LABEL=REFERENCE_MODEL (a row label and a reference row of the suite)")
        out[label] = model
    return out


def open_store(runs_dir: Path):
    from polyglue.runs.store import DB_NAME, Store

    if not (runs_dir / DB_NAME).exists():
        raise UserError(f"no results in {runs_dir}/ (run `bench run` or `bench demo` first, or pass --runs-dir)")
    return Store(runs_dir)


def report_cmd(
    suite: Annotated[Optional[str], typer.Option("--suite", help="One suite (default: every suite with results).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, csv, json or html.")] = "md",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write to this file instead of stdout.")] = None,
    match: Annotated[Optional[list[str]], typer.Option("--match", help="LABEL=MODEL: show the deltas of row LABEL against the suite's published row MODEL (repeatable; rows whose names agree are paired anyway).")] = None,
    spread: Annotated[str, typer.Option("--spread", help="What ± shows in md/html: ci (95% confidence half-width) or std.")] = "ci",
    columns: Annotated[str, typer.Option("--columns", help="scores (the leaderboard), efficiency (score beside parameters, latency, throughput, memory and FLOPs) or transfer (in-distribution vs shifted score and gap of train_from cards).")] = "scores",
    expected_max: Annotated[bool, typer.Option("--expected-max", help="Expected best validation score against the number of trials over the stored learning-rate grid x seeds (Dodge et al. 2019).")] = False,
    cards: CardsOpt = None,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
) -> None:
    """Leaderboard per suite: one row per encoder, one column per card, the aggregate, published rows and deltas."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if spread not in SPREADS:
        raise UserError(f"--spread {spread}: choose one of {', '.join(SPREADS)}")
    if columns not in ("scores", "efficiency", "transfer"):
        raise UserError(f"--columns {columns}: choose scores, efficiency or transfer")
    if expected_max and columns != "scores":
        raise UserError(f"--expected-max and --columns {columns} are two views; ask for one")
    view = "expected-max" if expected_max else (None if columns == "scores" else columns)
    matches = parse_matches(match)
    if matches and not suite:
        raise UserError("--match needs --suite (reference rows belong to one suite)")
    from polyglue.report import formats
    from polyglue.report.leaderboard import build, definitions

    store = open_store(runs_dir)
    try:
        suites = [suite] if suite else store.suites()
        if not suites:
            raise UserError(f"no finished units in {runs_dir}/")
        reg = registry(cards)
        units = store.units()
        if view is not None:
            from polyglue.report.views import render

            write_output(render(view, fmt, [definitions(reg, store, s) for s in suites], units), out)
            return
        boards = [build(*definitions(reg, store, s), units, matches) for s in suites]
    finally:
        store.close()
    if fmt == "md":
        text = "\n\n".join(formats.leaderboard_markdown(b, spread=spread) for b in boards) + "\n"
    elif fmt == "csv":
        text = formats.leaderboard_csv(boards)
    elif fmt == "json":
        text = formats.leaderboard_json(boards)
    else:
        from polyglue.report.html import leaderboard_html

        text = leaderboard_html(boards, spread=spread)
    write_output(text, out)


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
