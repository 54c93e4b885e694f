"""`bench report`: leaderboards from the results store, as Markdown, CSV, JSON, HTML, LaTeX or model-card metadata."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from polyglue.cli.options import DEFAULT_RUNS_DIR, CardsOpt, RunsDirOpt, registry
from polyglue.errors import UserError

FORMATS = ("md", "csv", "json", "html", "latex", "model-index")
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

    if runs_dir.exists() and not runs_dir.is_dir():
        raise UserError(f"--runs-dir {runs_dir} is a file, not a results folder")
    if not (runs_dir / DB_NAME).exists():
        raise UserError(f"no results in {runs_dir}/ (run `bench run` or `bench demo` first, or pass --runs-dir)")
    return Store(runs_dir, readonly=True)  # reading results never writes: works on a read-only runs dir


def report_cmd(
    suite: Annotated[Optional[str], typer.Option("--suite", help="One suite (default: every suite with results).")] = None,
    fmt: Annotated[str, typer.Option("--format", help="md, csv, json, html, latex (booktabs) or model-index (Hugging Face model-card metadata; needs --model).")] = "md",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write to this file instead of stdout.")] = None,
    match: Annotated[Optional[list[str]], typer.Option("--match", help="LABEL=MODEL: show the deltas of row LABEL against the suite's published row MODEL (repeatable; rows whose names agree are paired anyway).")] = None,
    spread: Annotated[str, typer.Option("--spread", help="What ± shows in md/html: ci (95% confidence half-width) or std.")] = "ci",
    model: Annotated[Optional[str], typer.Option("--model", help="model-index: the row label to export.")] = None,
    protocol: Annotated[Optional[str], typer.Option("--protocol", help="model-index: the row's protocol, when the model has several.")] = None,
    include_not_comparable: Annotated[bool, typer.Option("--include-not-comparable", help="model-index: also export units that are not the card's official recipe (marked in the source).")] = False,
    source_url: Annotated[Optional[str], typer.Option("--source-url", help="model-index: where the results can be read (default: the suite's reference URL).")] = None,
    bootstrap_se: Annotated[int, typer.Option("--bootstrap-se", help="For single-seed cells: per-example bootstrap standard error from N resamples of the stored predictions (0: off).")] = 0,
    include_debug: Annotated[bool, typer.Option("--include-debug", help="Show debug units (--limit, --max-steps runs) as their own, labelled rows.")] = False,
    columns: Annotated[str, typer.Option("--columns", help="scores (the leaderboard), efficiency (score beside parameters, latency, throughput, memory and FLOPs) transfer (in-distribution vs shifted score and gap of train_from cards) or seeds (variance across init seeds vs data-order seeds, from --seeds x --data-seeds runs).")] = "scores",
    expected_max: Annotated[bool, typer.Option("--expected-max", help="Expected best validation score against the number of trials over the stored learning-rate grid x seeds (Dodge et al. 2019).")] = False,
    cards: CardsOpt = None,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
) -> None:
    """Leaderboard per suite: one row per encoder, one column per card, the aggregate, published rows and deltas."""
    if fmt not in FORMATS:
        raise UserError(f"--format {fmt}: choose one of {', '.join(FORMATS)}")
    if spread not in SPREADS:
        raise UserError(f"--spread {spread}: choose one of {', '.join(SPREADS)}")
    if fmt == "model-index" and not model:
        raise UserError("--format model-index needs --model LABEL (the row to put in the model card)")
    if fmt != "model-index" and (model or protocol or include_not_comparable or source_url):
        raise UserError("--model, --protocol, --include-not-comparable and --source-url apply to --format model-index only")
    if columns not in ("scores", "efficiency", "transfer", "seeds"):
        raise UserError(f"--columns {columns}: choose scores, efficiency, transfer or seeds")
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
        # model-index sees debug rows too, so that it can refuse them by name with their reasons
        boards = [build(*definitions(reg, store, s), units, matches, include_debug=include_debug or fmt == "model-index") for s in suites]
        if bootstrap_se:
            if not 100 <= bootstrap_se <= 100_000:
                raise UserError(f"--bootstrap-se {bootstrap_se}: use between 100 and 100000 resamples (or 0 for none)")
            from polyglue.report.stderr import attach_bootstrap_se

            for board in boards:
                attach_bootstrap_se(board, runs_dir, n=bootstrap_se)
    finally:
        store.close()
    if fmt == "md":
        text = "\n\n".join(formats.leaderboard_markdown(b, spread=spread) for b in boards) + "\n"
    elif fmt == "csv":
        text = formats.leaderboard_csv(boards)
    elif fmt == "json":
        text = formats.leaderboard_json(boards)
    elif fmt == "latex":
        from polyglue.report.latex import leaderboards_latex

        text = leaderboards_latex(boards, spread=spread)
    elif fmt == "model-index":
        from polyglue.report.model_index import model_index_yaml

        if len(boards) > 1:
            raise UserError(f"--format model-index: results of several suites ({', '.join(b.suite for b in boards)}); add --suite")
        text, left_out = model_index_yaml(boards[0], model or "", protocol=protocol, include_not_comparable=include_not_comparable, source_url=source_url)
        for note in left_out:
            print(f"left out: {note}", file=sys.stderr)
    else:
        from polyglue.report.html import leaderboard_html

        text = leaderboard_html(boards, spread=spread)
    write_output(text, out)


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
