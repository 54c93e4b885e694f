"""Expected validation performance as a function of the tuning budget (Dodge et al. 2019).

"Show Your Work" (EMNLP 2019, arXiv 1909.03004) reports, instead of the best of N trials,
the expected best validation score after n ≤ N trials drawn from the N observed ones:
with the scores sorted v_(1) ≤ … ≤ v_(N),

    E[max_n] = Σ_i v_(i) · [F(i) − F(i−1)],   F(i) = (i/N)^n   (draws with replacement, the paper's),

or F(i) = C(i, n) / C(N, n) when the n trials are drawn without replacement (allentune's
option). At n = 1 both equal the mean; at n = N without replacement it is the maximum.
The spread is sqrt(Σ_i p_i (v_(i) − E)^2), the paper's shaded band. For a metric where
lower is better (a word error rate), the expected *minimum* is computed the same way on
negated scores.

A trial is one (seed, hyperparameter value) the store holds: each value of a unit's
selection grid (`lr_grid` learning rates when fine-tuning, the regularisation grid of a
probe), scored on the selection split at its best epoch, for every seed. The estimate
assumes the trials are i.i.d. draws; on a fixed grid it answers "what would n random
picks from this grid and these seeds have given", which is how the paper uses it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from polyglue.cards.schema import Card, Suite
from polyglue.metrics import higher_is_better


def expected_max(scores: list[float], n: int, *, replacement: bool = True) -> float:
    """E[max of n trials] over the empirical distribution of `scores` (Dodge et al. 2019)."""
    return _curve_point(scores, n, replacement)[0]


def _cdf(i: int, n: int, total: int, replacement: bool) -> float:
    if replacement:
        return (i / total) ** n
    return math.comb(i, n) / math.comb(total, n)


def _curve_point(scores: list[float], n: int, replacement: bool) -> tuple[float, float]:
    values = sorted(scores)
    total = len(values)
    if total == 0:
        raise ValueError("no trials")
    if n < 1 or (not replacement and n > total):
        raise ValueError(f"n must be in 1..{total} (got {n})")
    probs = [_cdf(i, n, total, replacement) - _cdf(i - 1, n, total, replacement) for i in range(1, total + 1)]
    mean = sum(p * v for p, v in zip(probs, values))
    spread = math.sqrt(max(0.0, sum(p * (v - mean) ** 2 for p, v in zip(probs, values))))
    return mean, spread


def curve(scores: list[float], *, replacement: bool = True, higher: bool = True) -> list[dict]:
    """`[{"n", "expected", "spread"}]` for n = 1..N (the expected best: max, or min when lower is better)."""
    signed = [s if higher else -s for s in scores]
    out = []
    for n in range(1, len(scores) + 1):
        mean, spread = _curve_point(signed, n, replacement)
        out.append({"n": n, "expected": mean if higher else -mean, "spread": spread})
    return out


# --------------------------------------------------------------------------- trials from the store


def unit_trials(unit: dict) -> tuple[str, list[dict]]:
    """(hyperparameter name, trials) of one unit: every grid value's selection score at its best epoch."""
    selection = (unit.get("extras") or {}).get("selection") or {}
    metric = selection.get("metric")
    higher = higher_is_better(metric) if metric else True
    if "history" in selection:  # finetune / lora: learning rate -> per-epoch validation scores
        trials = []
        for lr, history in selection["history"].items():
            scores = [h["validation"] for h in history if h.get("validation") is not None and not math.isnan(h["validation"])]
            if scores:
                trials.append({"seed": unit["seed"], "data_seed": _data_seed(unit), "value": float(lr), "score": max(scores) if higher else min(scores)})
        return "learning_rate", trials
    if "validation_scores" in selection:  # probe: regularisation -> validation score
        name = selection.get("parameter", "parameter")
        trials = [
            {"seed": unit["seed"], "data_seed": _data_seed(unit), "value": _number(v), "score": s}
            for v, s in selection["validation_scores"].items() if s is not None and not math.isnan(s)
        ]
        return name, trials
    return "", []


def _data_seed(unit: dict) -> int:
    """The unit's data-order seed (`--data-seeds`), else its seed (both followed it)."""
    data = (unit.get("protocol_config") or {}).get("data_seed")
    return int(unit["seed"] if data is None else data)


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text


@dataclass
class BudgetCurve:
    card: str
    encoder: str
    protocol: str
    metric: str
    selected_on: str
    parameter: str
    higher_is_better: bool
    trials: list[dict] = field(default_factory=list)
    with_replacement: list[dict] = field(default_factory=list)
    without_replacement: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "card": self.card, "encoder": self.encoder, "protocol": self.protocol, "metric": self.metric,
            "selected_on": self.selected_on, "parameter": self.parameter, "higher_is_better": self.higher_is_better,
            "n_trials": len(self.trials), "seeds": sorted({t["seed"] for t in self.trials}),
            "data_seeds": sorted({t.get("data_seed", t["seed"]) for t in self.trials}),
            "values": sorted({t["value"] for t in self.trials}, key=str), "trials": self.trials,
            "expected_best": self.with_replacement, "expected_best_without_replacement": self.without_replacement,
        }


