"""`bench list`, `bench show`, `bench validate`, `bench schema`: the light commands (no torch)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from polyglue.cli.options import CardsOpt, FormatOpt, registry
from polyglue.errors import UserError

LIST_WHAT = ("suites", "cards", "models")
VALIDATE_FORMATS = ("text", "json", "github")


def list_cmd(
    what: Annotated[str, typer.Argument(help="suites, cards or models")] = "suites",
    cards: CardsOpt = None,
    fmt: FormatOpt = "text",
) -> None:
    """List what is available: suites, cards (built-in plus --cards dirs) or model kinds."""
    if what not in LIST_WHAT:
        raise UserError(f"`bench list {what}`: choose one of {', '.join(LIST_WHAT)}")
    if what == "models":
        from polyglue.encoders import kinds, plugin_problems

        rows: list[dict] = [
            {"model": k.name + (":<name>" if k.takes_target else ""), "modalities": ",".join(sorted(k.modalities)),
             "package": k.package, "description": k.description}
            for k in kinds().values() if k.name != "object"
        ]
        from polyglue.plugins import import_failures

        for name, problem in plugin_problems().items():
            print(f"warning: encoder plugin '{name}' cannot be used: {problem}", file=sys.stderr)
        for line in import_failures():
            print(f"warning: {line}", file=sys.stderr)
    else:
        reg = registry(cards)
        if what == "suites":
            rows = [
                {"suite": s.suite.name, "version": s.suite.version, "cards": len(s.suite.cards), "title": s.suite.title}
                for s in sorted(reg.suites.values(), key=lambda e: e.suite.name)
            ]
        else:
            member = {c: s.suite.name for s in reg.suites.values() for c in s.suite.cards}
            rows = [
                {
                    "card": e.card.name,
                    "suite": member.get(e.card.name, "-"),
                    "task": e.card.task,
                    "languages": ",".join(e.card.languages),
                    "metric": e.card.main_metric,
                }
                for e in sorted(reg.cards.values(), key=lambda e: (member.get(e.card.name, ""), e.card.name))
            ]
        errors = reg.errors()
        if errors:
            print(f"warning: {len(errors)} problem(s) in card files; run `bench validate` to see them", file=sys.stderr)
    _print_rows(rows, fmt)


def _print_rows(rows: list[dict], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps(rows, indent=1, ensure_ascii=False))
        return
    if not rows:
        print("(none)")
        return
    keys = list(rows[0])
    widths = {k: max(len(k), *(len(str(r[k])) for r in rows)) for k in keys}
    print("  ".join(k.upper().ljust(widths[k]) for k in keys).rstrip())
    for r in rows:
        print("  ".join(str(r[k]).ljust(widths[k]) for k in keys).rstrip())


def show_cmd(
    name: Annotated[str, typer.Argument(help="A card or suite name.")],
    cards: CardsOpt = None,
) -> None:
    """Show one card or suite, fully resolved (defaults filled in), with its file and content hash."""
    from polyglue.cards.problems import display_path
    from polyglue.cards.yamlio import dump_yaml

    reg = registry(cards)
    entry = reg.suites.get(name) or reg.card(name)
    model = getattr(entry, "suite", None) or entry.card
    print(f"# {display_path(entry.path)}  (content hash {model.content_hash()[:16]})")
    print(dump_yaml(model.model_dump(mode="json", exclude_none=True)).rstrip())
    if hasattr(entry, "suite"):
        print("\n# cards")
        for card_name in entry.suite.cards:
            c = reg.cards.get(card_name)
            print(f"#   {card_name}: {c.card.task}, {c.card.main_metric} on {c.card.report_split}" if c else f"#   {card_name}: (missing)")


def validate_cmd(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Card/suite files or folders (default: every known card).", show_default=False)] = None,
    cards: CardsOpt = None,
    fmt: Annotated[str, typer.Option("--format", help="text, json, or github (annotations in GitHub Actions).")] = "text",
    strict: Annotated[bool, typer.Option(help="Treat warnings (e.g. unpinned revisions) as errors.")] = False,
    changed: Annotated[bool, typer.Option("--changed", help="Only cards, suites and kits changed against --base (git), plus suites of changed cards.")] = False,
    base: Annotated[Optional[str], typer.Option("--base", help="Git ref for --changed (default: origin/$GITHUB_BASE_REF, origin/main, main; HEAD = uncommitted changes).", show_default=False)] = None,
    check_data: Annotated[bool, typer.Option("--check-data", help="Also read a sample of every split and report data problems (columns, labels, duplicates, overlap, short texts, audio).")] = False,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="With --check-data: read mirrors from DIR/<suite>/<card>/ instead of the Hub.", show_default=False)] = None,
    sample: Annotated[int, typer.Option("--sample", help="With --check-data: rows read per split (0 = all).")] = 1000,
) -> None:
    """Check cards and suites strictly; one `file:line: field: message` per problem. Exit 0 or 2."""
    from polyglue.validation import validate

    if fmt not in VALIDATE_FORMATS:
        raise UserError(f"--format {fmt}: choose one of {', '.join(VALIDATE_FORMATS)}")
    if sample < 0:
        raise UserError(f"--sample must be 0 (all rows) or positive (got {sample})")
    result = validate(list(paths or []), list(cards or []), changed=changed, base=base, check_data=check_data, data_dir=data_dir, sample=sample)
    failing = [p for p in result.problems if p.severity == "error" or strict]
    if fmt == "json":
        body = {"checked": len(result.files), "files": result.shown_files, "problems": [p.as_dict() for p in result.problems], "notes": result.notes, "ok": not failing}
        if result.changed is not None:
            body.update(base=result.changed.base, merge_base=result.changed.merge_base, changed=result.changed.changed)
        print(json.dumps(body, indent=1, ensure_ascii=False))
    else:
        _print_validation(result, github=fmt == "github")
    if failing:
        raise typer.Exit(2)


def _print_validation(result, *, github: bool) -> None:
    """Problems on stdout (one line each, or GitHub annotations); the summary and notes on stderr."""
    if result.changed is not None:
        sel = result.changed
        what = f"{len(result.files)} file(s) to check" if result.files else "no card, suite or language kit changed"
        print(f"against {sel.base} (merge base {sel.merge_base[:10]}): {what}", file=sys.stderr)
    for p in result.problems:
        print(_github_annotation(p) if github else p.render())
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    n_err = sum(p.severity == "error" for p in result.problems)
    print(f"{len(result.files)} file(s) checked: {n_err} error(s), {len(result.problems) - n_err} warning(s)", file=sys.stderr)


def _github_annotation(p) -> str:
    """A GitHub Actions workflow command, so the problem shows on the pull request's line."""

    def data(text: str) -> str:
        return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")

    def prop(text: str) -> str:
        return data(text).replace(":", "%3A").replace(",", "%2C")

    return f"::{p.severity} file={prop(p.file)},line={p.line},title={prop(p.field or 'card')}::{data(p.message)}"


def schema_cmd(
    kind: Annotated[str, typer.Argument(help="card or suite")] = "card",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the JSON Schema of cards or suites (for editor completion and CI)."""
    from polyglue.cards.schema import Card, Suite

    models: dict[str, type[Card] | type[Suite]] = {"card": Card, "suite": Suite}
    if kind not in models:
        raise UserError(f"`bench schema {kind}`: choose card or suite")
    schema = models[kind].model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"polyglue {kind}"
    text = json.dumps(schema, indent=2, ensure_ascii=False)
    if out:
        out.write_text(text + "\n", encoding="utf-8")
        print(f"wrote {out}", file=sys.stderr)
    else:
        print(text)


def register(app: typer.Typer) -> None:
    app.command("list")(list_cmd)
    app.command("show")(show_cmd)
    app.command("validate")(validate_cmd)
    app.command("schema")(schema_cmd)
