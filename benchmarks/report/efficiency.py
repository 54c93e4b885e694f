"""The efficiency view of a suite: score beside cost, one row per (card, encoder, protocol).

Fine-tuned, LoRA and probed text units and speech units store `extras["efficiency"]`
(`polyglue.efficiency`, measured on the unit's whole inference path): parameters, latency
per example at batch 1, throughput at the batch size each unit records, peak memory and FLOPs per
example. This view puts the card's main score (report split, mean over seeds) beside the
mean of each figure over the same seeds, in md, csv, json and html (with a
score-against-FLOPs chart). Units without figures (stored before they were measured, or
runners that measure none) show empty cells rather than invented numbers.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from polyglue.cards import vocab
from polyglue.cards.schema import Card, Suite

#: Column -> (header, where the value is in the efficiency record).
COLUMNS = {
    "params_total": ("parameters", ("parameters", "total")),
    "params_trainable": ("trainable", ("parameters", "trainable")),
    "latency_ms_batch1": ("latency ms (batch 1)", ("latency_ms_batch1",)),
    "throughput_per_s": ("examples/s", ("throughput_per_s",)),
    "peak_memory_mb": ("peak memory MB", ("peak_memory_mb",)),
    "flops_per_example": ("FLOPs/example", ("flops_per_example",)),
}


@dataclass
class EfficiencyRow:
    card: str
    encoder: str
    protocol: str
    metric: str
    split: str
    score: float | None
    seeds: list[int]
    figures: dict[str, float | None] = field(default_factory=dict)
    device: str | None = None
    throughput_batch_size: int | None = None

    def to_dict(self) -> dict:
        return {
            "card": self.card, "encoder": self.encoder, "protocol": self.protocol, "metric": self.metric, "split": self.split,
            "score": self.score, "seeds": self.seeds, **self.figures, "device": self.device,
            "throughput_batch_size": self.throughput_batch_size,
        }


def _dig(record: dict, path: tuple[str, ...]):
    for key in path:
        if not isinstance(record, dict) or key not in record:
            return None
        record = record[key]
    return record


def _mean(values: list) -> float | None:
    values = [v for v in values if isinstance(v, (int, float))]
    return statistics.fmean(values) if values else None


def efficiency_rows(suite: Suite, cards: dict[str, Card], store_units: list[dict]) -> list[EfficiencyRow]:
    from polyglue.report.leaderboard import current_units

    current, _ = current_units(suite, cards, store_units)
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for unit in current:
        if unit["card"] in cards:
            groups.setdefault((unit["card"], unit["encoder"], unit["protocol"]), []).append(unit)
    rows = []
    order = {name: i for i, name in enumerate(suite.cards)}
    for (card_name, encoder, protocol), units in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 0), kv[0][1], kv[0][2])):
        card = cards[card_name]
        # `parameters` alone when a unit has no measured figures (counted by the lora protocol)
        records = [{"parameters": (u.get("extras") or {}).get("parameters"), **((u.get("extras") or {}).get("efficiency") or {})} for u in units]
        scores = [u["metrics"].get(card.report_split, {}).get(card.main_metric) for u in units]
        figures = {col: _mean([_dig(r, path) for r in records]) for col, (_, path) in COLUMNS.items()}
        devices = sorted({r["device"] for r in records if r.get("device")})
        batch = next((r["throughput_batch_size"] for r in records if r.get("throughput_batch_size")), None)
        mean = _mean(scores)
        rows.append(EfficiencyRow(
            card_name, encoder, protocol, card.main_metric, card.report_split,
            vocab.display_value(card.main_metric, mean) if mean is not None else None,
            sorted(u["seed"] for u in units), figures, ", ".join(devices) or None, batch,
        ))
    return rows


def _fmt(col: str, value: float | None) -> str:
    if value is None:
        return ""
    if col in ("params_total", "params_trainable", "flops_per_example"):
        return f"{value:,.0f}"
    return f"{value:.2f}"


def efficiency_markdown(suite: str, rows: list[EfficiencyRow]) -> str:
    headers = ["card", "encoder", "protocol", "score"] + [h for h, _ in COLUMNS.values()] + ["device"]
    lines = [f"## {suite}: score and cost", "",
             "Score: the card's main metric on its report split, mean over seeds. FLOPs: torch's counter, 2 per multiply-add, batch 1.", "",
             "| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    for r in rows:
        score = "" if r.score is None else f"{r.score:.2f} {r.metric}"
        cells = [r.card, r.encoder, r.protocol, score] + [_fmt(c, r.figures.get(c)) for c in COLUMNS] + [r.device or ""]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def efficiency_csv(suite: str, rows: list[EfficiencyRow]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["suite", "card", "encoder", "protocol", "metric", "split", "score", *COLUMNS, "throughput_batch_size", "device", "seeds"])
    for r in rows:
        writer.writerow([suite, r.card, r.encoder, r.protocol, r.metric, r.split, "" if r.score is None else repr(r.score),
                         *["" if r.figures.get(c) is None else repr(r.figures[c]) for c in COLUMNS],
                         r.throughput_batch_size or "", r.device or "", " ".join(map(str, r.seeds))])
    return buffer.getvalue()


def efficiency_json(suite: str, rows: list[EfficiencyRow]) -> str:
    import json

    return json.dumps({"suite": suite, "columns": {c: h for c, (h, _) in COLUMNS.items()},
                       "rows": [r.to_dict() for r in rows]}, indent=2) + "\n"


def efficiency_chart(rows: list[EfficiencyRow]) -> str | None:
    """Base64 PNG: score against FLOPs per example (log scale), one panel per card."""
    shown = [r for r in rows if r.score is not None and r.figures.get("flops_per_example")]
    if not shown:
        return None
    from matplotlib.figure import Figure

    from polyglue.report.html import _mpl_text, _png

    by_card: dict[str, list[EfficiencyRow]] = {}
    for r in shown:
        by_card.setdefault(r.card, []).append(r)
    ncols = min(3, len(by_card))
    nrows = -(-len(by_card) // ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.0 * nrows), layout="constrained")
    for i, (card, group) in enumerate(by_card.items()):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        for r in group:
            ax.scatter([float(r.figures["flops_per_example"] or 0)], [float(r.score or 0)], label=_mpl_text(f"{r.encoder} ({r.protocol})"))
        ax.set_xscale("log")
        ax.set_xlabel("FLOPs per example", fontsize=8)
        ax.set_ylabel(_mpl_text(group[0].metric), fontsize=8)
        ax.set_title(_mpl_text(card, 30), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7)
    return _png(fig)


def efficiency_html(suite: str, rows: list[EfficiencyRow]) -> str:
    from polyglue.report.html import esc, page

    head = "".join(f"<th>{esc(h)}</th>" for h in ["card", "encoder", "protocol", "score", *[h for h, _ in COLUMNS.values()], "device"])
    body_rows = []
    for r in rows:
        cells = [r.card, r.encoder, r.protocol, "" if r.score is None else f"{r.score:.2f} {r.metric}"]
        cells += [_fmt(c, r.figures.get(c)) for c in COLUMNS] + [r.device or ""]
        body_rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    chart = efficiency_chart(rows)
    parts = [f"<h1>{esc(suite)}: score and cost</h1>"]
    if chart:
        parts.append(f'<img alt="score against FLOPs per example" src="data:image/png;base64,{chart}">')
    parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body_rows)}</tbody></table>")
    return page(f"{suite} — efficiency", "\n".join(parts))
