"""Suite aggregates as the suite card defines them (GLUE score, CLUE score, SUPERB-style, mean).

Nothing about any particular benchmark lives here: the suite's `aggregate` block lists
components (card, metrics, splits, optional rescaling) and a scale; a component is the
mean of its metrics over its splits, in display units; the aggregate is the mean of the
components times the scale.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyglue.cards import vocab
from polyglue.cards.schema import Aggregate, AggregateComponent, Card, Suite


display = vocab.display_value
"""Kept as the report's name for the vocabulary's display rule."""


@dataclass(frozen=True)
class ResolvedComponent:
    card: str
    metrics: tuple[str, ...]
    splits: tuple[str, ...]
    rescale: tuple[float, float] | None

    def value(self, unit_metrics: dict[str, dict[str, float]]) -> float | None:
        """This component for one unit's metrics (split -> metric -> fraction); None if any part is missing."""

        def lookup(split: str, metric: str) -> float | None:
            v = unit_metrics.get(split, {}).get(metric)
            return None if v is None else display(metric, v)

        return self.value_from(lookup)

    def value_from(self, lookup) -> float | None:
        """This component from `lookup(split, metric)` -> value in display units (None when missing)."""
        values = []
        for split in self.splits:
            for metric in self.metrics:
                v = lookup(split, metric)
                if v is None:
                    return None
                values.append(v)
        if not values:
            return None
        mean = sum(values) / len(values)
        if self.rescale is not None:
            low, high = self.rescale
            mean = (mean - low) / (high - low)
        return mean


def resolve_components(suite: Suite, cards: dict[str, Card]) -> list[ResolvedComponent]:
    agg: Aggregate = suite.aggregate or Aggregate(name="mean", definition="polyglue", scale=1.0)
    comps: list[AggregateComponent] = agg.components or [AggregateComponent(card=c) for c in suite.cards]
    out = []
    for comp in comps:
        card = cards.get(comp.card)
        # A card with no known definition still counts: its component stays missing, so the
        # aggregate is reported as missing instead of silently averaging fewer components.
        out.append(
            ResolvedComponent(
                card=comp.card,
                metrics=tuple(comp.metrics or ([card.main_metric] if card else [])),
                splits=tuple(comp.splits or ([card.report_split] if card else [])),
                rescale=(comp.rescale.low, comp.rescale.high) if comp.rescale else None,
            )
        )
    return out


def aggregate_value(suite: Suite, components: list[ResolvedComponent], per_card: dict[str, dict]) -> float | None:
    """The aggregate from one set of unit metrics per card (card -> split -> metric -> fraction)."""
    values = []
    for comp in components:
        if comp.card not in per_card:
            return None
        values.append(comp.value(per_card[comp.card]))
    return combine(suite, values)


def combine(suite: Suite, component_values: list[float | None]) -> float | None:
    """The suite score from its component values: their mean times the suite's scale; None if any is missing."""
    if not component_values or any(v is None for v in component_values):
        return None
    scale = suite.aggregate.scale if suite.aggregate else 1.0
    return scale * sum(v for v in component_values if v is not None) / len(component_values)


def aggregate_label(suite: Suite) -> str:
    if suite.aggregate is None:
        return "mean (polyglue)"
    return suite.aggregate.name + (" (polyglue)" if suite.aggregate.definition == "polyglue" else "")
