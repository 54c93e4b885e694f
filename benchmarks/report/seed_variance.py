"""The seed view (`bench report --columns seeds`): weight-initialisation vs data-order variance.

Dodge et al. (2020, arXiv 2002.06305) fine-tune with two seeds, one for the new head's weights
and one for the order of the training data, run every pair, and find that both contribute
comparably. `bench run --seeds N --data-seeds a,b,c` stores such an init × data grid (the init
seed is the unit's seed, the data seed `protocol_config["data_seed"]`; a unit without one used
its seed for both). Per (card, encoder, protocol) this view reports, on the card's main metric
and report split, in display units:

* `init_variance`: the variance across init seeds with the data seed fixed, averaged over data seeds;
* `data_variance`: the variance across data seeds with the init seed fixed, averaged over init seeds;
* `total_variance`: the variance over every cell of the grid.

All are sample variances (n − 1); a slice with one value contributes nothing. The expected best
score (Dodge et al. 2019, `polyglue.report.expected_max.curve`) is given for each source apart:
over n init seeds with the data seed fixed, and over n data seeds with the init seed fixed, each
averaged over the other seed's values (complete slices only).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from polyglue.cards import vocab
from polyglue.cards.schema import Card, Suite


def _var(values: list[float]) -> float | None:
    return statistics.variance(values) if len(values) >= 2 else None


def _mean(values: list) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def decompose(grid: dict[tuple[int, int], float]) -> dict:
    """Variance components of an init × data grid `{(init seed, data seed): score}`."""
    inits = sorted({i for i, _ in grid})
    datas = sorted({d for _, d in grid})
    across_init = [_var([grid[i, d] for i in inits if (i, d) in grid]) for d in datas]
    across_data = [_var([grid[i, d] for d in datas if (i, d) in grid]) for i in inits]
    return {
        "init_seeds": inits, "data_seeds": datas, "cells": len(grid), "complete": len(grid) == len(inits) * len(datas),
        "init_variance": _mean(across_init), "data_variance": _mean(across_data), "total_variance": _var(list(grid.values())),
    }


def _mean_curve(slices: list[list[float]], higher: bool) -> list[dict]:
    """The expected-best curve of each slice (same length only), averaged point by point."""
    from polyglue.report.expected_max import curve

    longest = max((len(s) for s in slices), default=0)
    usable = [s for s in slices if len(s) == longest and longest >= 2]
    if not usable:
        return []
    curves = [curve(s, higher=higher) for s in usable]
    return [{"n": n + 1, "expected": statistics.fmean(c[n]["expected"] for c in curves), "slices": len(curves)} for n in range(longest)]


def source_curves(grid: dict[tuple[int, int], float], higher: bool) -> dict[str, list[dict]]:
    """Expected best score over n init seeds (data fixed) and over n data seeds (init fixed)."""
    inits = sorted({i for i, _ in grid})
    datas = sorted({d for _, d in grid})
    return {
        "init": _mean_curve([[grid[i, d] for i in inits if (i, d) in grid] for d in datas], higher),
        "data": _mean_curve([[grid[i, d] for d in datas if (i, d) in grid] for i in inits], higher),
    }


@dataclass
class SeedRow:
    card: str
    encoder: str
    protocol: str
    metric: str
    split: str
    grid: dict[tuple[int, int], float]
    decomposition: dict = field(default_factory=dict)
    curves: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "card": self.card, "encoder": self.encoder, "protocol": self.protocol, "metric": self.metric, "split": self.split,
            "grid": [{"init_seed": i, "data_seed": d, "score": v} for (i, d), v in sorted(self.grid.items())],
            **self.decomposition,
            "expected_best_over_init_seeds": self.curves.get("init", []),
            "expected_best_over_data_seeds": self.curves.get("data", []),
        }


def seed_rows(suite: Suite, cards: dict[str, Card], store_units: list[dict]) -> list[SeedRow]:
    from polyglue.metrics import higher_is_better
    from polyglue.report.leaderboard import current_units

    current, _ = current_units(suite, cards, store_units)
    groups: dict[tuple[str, str, str], dict[tuple[int, int], list[float]]] = {}
    for unit in current:
        card = cards.get(unit["card"])
        if card is None:
            continue
        value = (unit.get("metrics") or {}).get(card.report_split, {}).get(card.main_metric)
        if value is None:
            continue
        data = (unit.get("protocol_config") or {}).get("data_seed")
        cell = (int(unit["seed"]), int(unit["seed"] if data is None else data))
        groups.setdefault((unit["card"], unit["encoder"], unit["protocol"]), {}).setdefault(cell, []).append(
            vocab.display_value(card.main_metric, value))
    order = {name: i for i, name in enumerate(suite.cards)}
    rows = []
    for (name, encoder, protocol), cells in sorted(groups.items(), key=lambda kv: (order.get(kv[0][0], 0), kv[0][1], kv[0][2])):
        if len(cells) < 2:
            continue
        card = cards[name]
        grid = {cell: statistics.fmean(values) for cell, values in cells.items()}  # another setting of the same cell: its mean
        rows.append(SeedRow(name, encoder, protocol, card.main_metric, card.report_split, grid, decompose(grid),
                            source_curves(grid, higher_is_better(card.main_metric))))
    return rows


def _f(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def seeds_markdown(suite: str, rows: list[SeedRow]) -> str:
    lines = [f"## {suite}: initialisation vs data-order seed variance", "",
             "Variances of the main metric (display units²) on the report split: across init seeds with the data seed fixed, "
             "across data seeds with the init seed fixed (each averaged over the other seed), and over the whole grid (Dodge et al. 2020).", "",
             "| card | encoder | protocol | init seeds | data seeds | cells | var(init) | var(data) | var(total) |", "|---|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        d = r.decomposition
        lines.append(f"| {r.card} | {r.encoder} | {r.protocol} | {len(d['init_seeds'])} | {len(d['data_seeds'])} | {d['cells']}{'' if d['complete'] else ' (incomplete)'} | "
                     f"{_f(d['init_variance'])} | {_f(d['data_variance'])} | {_f(d['total_variance'])} |")
    if not rows:
        lines.append("| (no card with two or more seed cells; run with --seeds N --data-seeds a,b) | | | | | | | | |")
    return "\n".join(lines) + "\n"


def seeds_csv(suite: str, rows: list[SeedRow]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["suite", "card", "encoder", "protocol", "metric", "split", "init_seeds", "data_seeds", "cells", "complete",
                     "init_variance", "data_variance", "total_variance"])
    for r in rows:
        d = r.decomposition
        writer.writerow([suite, r.card, r.encoder, r.protocol, r.metric, r.split, " ".join(map(str, d["init_seeds"])),
                         " ".join(map(str, d["data_seeds"])), d["cells"], d["complete"],
                         *["" if d[k] is None else repr(d[k]) for k in ("init_variance", "data_variance", "total_variance")]])
    return buffer.getvalue()


def seeds_json(suite: str, rows: list[SeedRow]) -> str:
    import json

    return json.dumps({"suite": suite, "rows": [r.to_dict() for r in rows]}, indent=2) + "\n"


def seeds_chart(rows: list[SeedRow]) -> str | None:
    """Base64 PNG, one panel per row: the expected best score over n init seeds and over n data seeds."""
    shown = [r for r in rows if r.curves.get("init") or r.curves.get("data")]
    if not shown:
        return None
    from matplotlib.figure import Figure

    from polyglue.report.html import _mpl_text, _png

    ncols = min(3, len(shown))
    nrows = -(-len(shown) // ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.0 * nrows), layout="constrained")
    for k, r in enumerate(shown):
        ax = fig.add_subplot(nrows, ncols, k + 1)
        for source, label in (("init", "init seeds (data fixed)"), ("data", "data seeds (init fixed)")):
            points = r.curves.get(source) or []
            if points:
                ax.plot([p["n"] for p in points], [p["expected"] for p in points], marker="o", label=label)
        ax.set_xlabel("seeds tried", fontsize=8)
        ax.set_ylabel(_mpl_text(f"expected best {r.metric}"), fontsize=8)
        ax.set_title(_mpl_text(f"{r.card} · {r.encoder} ({r.protocol})", 40), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7)
    return _png(fig)


def seeds_html(suite: str, rows: list[SeedRow]) -> str:
    from polyglue.report.html import esc, page

    headers = ["card", "encoder", "protocol", "init seeds", "data seeds", "cells", "var(init)", "var(data)", "var(total)"]
    body = []
    for r in rows:
        d = r.decomposition
        cells = [r.card, r.encoder, r.protocol, str(len(d["init_seeds"])), str(len(d["data_seeds"])), str(d["cells"]),
                 _f(d["init_variance"]), _f(d["data_variance"]), _f(d["total_variance"])]
        body.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + "</tr>")
    parts = [f"<h1>{esc(suite)}: initialisation vs data-order seed variance</h1>",
             "<p>Sample variances of the main metric on the report split (Dodge et al. 2020).</p>"]
    chart = seeds_chart(rows)
    if chart:
        parts.append(f'<img alt="expected best score against seeds tried, per seed source" src="data:image/png;base64,{chart}">')
    parts.append("<table><thead><tr>" + "".join(f"<th>{esc(h)}</th>" for h in headers) + f"</tr></thead><tbody>{''.join(body)}</tbody></table>")
    return page(f"{suite} — seeds", "\n".join(parts))
