"""The report's extra views, each in md, csv, json and html: `--columns efficiency` (score beside
cost), `--columns transfer` (in-distribution vs shifted score and the gap of `train_from` cards),
`--columns seeds` (init vs data-order seed variance) and `--expected-max` (expected best validation score against the tuning budget)."""

from __future__ import annotations

import importlib
import json
from typing import Any, Callable

from polyglue.cards.schema import Card, Suite

#: view -> (module, rows function, renderer prefix): `<prefix>_markdown`, `_csv`, `_json`, `_html`.
VIEWS: dict[str, tuple[str, str, str]] = {
    "efficiency": ("polyglue.report.efficiency", "efficiency_rows", "efficiency"),
    "transfer": ("polyglue.report.transfer", "transfer_rows", "transfer"),
    "expected-max": ("polyglue.report.expected_max", "budget_curves", "curves"),
    "seeds": ("polyglue.report.seed_variance", "seed_rows", "seeds"),
}
SUFFIX = {"md": "markdown", "csv": "csv", "json": "json", "html": "html"}


def render(view: str, fmt: str, suites: list[tuple[Suite, dict[str, Card]]], units: list[dict]) -> str:
    """One document over every suite: sections joined (md, html), rows concatenated (csv), a list (json)."""
    module_name, rows_of, prefix = VIEWS[view]
    module = importlib.import_module(module_name)
    renderer: Callable[[str, Any], str] = getattr(module, f"{prefix}_{SUFFIX[fmt]}")
    texts = [renderer(s.name, getattr(module, rows_of)(s, cards, units)) for s, cards in suites]
    if fmt == "json":
        docs = [json.loads(t) for t in texts]
        return json.dumps(docs[0] if len(docs) == 1 else {"suites": docs}, indent=2) + "\n"
    if fmt == "csv":
        header = texts[0].splitlines(keepends=True)[:1]
        return "".join(header) + "".join("".join(t.splitlines(keepends=True)[1:]) for t in texts)
    return "\n".join(texts)
