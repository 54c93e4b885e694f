"""Published reference rows from the suite card, and deltas of measured rows against them.

A reference row gives `card` (its main metric) or `card.metric` values in display units.
Its aggregate is the published one when the card gives it; otherwise it is computed with
the suite's own aggregate rule when every component can be read from the row (and the
report says it was computed). A measured row is paired with a reference row when the user
says so (`--match LABEL=MODEL`) or when their names agree after normalisation.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from polyglue.cards.schema import Card, ReferenceRow, Suite
from polyglue.report.aggregate import ResolvedComponent, combine
from polyglue.report.schema import DeltaRow


@dataclass
class ReferenceView:
    """One published row as the leaderboard shows it (main metric per card, display units)."""

    model: str
    source: str
    split: str
    notes: str | None
    cells: dict[str, float | None]
    aggregate: float | None
    aggregate_source: str | None
    """`published` (given by the suite card), `computed` (by the suite's rule from the row), or None."""


def _score(row: ReferenceRow, card: str, metric: str, main_metric: str | None) -> float | None:
    value = row.scores.get(f"{card}.{metric}")
    if value is None and metric == main_metric:
        value = row.scores.get(card)
    return value


def reference_views(suite: Suite, cards: dict[str, Card], components: list[ResolvedComponent]) -> list[ReferenceView]:
    views = []
    for row in suite.references:
        cells = {
            name: _score(row, name, card.main_metric, card.main_metric) for name, card in cards.items() if name in suite.cards
        }
        aggregate, source = row.aggregate, ("published" if row.aggregate is not None else None)
        if aggregate is None:
            values = []
            for comp in components:
                main = cards[comp.card].main_metric if comp.card in cards else None
                # one split per reference row: a component averaged over several splits cannot be rebuilt
                lookup = (lambda split, metric, c=comp.card, m=main: _score(row, c, metric, m)) if len(comp.splits) == 1 else (lambda s, m: None)
                values.append(comp.value_from(lookup))
            aggregate = combine(suite, values)
            source = "computed" if aggregate is not None else None
        views.append(ReferenceView(row.model, row.source, row.split, row.notes, cells, aggregate, source))
    return views


def normalise(name: str) -> str:
    """Lower-case letters and digits only, from the last path part (`hf:org/mBERT` -> `mbert`)."""
    base = name.split("=", 1)[0] if "=" in name.split(":", 1)[0] else name
    base = re.split(r"[:/\\]", base.rstrip("/"))[-1]
    return re.sub(r"[^a-z0-9]+", "", base.lower())


def deltas(board, matches: dict[str, str]) -> list[DeltaRow]:
    """Deltas for every (measured row, reference row) pair that `matches` names or whose names agree."""
    from polyglue.errors import UserError

    by_model = {ref.model: ref for ref in board.references}
    for label, model in matches.items():
        if model not in by_model:
            known = ", ".join(by_model) or "none"
            raise UserError(f"--match {label}={model}: suite '{board.suite}' has no reference row '{model}' (known: {known})")
        if not any(row.encoder == label for row in board.rows):
            known = ", ".join(sorted({row.encoder for row in board.rows})) or "none"
            raise UserError(f"--match {label}={model}: no measured row '{label}' in suite '{board.suite}' (rows: {known})")
    out = []
    for row in board.rows:
        if not row.comparable or row.debug:
            continue  # a number computed differently from the recipe is not set against the published one
        wanted = matches.get(row.encoder)
        for ref in board.references:
            if (wanted is not None and ref.model != wanted) or (wanted is None and normalise(ref.model) != normalise(row.encoder)):
                continue
            cells = {}
            for name in board.cards:
                mean, published = row.cells[name].mean, ref.cells.get(name)
                cells[name] = None if mean is None or published is None else mean - published
            agg = None
            if row.aggregate.mean is not None and ref.aggregate is not None:
                agg = row.aggregate.mean - ref.aggregate
            mismatch = [n for n in board.cards if cells[n] is not None and board.split_of(n) != ref.split]
            out.append(
                DeltaRow(model=row.encoder, protocol=row.protocol, reference=ref.model, source=ref.source,
                         cells=cells, aggregate=agg, split_mismatch=mismatch)
            )
    return out
