"""`bench add-language` (scaffold a suite; light path, no torch) and `bench fetch` (mirror a suite's data)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from polyglue.cli.options import CardsOpt, registry


def add_language_cmd(
    language: Annotated[str, typer.Argument(help="ISO 639-1 (eu) or ISO 639-3 (eus) code, optionally with a script (eu-Latn).")],
    suite: Annotated[str, typer.Option("--suite", help="Name of the new suite (lower-case), e.g. basqueglue.")],
    tasks: Annotated[
        Optional[str],
        typer.Option("--tasks", help="Comma-separated task types, each optionally named: nli=pair-classification,ner=token-classification. Default: single-classification,pair-classification,token-classification."),
    ] = None,
    to: Annotated[Path, typer.Option("--to", help="Card directory to write into (in a clone: the built-in cards/).")] = Path("cards"),
) -> None:
    """Scaffold a language suite: suite.yaml, one card stub per task, a language kit and a checklist."""
    from polyglue.cards.problems import display_path
    from polyglue.scaffold import add_language

    result = add_language(language, suite, tasks, to)
    lang = result.language
    if lang is None:  # add_language resolves the code or raises a UserError
        raise RuntimeError(f"add_language returned no language for '{language}'")
    if lang.note:
        print(f"note: {lang.note}", file=sys.stderr)
    print(f"New suite '{suite}' for {lang.name} ({lang.code}); {result.kit_note}.")
    for path in result.written:
        print(f"  wrote {display_path(path)}")
    print("Next:")
    for i, step in enumerate(result.next_steps, 1):
        print(f"  {i}. {step}")


def fetch_cmd(
    suite: Annotated[str, typer.Option("--suite", help="Suite to mirror (see `bench list suites`).")],
    to: Annotated[Path, typer.Option("--to", help="Mirror root; use it later as `bench run --data-dir`.")],
    tasks: Annotated[Optional[str], typer.Option("--tasks", help="Comma-separated card names (default: all cards of the suite).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again even when the mirror is up to date.")] = False,
    cards: CardsOpt = None,
) -> None:
    """Mirror a suite's Hub data to DIR/<suite>/<card>/ (parquet, audio) with a checksummed manifest."""
    from polyglue.data.fetch import fetch_suite

    def report(outcome) -> None:
        print(f"{outcome.status:>10}  {outcome.card}: {outcome.detail}", file=sys.stderr)

    names = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else None
    outcomes = fetch_suite(registry(cards), suite, to, tasks=names, force=force, report=report)
    mirrored = sum(o.status != "skipped" for o in outcomes)
    print(f"{mirrored} card(s) mirrored under {to / suite}/; run with `bench run --suite {suite} --data-dir {to}`")


def register(app: typer.Typer) -> None:
    app.command("add-language")(add_language_cmd)
    app.command("fetch")(fetch_cmd)