def budget_curves(suite: Suite, cards: dict[str, Card], store_units: list[dict]) -> list[BudgetCurve]:
    """One curve per (card, encoder, protocol) of the suite's current units that recorded a selection grid."""
    from polyglue.report.leaderboard import current_units

    current, _ = current_units(suite, cards, store_units)
    groups: dict[tuple[str, str, str], list[dict]] = {}
    for unit in current:
        groups.setdefault((unit["card"], unit["encoder"], unit["protocol"]), []).append(unit)
    out = []
    for (card, encoder, protocol), units in sorted(groups.items()):
        trials: list[dict] = []
        parameter = ""
        selection: dict = {}
        for unit in sorted(units, key=lambda u: u["seed"]):
            parameter, found = unit_trials(unit)
            trials += found
            selection = (unit.get("extras") or {}).get("selection") or selection
        if not trials:
            continue
        metric = selection.get("metric") or cards[card].main_metric
        higher = higher_is_better(metric)
        scores = [t["score"] for t in trials]
        out.append(BudgetCurve(
            card, encoder, protocol, metric, str(selection.get("on", "validation")), parameter, higher, trials,
            curve(scores, replacement=True, higher=higher), curve(scores, replacement=False, higher=higher),
        ))
    return out


# --------------------------------------------------------------------------- renderers


def curves_json(suite: str, curves: list[BudgetCurve]) -> str:
    import json

    return json.dumps({"suite": suite, "estimator": "Dodge et al. 2019, expected maximum validation score after n trials",
                       "curves": [c.to_dict() for c in curves]}, indent=2) + "\n"


def curves_csv(suite: str, curves: list[BudgetCurve]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["suite", "card", "encoder", "protocol", "metric", "selected_on", "n_trials", "n", "expected_best", "spread", "expected_best_without_replacement"])
    for c in curves:
        for a, b in zip(c.with_replacement, c.without_replacement):
            writer.writerow([suite, c.card, c.encoder, c.protocol, c.metric, c.selected_on, len(c.trials), a["n"],
                             repr(a["expected"]), repr(a["spread"]), repr(b["expected"])])
    return buffer.getvalue()


def curves_markdown(suite: str, curves: list[BudgetCurve]) -> str:
    from polyglue.cards import vocab

    lines = [f"## {suite}: expected best validation score after n trials (Dodge et al. 2019)", ""]
    if not curves:
        return "\n".join(lines + ["No unit recorded a selection grid (use `lr_grid` or several seeds)."]) + "\n"
    for c in curves:
        seeds = sorted({t["seed"] for t in c.trials})
        values = sorted({t["value"] for t in c.trials}, key=str)
        lines += [
            f"### {c.card} · {c.encoder} · {c.protocol}",
            "",
            f"{len(c.trials)} trials = {len(values)} {c.parameter} value(s) × {len(seeds)} seed(s); {c.metric} on {c.selected_on}.",
            "",
            "| n | expected best | ± | without replacement |",
            "|---|---|---|---|",
        ]
        for a, b in zip(c.with_replacement, c.without_replacement):
            lines.append(f"| {a['n']} | {vocab.format_value(c.metric, a['expected'])} | {vocab.format_value(c.metric, a['spread'])} | {vocab.format_value(c.metric, b['expected'])} |")
        lines.append("")
    return "\n".join(lines)


def curves_chart(curves: list[BudgetCurve]) -> str | None:
    """Base64 PNG: expected best score against the number of trials, one line and band per curve."""
    if not curves:
        return None
    from matplotlib.figure import Figure

    from polyglue.report.html import _mpl_text, _png

    by_card: dict[str, list[BudgetCurve]] = {}
    for c in curves:
        by_card.setdefault(c.card, []).append(c)
    ncols = min(3, len(by_card))
    nrows = -(-len(by_card) // ncols)
    fig = Figure(figsize=(4.2 * ncols, 3.0 * nrows), layout="constrained")
    for i, (card, group) in enumerate(sorted(by_card.items())):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        for c in group:
            xs = [p["n"] for p in c.with_replacement]
            ys = [p["expected"] for p in c.with_replacement]
            lo = [max(min(t["score"] for t in c.trials), y - p["spread"]) for y, p in zip(ys, c.with_replacement)]
            hi = [min(max(t["score"] for t in c.trials), y + p["spread"]) for y, p in zip(ys, c.with_replacement)]
            ax.plot(xs, ys, marker="o", markersize=3, label=_mpl_text(f"{c.encoder} ({c.protocol})"))
            ax.fill_between(xs, lo, hi, alpha=0.2)
        ax.set_xlabel("trials (n)", fontsize=8)
        ax.set_ylabel(_mpl_text(f"expected best {group[0].metric}"), fontsize=8)
        ax.set_title(_mpl_text(card, 30), fontsize=9)
        ax.tick_params(labelsize=8)
        ax.legend(fontsize=7)
    return _png(fig)


def curves_html(suite: str, curves: list[BudgetCurve]) -> str:
    from polyglue.report.html import esc, page

    chart = curves_chart(curves)
    body = [f"<h1>{esc(suite)}: expected best validation score after n trials</h1>",
            "<p>Dodge et al. 2019, “Show Your Work”: E[max of n trials drawn from the observed ones]; band: ± its spread, clipped to the observed range.</p>"]
    if chart:
        body.append(f'<img alt="expected best validation score against trials" src="data:image/png;base64,{chart}">')
    md = curves_markdown(suite, curves)
    body.append(f"<pre>{esc(md)}</pre>")
    return page(f"{suite} — expected validation performance", "\n".join(body))
