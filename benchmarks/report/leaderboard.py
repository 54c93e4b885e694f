"""Leaderboards from the store: one row per (encoder, protocol), one column per card.

Only units that match the current card and suite definitions count (card content hash,
suite version): results of an edited card never mix with the new ones. Every number keeps
its per-seed values, so mean, spread and confidence come from the same place, and the
provenance (card versions, dataset revisions, environments) travels with the board.

Debug units (`--limit`, `--max-steps`: smoke tests) are never results: they are left out of
rows, aggregates and seed statistics unless `include_debug` asks for them, and then they form
their own rows, labelled, never mixed with the full units. Units that ran something other
than the card's recipe (`comparable: false`) form their own rows too, marked "not
comparable" with the reasons, and get no delta against a published row.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from polyglue.cards.registry import Registry
from polyglue.cards.schema import Card, Suite
from polyglue.runs.comparability import of_unit
from polyglue.runs.protocol import row_protocol
from polyglue.report.aggregate import (
    ResolvedComponent,
    aggregate_label,
    aggregate_value,
    display,
    resolve_components,
)
from polyglue.report.references import ReferenceView, deltas, reference_views
from polyglue.report.schema import DeltaRow
from polyglue.report.statistics import SeedStats

Cell = SeedStats
"""Kept for callers of the first leaderboard: a cell is the per-seed statistics of one number."""


@dataclass
class Row:
    encoder: str
    protocol: str
    cells: dict[str, SeedStats]
    aggregate: SeedStats
    units: list[dict]
    superseded: int = 0
    """Older duplicates of a (card, seed) in this row that a newer unit replaced."""
    debug: bool = False
    """A smoke-test row (`--limit`, `--max-steps`); shown only with `include_debug`."""
    comparable: bool = True
    reasons: list[str] = field(default_factory=list)
    """Why the row is not comparable with published numbers (empty when it is)."""

    @property
    def status(self) -> str:
        """`comparable`, `not comparable` or `debug` (a debug row is never comparable)."""
        return "debug" if self.debug else "comparable" if self.comparable else "not comparable"

    @property
    def seeds(self) -> list[int]:
        return sorted({u["seed"] for u in self.units})

    @property
    def encoder_identities(self) -> list[str]:
        return sorted({u["encoder_identity"] for u in self.units})


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
    suite_def: Suite | None = None
    card_defs: dict[str, Card] = field(default_factory=dict)
    components: list[ResolvedComponent] = field(default_factory=list)
    references: list[ReferenceView] = field(default_factory=list)
    deltas: list[DeltaRow] = field(default_factory=list)
    debug_units: int = 0
    """Debug units of current cards left out of the rows (shown with `include_debug`)."""
    include_debug: bool = False

    @property
    def aggregate_definition(self) -> str:
        """`official` (the benchmark's own score) or `polyglue` (this kit's, e.g. a plain mean)."""
        agg = self.suite_def.aggregate if self.suite_def else None
        return agg.definition if agg else "polyglue"

    def metric_of(self, card: str) -> str:
        return self.card_defs[card].main_metric

    def split_of(self, card: str) -> str:
        return self.card_defs[card].report_split

    def units(self) -> list[dict]:
        return [u for row in self.rows for u in row.units]


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


def current_units(suite: Suite, cards: dict[str, Card], store_units: list[dict]) -> tuple[list[dict], int]:
    """Units of `suite` that match the current suite version and card hashes, and how many stale ones were left out."""
    hashes = {name: card.content_hash()[:16] for name, card in cards.items()}
    mine = [u for u in store_units if u["suite"] == suite.name]
    current = [u for u in mine if u["suite_version"] == suite.version and hashes.get(u["card"]) == u["card_hash"]]
    return current, len(mine) - len(current)


def _latest_per_card_seed(units: list[dict]) -> tuple[list[dict], int]:
    """One unit per (card, seed, data seed): the most recently finished (another protocol setting of the
    same row). Units of an init × data seed grid (`--data-seeds`) are all kept: each is one trial."""
    best: dict[tuple[str, int, int | None], dict] = {}
    for unit in sorted(units, key=lambda u: (u.get("finished_at") or "", u["key"])):
        best[(unit["card"], unit["seed"], (unit.get("protocol_config") or {}).get("data_seed"))] = unit
    return list(best.values()), len(units) - len(best)


def build(
    suite: Suite, cards: dict[str, Card], store_units: list[dict], matches: dict[str, str] | None = None, *, include_debug: bool = False
) -> Leaderboard:
    """The leaderboard of `suite` from stored unit rows; `matches` pairs row labels with reference rows for deltas.

    Debug units are left out (counted in `debug_units`) unless `include_debug`.
    """
    current, stale = current_units(suite, cards, store_units)
    components = resolve_components(suite, cards)

    groups: dict[tuple[str, str, bool, bool], list[dict]] = {}
    debug_units = 0
    for unit in current:
        if unit["card"] not in cards:
            continue
        mark = of_unit(unit)
        if mark["debug"] and not include_debug:
            debug_units += 1
            continue
        comparable = mark["comparable"] and not mark["debug"]
        groups.setdefault((unit["encoder"], row_protocol(unit["protocol"]), mark["debug"], comparable), []).append(unit)

    rows = []
    for (encoder, protocol, debug, comparable), group in sorted(groups.items()):
        units, superseded = _latest_per_card_seed(group)
        reasons = list(dict.fromkeys(r for u in units for r in of_unit(u)["reasons"]))
        cells = {name: SeedStats() for name in cards}
        by_seed: dict[int, dict[str, dict]] = {}
        for unit in sorted(units, key=lambda u: u["seed"]):
            card = cards[unit["card"]]
            value = unit["metrics"].get(card.report_split, {}).get(card.main_metric)
            if value is not None:
                cells[card.name].add(unit["seed"], display(card.main_metric, value))
            by_seed.setdefault(unit["seed"], {})[card.name] = unit["metrics"]
        agg = SeedStats()
        for seed, per_card in sorted(by_seed.items()):
            value = aggregate_value(suite, components, per_card)
            if value is not None:
                agg.add(seed, value)
        rows.append(Row(encoder, protocol, cells, agg, units, superseded, debug=debug, comparable=comparable, reasons=reasons))
    # Comparable rows first (ranked), then not-comparable ones, then debug rows: a smoke test never tops a board.
    rows.sort(key=lambda r: (r.debug, not r.comparable, -(r.aggregate.mean if r.aggregate.mean is not None else float("-inf")), r.encoder, r.protocol))
    shown = [n for n in suite.cards if n in cards]
    columns = [f"{n}: {cards[n].main_metric} on {cards[n].report_split}" for n in shown]
    refs = reference_views(suite, cards, components)
    board = Leaderboard(
        suite.name, suite.version, suite.title, shown, columns, aggregate_label(suite), rows, stale,
        suite_def=suite, card_defs=cards, components=components, references=refs,
        debug_units=debug_units, include_debug=include_debug,
    )
    board.deltas = deltas(board, matches or {})
    return board


def render_markdown(board: Leaderboard, spread: str = "ci") -> str:
    """A README-ready table: measured rows, then published reference rows and deltas, then notes."""
    from polyglue.report.formats import leaderboard_markdown

    return leaderboard_markdown(board, spread=spread)
