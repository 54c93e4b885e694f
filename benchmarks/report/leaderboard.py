"""Leaderboards from the store: one row per (encoder, protocol), one column per card.

Only units that match the current card and suite definitions count (card content hash,
suite version): results of an edited card never mix with the new ones.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from benchmarks.cards.registry import Registry
from benchmarks.cards.schema import Card, Suite
from benchmarks.report.aggregate import aggregate_label, aggregate_value, display, resolve_components


@dataclass
class Cell:
    """Per-seed values of one number, in display units."""

    values: list[float] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        return statistics.stdev(self.values) if len(self.values) > 1 else None

    def render(self, digits: int = 2) -> str:
        if not self.values:
            return "–"
        text = f"{self.mean:.{digits}f}"
        if self.std is not None:
            text += f" ± {self.std:.{digits}f}"
        return text


@dataclass
class Row:
    encoder: str
    protocol: str
    cells: dict[str, Cell]
    aggregate: Cell
    units: list[dict]


@dataclass
class Leaderboard:
    suite: str
    version: str
    title: str
    cards: list[str]
    columns: list[str]
    """What each card column shows: `card: metric on split`."""
    aggregate_name: str
    rows: list[Row]
    stale: int = 0


def definitions(registry: Registry, store, suite_name: str) -> tuple[Suite, dict[str, Card]]:
    """The suite and its cards: from the card directories when known there, else as stored with the results."""
    if suite_name in registry.suites:
        return registry.suite(suite_name).suite, {e.card.name: e.card for e in registry.suite_cards(suite_name)}
    body = store.definition("suite", suite_name)
    if body is None:
        registry.suite(suite_name)  # raises the usual unknown-suite error with suggestions
    suite = Suite.model_validate(body)
    cards = {}
    for name in suite.cards:
        card_body = store.definition("card", name)
        if card_body is not None:
            cards[name] = Card.model_validate(card_body)
    return suite, cards


def build(suite: Suite, cards: dict[str, Card], store_units: list[dict]) -> Leaderboard:
    """The leaderboard of `suite` from stored unit rows."""
    hashes = {name: card.content_hash()[:16] for name, card in cards.items()}
    current = [
        u for u in store_units
        if u["suite"] == suite.name and u["suite_version"] == suite.version and hashes.get(u["card"]) == u["card_hash"]
    ]
    stale = sum(1 for u in store_units if u["suite"] == suite.name) - len(current)
    components = resolve_components(suite, cards)

    groups: dict[tuple[str, str], list[dict]] = {}
    for unit in current:
        if unit["card"] not in cards:
            continue
        groups.setdefault((unit["encoder"], unit["protocol"]), []).append(unit)

    rows = []
    for (encoder, protocol), units in sorted(groups.items()):
        cells = {name: Cell() for name in cards}
        by_seed: dict[int, dict[str, dict]] = {}
        for unit in units:
            card = cards[unit["card"]]
            value = unit["metrics"].get(card.report_split, {}).get(card.main_metric)
            if value is not None:
                cells[card.name].values.append(display(card.main_metric, value))
                cells[card.name].seeds.append(unit["seed"])
            by_seed.setdefault(unit["seed"], {})[card.name] = unit["metrics"]
        agg = Cell()
        for seed, per_card in sorted(by_seed.items()):
            value = aggregate_value(suite, components, per_card)
            if value is not None:
                agg.values.append(value)
                agg.seeds.append(seed)
        rows.append(Row(encoder, protocol, cells, agg, units))
    rows.sort(key=lambda r: -(r.aggregate.mean if r.aggregate.mean is not None else float("-inf")))
    shown = [n for n in suite.cards if n in cards]
    columns = [f"{n}: {cards[n].main_metric} on {cards[n].report_split}" for n in shown]
    return Leaderboard(suite.name, suite.version, suite.title, shown, columns, aggregate_label(suite), rows, stale)


def render_markdown(board: Leaderboard) -> str:
    head = ["model", "protocol", board.aggregate_name, *board.cards]
    lines = [
        f"### {board.title} (`{board.suite}` v{board.version})",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|",
    ]
    for row in board.rows:
        cells = [row.encoder.replace("|", "\\|"), row.protocol, row.aggregate.render()]
        cells += [row.cells[c].render() for c in board.cards]
        lines.append("| " + " | ".join(cells) + " |")
    if not board.rows:
        lines.append("| (no finished units) |" + " |" * (len(head) - 1))
    seeds = sorted({len(r.cells[c].values) for r in board.rows for c in board.cards if r.cells[c].values})
    note = "Values: mean over seeds" + (" ± standard deviation" if any(s > 1 for s in seeds) else "") + "; percentages unless the metric is raw."
    lines += ["", note, "Columns: " + "; ".join(board.columns) + "."]
    if board.stale:
        lines.append(f"{board.stale} stored unit(s) of older card or suite versions are not shown.")
    return "\n".join(lines)
