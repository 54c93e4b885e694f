"""A comparison (`bench compare`) as Markdown, CSV or JSON; HTML lives in `polyglue.report.html`."""

from __future__ import annotations

import csv
import io

from polyglue.report import schema as S
from polyglue.report.formats import csv_text, md_text

MARK = "✱"


def _p(value: float | None) -> str:
    if value is None:
        return "–"
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def verdict(diff: S.Difference, doc: S.ComparisonDocument) -> str:
    """`A better ✱`, `B better ✱` or `no significant difference`."""
    if not diff.significant:
        return "no significant difference"
    winner = doc.model_a if diff.better == "a" else doc.model_b
    return f"{winner} better {MARK}"


def grouped_skips(doc: S.ComparisonDocument) -> list[tuple[str, list[str]]]:
    """Skipped cards grouped by reason, in first-seen order."""
    groups: dict[str, list[str]] = {}
    for s in doc.skipped:
        groups.setdefault(s.reason, []).append(s.name)
    return list(groups.items())


def comparison_markdown(doc: S.ComparisonDocument) -> str:
    a, b = md_text(doc.model_a), md_text(doc.model_b)
    lines = [
        f"### {a} vs {b} on `{md_text(doc.suite)}` v{md_text(doc.suite_version)}",
        "",
        f"| card | metric (split) | seeds | examples | {a} | {b} | Δ (A − B) | 95% CI of Δ | p | p ({doc.correction}) | McNemar p (max over seeds) | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|",
    ]
    rows = list(doc.cards) + ([doc.aggregate] if doc.aggregate else [])
    for d in rows:
        label = f"**{md_text(d.name)}**" if d is doc.aggregate else md_text(d.name)
        where = "aggregate" if d is doc.aggregate else f"{md_text(d.metric)} ({md_text(d.split)})"
        lines.append(
            f"| {label} | {where} | {len(d.seeds)} | {d.n_examples} | {d.a:.2f} | {d.b:.2f} | {d.delta:+.2f} | "
            f"[{d.ci95[0]:+.2f}, {d.ci95[1]:+.2f}] | {_p(d.p_value)} | {_p(d.p_adjusted)} | {_p(d.mcnemar_p_max)} | {md_text(verdict(d, doc))} |"
        )
    lines += [
        "",
        f"A = {a} ({md_text(doc.protocol_a)}), B = {b} ({md_text(doc.protocol_b)}). Paired bootstrap over examples "
        f"({doc.n_bootstrap} resamples, seed {doc.rng_seed}); examples paired by split, id and seed; values are seed means in "
        f"display units. {MARK} marks p ({doc.correction}) < {doc.alpha:g}"
        + (" after Holm's correction over the cards" if doc.correction == "holm" else "")
        + "; the aggregate is one test and is not corrected. McNemar's test (single-label cards) counts examples only one "
        "model gets right; the largest p over seeds is shown.",
    ]
    for reason, names in grouped_skips(doc):
        lines.append(f"Not compared ({md_text(reason)}): {md_text(', '.join(names))}.")
    for note in doc.notes:
        lines.append(f"Warning: {md_text(note)}.")
    return "\n".join(lines)


COMPARISON_CSV_COLUMNS = [
    "suite", "suite_version", "model_a", "protocol_a", "model_b", "protocol_b", "name", "metric", "split", "seeds",
    "n_examples", "a", "b", "delta", "ci95_low", "ci95_high", "p_value", "p_adjusted", "significant", "better",
    "mcnemar_p_max", "n_bootstrap", "alpha", "correction",
]


def comparison_csv(doc: S.ComparisonDocument) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COMPARISON_CSV_COLUMNS)
    for d in list(doc.cards) + ([doc.aggregate] if doc.aggregate else []):
        writer.writerow([
            csv_text(doc.suite), doc.suite_version, csv_text(doc.model_a), csv_text(doc.protocol_a), csv_text(doc.model_b),
            csv_text(doc.protocol_b), csv_text(d.name), csv_text(d.metric), csv_text(d.split), ";".join(map(str, d.seeds)),
            d.n_examples, repr(d.a), repr(d.b), repr(d.delta), repr(d.ci95[0]), repr(d.ci95[1]), repr(d.p_value),
            repr(d.p_adjusted), str(d.significant).lower(), d.better,
            "" if d.mcnemar_p_max is None else repr(d.mcnemar_p_max), doc.n_bootstrap, doc.alpha, doc.correction,
        ])
    return buffer.getvalue()


def comparison_json(doc: S.ComparisonDocument) -> str:
    return doc.model_dump_json(by_alias=True, indent=2) + "\n"
