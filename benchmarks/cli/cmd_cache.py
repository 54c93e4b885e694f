"""`bench cache ls` / `bench cache clear`: see and free the frozen-feature cache (no torch)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Optional

import typer

from polyglue.cli.options import FormatOpt
from polyglue.errors import UserError

cache_app = typer.Typer(help="The frozen-feature cache in $POLYGLUE_CACHE/features: list namespaces, free space.", no_args_is_help=True)


def human_bytes(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _describe(identity: dict) -> str:
    """One short line for an encoder configuration (the full identity is in `--format json`)."""
    main = identity.get("upstream") or identity.get("encoder") or "?"
    extra = [f"{k}={v}" for k, v in identity.items() if k in ("layer", "layers", "pooling", "max_length", "langkit")]
    return " ".join([str(main), *extra])


@cache_app.command("ls")
def ls_cmd(fmt: FormatOpt = "text") -> None:
    """One row per namespace (one encoder configuration): items, size on disk, values per row."""
    from polyglue.features import FeatureCache

    cache = FeatureCache()
    rows = cache.list()
    if fmt == "json":
        print(json.dumps({"root": str(cache.root), "namespaces": rows, "bytes": sum(r["bytes"] for r in rows)}, indent=1))
        return
    if not rows:
        print(f"(empty) {cache.root}")
        return
    table = [{"NAMESPACE": r["name"], "ITEMS": str(r["items"]), "SIZE": human_bytes(r["bytes"]), "DIM": str(r["dim"]), "ENCODER": _describe(r["identity"])} for r in rows]
    widths = {k: max(len(k), *(len(t[k]) for t in table)) for k in table[0]}
    print("  ".join(k.ljust(widths[k]) for k in widths).rstrip())
    for t in table:
        print("  ".join(t[k].ljust(widths[k]) for k in widths).rstrip())
    print(f"{len(rows)} namespace(s), {human_bytes(sum(r['bytes'] for r in rows))} in {cache.root}", file=sys.stderr)


@cache_app.command("clear")
def clear_cmd(
    names: Annotated[Optional[list[str]], typer.Argument(help="Namespaces (or unique prefixes) from `bench cache ls`.", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Delete every namespace.")] = False,
) -> None:
    """Delete cached features; they are recomputed on the next run that needs them."""
    from polyglue.features import FeatureCache

    cache = FeatureCache()
    known = [r["name"] for r in cache.list()]
    if all_ and names:
        raise UserError("give namespaces or --all, not both")
    if not all_ and not names:
        raise UserError("give the namespace(s) to delete (see `bench cache ls`) or --all")
    targets = known if all_ else []
    for name in names or []:
        matches = [k for k in known if k.startswith(name)]
        if len(matches) != 1:
            what = "matches no namespace" if not matches else f"is ambiguous ({', '.join(matches)})"
            raise UserError(f"'{name}' {what}; see `bench cache ls`")
        targets.append(matches[0])
    freed = sum(cache.clear(name) for name in dict.fromkeys(targets))
    print(f"freed {human_bytes(freed)} ({len(set(targets))} namespace(s)) in {cache.root}")


def register(app: typer.Typer) -> None:
    app.add_typer(cache_app, name="cache")
