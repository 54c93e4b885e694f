"""The report's extra views, each in md, csv, json and html: `--columns efficiency` (score beside
cost), `--columns transfer` (in-distribution vs shifted score and the gap of `train_from` cards)
and `--expected-max` (expected best validation score against the tuning budget)."""

from __future__ import annotations

import json

from polyglue.cards.schema import Card, Suite

VIEWS = ("efficiency", "transfer", "expected-max")


def render(view: str, fmt: str, suites: list[tuple[Suite, dict[str, Card]]], units: list[dict]) -> str:
    """One document over every suite: sections joined (md, html), rows concatenated (csv), a list (json)."""
    if view == "efficiency":
        from polyglue.report import efficiency as mod

        parts = [(s.name, mod.efficiency_rows(s, cards, units)) for s, cards in suites]
        renderers = {"md": mod.efficiency_markdown, "csv": mod.efficiency_csv, "json": mod.efficiency_json, "html": mod.efficiency_html}
    elif view == "transfer":
        from polyglue.report import transfer as mod  # type: ignore[no-redef]

        parts = [(s.name, mod.transfer_rows(s, cards, units)) for s, cards in suites]
        renderers = {"md": mod.transfer_markdown, "csv": mod.transfer_csv, "json": mod.transfer_json, "html": mod.transfer_html}
    else:
        from polyglue.report import expected_max as mod  # type: ignore[no-redef]

        parts = [(s.name, mod.budget_curves(s, cards, units)) for s, cards in suites]
        renderers = {"md": mod.curves_markdown, "csv": mod.curves_csv, "json": mod.curves_json, "html": mod.curves_html}
    texts = [renderers[fmt](name, rows) for name, rows in parts]
    if fmt == "json":
        docs = [json.loads(t) for t in texts]
        return json.dumps(docs[0] if len(docs) == 1 else {"suites": docs}, indent=2) + "\n"
    if fmt == "csv":
        header, *_ = texts[0].splitlines(keepends=True) or [""]
        return header + "".join("".join(t.splitlines(keepends=True)[1:]) for t in texts)
    return "\n".join(texts)
