"""`bench list`, `bench show`, `bench validate`, `bench schema`: the light commands (no torch)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from benchmarks.cli.options import CardsOpt, FormatOpt, registry
from benchmarks.errors import UserError

LIST_WHAT = ("suites", "cards", "models")


def list_cmd(
    what: Annotated[str, typer.Argument(help="suites, cards or models")] = "suites",
    cards: CardsOpt = None,
    fmt: FormatOpt = "text",
) -> None:
    """List what is available: suites, cards (built-in plus --cards dirs) or model kinds."""
    if what not in LIST_WHAT:
        raise UserError(f"`bench list {what}`: choose one of {', '.join(LIST_WHAT)}")
    if what == "models":
        from benchmarks.encoders import KINDS

        rows = [{"model": k + ("" if k in ("bow", "fbank") else ":<name>"), "description": v} for k, v in KINDS.items()]
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
    from benchmarks.cards.problems import display_path
    from benchmarks.cards.yamlio import dump_yaml

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
    fmt: FormatOpt = "text",
    strict: Annotated[bool, typer.Option(help="Treat warnings (e.g. unpinned revisions) as errors.")] = False,
) -> None:
    """Check cards and suites strictly; one `file:line: field: message` per problem. Exit 0 or 2."""
    paths = list(paths or [])
    for p in paths:
        if not p.exists():
            raise UserError(f"no such file or folder: {p}")
    reg = registry(list(cards or []) + paths)
    problems = reg.problems
    if paths:
        roots = [p.resolve() for p in paths]
        problems = [p for p in problems if any(_under(Path(p.file).resolve(), r) for r in roots)]
        checked = sum(len(_yaml_files(p)) for p in paths)
    else:
        checked = len(reg.cards) + len(reg.suites) + len({p.file for p in reg.errors()})
    problems = sorted(problems, key=lambda p: (p.file, p.line))
    failing = [p for p in problems if p.severity == "error" or strict]
    if fmt == "json":
        print(json.dumps({"checked": checked, "problems": [p.as_dict() for p in problems], "ok": not failing}, indent=1))
    else:
        for p in problems:
            print(p.render())
        n_err = sum(p.severity == "error" for p in problems)
        n_warn = len(problems) - n_err
        print(f"{checked} file(s) checked: {n_err} error(s), {n_warn} warning(s)", file=sys.stderr)
    if failing:
        raise typer.Exit(2)


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def _yaml_files(path: Path) -> list[Path]:
    return [path] if path.is_file() else list(path.rglob("*.yaml"))


def schema_cmd(
    kind: Annotated[str, typer.Argument(help="card or suite")] = "card",
    out: Annotated[Optional[Path], typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Print the JSON Schema of cards or suites (for editor completion and CI)."""
    from benchmarks.cards.schema import Card, Suite

    models = {"card": Card, "suite": Suite}
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
