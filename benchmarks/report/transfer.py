"""The transfer view: in-distribution score, shifted score and the gap, for `train_from` cards.

A zero-shot card (AdvGLUE, XNLI-el from MNLI, XQuAD-ca) trains on another card and selects
its checkpoint on that card's validation split; the unit stores that validation score
(`extras["selection"]["score"]`) for the very model it then scores on the shifted set.
So the in-distribution and the shifted number come from one model, and the gap is their
difference (shifted − in-distribution, in display units; negative = the model loses).
Units without a recorded selection (weight-free baselines fitted in closed form) show the
shifted score alone. The suite's published rows (`references`, e.g. GLUE-X's released
per-data-set results) follow as protocol `(published)`, with their source.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from polyglue.cards import vocab
from polyglue.cards.schema import Card, Suite


@dataclass
class TransferRow:
    card: str
    train_from: str
    encoder: str
    protocol: str
    in_metric: str
    in_split: str
    in_distribution: float | None
    metric: str
    split: str
    shifted: float | None
    seeds: list[int]
    source: str | None = None
    """Set on published rows (the suite's `references`): where the number comes from."""

    @property
    def gap(self) -> float | None:
        if self.in_distribution is None or self.shifted is None:
            return None
        return self.shifted - self.in_distribution

    def to_dict(self) -> dict:
        return {**self.__dict__, "gap": self.gap}


def _mean(values: list) -> float | None:
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.fmean(values) if values else None


def transfer_rows(suite: Suite, cards: dict[str, Card], store_units: list[dict]) -> list[TransferRow]:
    from polyglue.report.leaderboard import current_units

    current, _ = current_units(suite, cards, store_units)
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for unit in current:
        card = cards.get(unit["card"])
        if card is not None and card.train_from:
            groups.setdefault((unit["card"], unit["encoder"], unit["protocol"]), []).append(unit)
    rows = []
    for (name, encoder, protocol), units in sorted(groups.items()):
        card = cards[name]
        selections = [(u.get("extras") or {}).get("selection") or {} for u in units]
        in_metric = next((s["metric"] for s in selections if s.get("metric")), card.main_metric)
        in_split = next((s["on"] for s in selections if s.get("on")), f"{card.train_from} validation")
        inside = _mean([s.get("score") for s in selections if "score" in s])
        shifted = _mean([u["metrics"].get(card.report_split, {}).get(card.main_metric) for u in units])
        rows.append(TransferRow(
            name, card.train_from or "", encoder, protocol, in_metric, in_split,
            vocab.display_value(in_metric, inside) if inside is not None else None,
            card.main_metric, card.report_split,
            vocab.display_value(card.main_metric, shifted) if shifted is not None else None,
            sorted(u["seed"] for u in units),
        ))
    return rows + published_rows(suite, cards)


def published_rows(suite: Suite, cards: dict[str, Card]) -> list[TransferRow]:
    """The suite's published rows for its `train_from` cards: the shifted score as the reference
    states it (main metric; in-distribution and gap only where a measured row has them)."""
    out = []
    for ref in suite.references:
        for name in suite.cards:
            card = cards.get(name)
            if card is None or not card.train_from:
                continue
            value = ref.scores.get(name, ref.scores.get(f"{name}.{card.main_metric}"))
            if value is None:
                continue
            notes = f"; {ref.notes}" if ref.notes else ""
            out.append(TransferRow(name, card.train_from, ref.model, "(published)", card.main_metric, "", None,
                                   card.main_metric, ref.split, float(value), [], source=f"{ref.source}{notes}"))
    return out


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def transfer_markdown(suite: str, rows: list[TransferRow]) -> str:
    lines = [f"## {suite}: in-distribution vs shifted", "",
             "In-distribution: the training card's validation score of the selected checkpoint; shifted: this card's score of the same model; gap = shifted − in-distribution.", "",
             "| card | trained on | encoder | protocol | in-distribution | shifted | gap |", "|---|---|---|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r.card} | {r.train_from} | {r.encoder} | {r.protocol} | {_f(r.in_distribution)} {r.in_metric if r.in_distribution is not None else ''} | "
                     f"{_f(r.shifted)} {r.metric} | {'' if r.gap is None else f'{r.gap:+.2f}'} |")
    if not rows:
        lines.append("| (no unit of a card with `train_from`) | | | | | | |")
    sources = list(dict.fromkeys(f"{r.encoder}: {r.source}" for r in rows if r.source))
    if sources:
        lines += ["", "Published rows: " + " ".join(f"{s}" for s in sources)]
    return "\n".join(lines) + "\n"


def transfer_csv(suite: str, rows: list[TransferRow]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["suite", "card", "train_from", "encoder", "protocol", "in_metric", "in_split", "in_distribution", "metric", "split", "shifted", "gap", "seeds", "source"])
    for r in rows:
        writer.writerow([suite, r.card, r.train_from, r.encoder, r.protocol, r.in_metric, r.in_split,
                         "" if r.in_distribution is None else repr(r.in_distribution), r.metric, r.split,
                         "" if r.shifted is None else repr(r.shifted), "" if r.gap is None else repr(r.gap), " ".join(map(str, r.seeds)), r.source or ""])
    return buffer.getvalue()


def transfer_json(suite: str, rows: list[TransferRow]) -> str:
    import json

    return json.dumps({"suite": suite, "rows": [r.to_dict() for r in rows]}, indent=2) + "\n"


def transfer_html(suite: str, rows: list[TransferRow]) -> str:
    from polyglue.report.html import esc, page

    return page(f"{suite} — transfer", f"<h1>{esc(suite)}: in-distribution vs shifted</h1>\n<pre>{esc(transfer_markdown(suite, rows))}</pre>")
