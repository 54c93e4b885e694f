"""Leaderboards as Markdown (README-ready), CSV (one tidy line per number) and JSON (the versioned schema).

Every string that comes from a card, a suite or the user (model labels) is escaped for the
target format: Markdown cells lose their pipes and HTML, CSV text cells cannot start a
spreadsheet formula.
"""

from __future__ import annotations

import csv
import html
import io
import json
import platform
from datetime import datetime, timezone
from importlib import metadata

from polyglue import metrics as metric_defs
from polyglue.cards import vocab
from polyglue.report import schema as S

SPREAD_NOTE = {
    "ci": "± 95% confidence half-width (Student t over seeds)",
    "std": "± standard deviation over seeds",
}


# --------------------------------------------------------------------------- escaping


def md_text(value: object) -> str:
    """A string safe inside a Markdown table cell: no HTML, no pipes, no line breaks."""
    text = html.escape(str(value), quote=False)
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def csv_text(value: object) -> str:
    """A CSV text cell that a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def signed(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:+.{digits}f}"


def plain(value: float | None, digits: int = 2) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


# --------------------------------------------------------------------------- comparability marks


def row_mark(row) -> str:
    """What the protocol cell adds for a row that is not a result: `debug` or `not comparable`."""
    return "" if row.status == "comparable" else row.status


def protocol_label(row) -> str:
    mark = row_mark(row)
    return f"{row.protocol} ({mark})" if mark else row.protocol


def mark_notes(board) -> list[str]:
    """One plain-text line per marked row, with its reasons, each card's documented deviations, and what was left out."""
    notes = []
    for row in board.rows:
        if row.status != "comparable":
            why = "; ".join(row.reasons) or "settings differ from the card's recipe"
            label = "debug run, not a result" if row.debug else "not comparable with published numbers"
            notes.append(f"{row.encoder} ({row.protocol}): {label}: {why}.")
    for name in board.cards:
        for deviation in board.card_defs[name].deviations:
            notes.append(f"{name}: documented deviation from the official recipe: {deviation}")
    if board.debug_units and not board.include_debug:
        notes.append(f"{board.debug_units} debug unit(s) (--limit, --max-steps) are not shown; `bench report --include-debug` lists them, labelled.")
    return notes


# --------------------------------------------------------------------------- provenance


def generator() -> S.Generator:
    try:
        version = metadata.version("polyglue")
    except metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
        version = "unknown"
    return S.Generator(
        polyglue=version,
        python=platform.python_version(),
        generated_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
    )


def environments(units: list[dict]) -> list[S.Environment]:
    """Distinct environment stamps of `units` (from their runs), with unit counts and devices."""
    groups: dict[str, dict] = {}
    for unit in units:
        env = unit.get("env") or {}
        fields = {k: env.get(k) for k in ("python", "platform", "polyglue_git", "cpu")}
        fields["packages"] = env.get("packages") or {}
        key = json.dumps(fields, sort_keys=True)
        group = groups.setdefault(key, {"fields": fields, "units": 0, "devices": set()})
        group["units"] += 1
        if unit.get("device"):
            group["devices"].add(unit["device"])
    return [
        S.Environment(units=g["units"], devices=sorted(g["devices"]), **g["fields"])
        for g in sorted(groups.values(), key=lambda g: -g["units"])
    ]


# --------------------------------------------------------------------------- JSON


def _stat(stats) -> S.Stat:
    return S.Stat(**stats.as_dict())


def suite_leaderboard(board) -> S.SuiteLeaderboard:
    suite = board.suite_def
    agg = suite.aggregate
    units = board.units()
    revisions: dict[str, set[str]] = {}
    for unit in units:
        revisions.setdefault(unit["card"], set()).add(unit["dataset_revision"])
    cards = []
    for name in board.cards:
        card = board.card_defs[name]
        cards.append(
            S.CardInfo(
                name=name, title=card.title, version=card.version, content_hash=card.content_hash()[:16], task=card.task,
                languages=list(card.languages), main_metric=card.main_metric, report_split=card.report_split,
                higher_is_better=metric_defs.higher_is_better(card.main_metric),
                display=vocab.display_kind(card.main_metric),
                dataset_revisions=sorted(revisions.get(name, set())),
                recipe=card.recipe, deviations=list(card.deviations),
            )
        )
    return S.SuiteLeaderboard(
        name=board.suite,
        version=board.version,
        title=board.title,
        aggregate=S.AggregateDef(
            name=board.aggregate_name,
            definition=board.aggregate_definition,
            description=agg.description if agg else "Unweighted mean of every card's main metric (polyglue's own score).",
            scale=agg.scale if agg else 1.0,
            components=[
                S.Component(card=c.card, metrics=list(c.metrics), splits=list(c.splits), rescale=c.rescale)
                for c in board.components
            ],
        ),
        cards=cards,
        rows=[
            S.MeasuredRow(
                model=row.encoder, protocol=row.protocol, encoder_identities=row.encoder_identities, seeds=row.seeds,
                cells={name: _stat(row.cells[name]) for name in board.cards}, aggregate=_stat(row.aggregate),
                unit_keys=sorted(u["key"] for u in row.units), superseded_units=row.superseded,
                comparable=row.comparable and not row.debug, debug=row.debug, reasons=list(row.reasons),
            )
            for row in board.rows
        ],
        references=[
            S.ReferenceRowOut(
                model=r.model, source=r.source, split=r.split, notes=r.notes, cells={n: r.cells.get(n) for n in board.cards},
                aggregate=r.aggregate, aggregate_source=r.aggregate_source,
            )
            for r in board.references
        ],
        deltas=list(board.deltas),
        seeds=sorted({u["seed"] for u in units}),
        stale_units=board.stale,
        debug_units_hidden=0 if board.include_debug else board.debug_units,
        environments=environments(units),
    )


def leaderboard_document(boards) -> S.LeaderboardDocument:
    return S.LeaderboardDocument(generator=generator(), suites=[suite_leaderboard(b) for b in boards])


def leaderboard_json(boards) -> str:
    return leaderboard_document(boards).model_dump_json(by_alias=True, indent=2) + "\n"


# --------------------------------------------------------------------------- Markdown


def _seed_counts(board) -> list[int]:
    return sorted({row.cells[c].n for row in board.rows for c in board.cards if row.cells[c].n})


def leaderboard_markdown(board, spread: str = "ci") -> str:
    head = ["model", "protocol", board.aggregate_name, *board.cards]
    lines = [
        f"### {md_text(board.title)} (`{md_text(board.suite)}` v{md_text(board.version)})",
        "",
        "| " + " | ".join(md_text(h) for h in head) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 2)) + "|",
    ]
    for row in board.rows:
        cells = [md_text(row.encoder), md_text(protocol_label(row)), row.aggregate.render(spread=spread)]
        cells += [row.cells[c].render(spread=spread) for c in board.cards]
        lines.append("| " + " | ".join(cells) + " |")
    if not board.rows:
        lines.append("| (no finished units) |" + " |" * (len(head) - 1))
    for ref in board.references:
        cells = [f"*{md_text(ref.model)}* (published)", "–", plain(ref.aggregate) + ("¹" if ref.aggregate_source == "computed" else "")]
        cells += [plain(ref.cells.get(c)) for c in board.cards]
        lines.append("| " + " | ".join(cells) + " |")
    for d in board.deltas:
        cells = [f"Δ {md_text(d.model)} − *{md_text(d.reference)}*", md_text(d.protocol), signed(d.aggregate)]
        cells += [signed(d.cells.get(c)) + ("²" if c in d.split_mismatch else "") for c in board.cards]
        lines.append("| " + " | ".join(cells) + " |")

    counts = _seed_counts(board)
    seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}–{counts[-1]}" if counts else "0"
    spread_note = f" {SPREAD_NOTE[spread]}" if counts and counts[-1] > 1 else ""
    agg = board.suite_def.aggregate if board.suite_def else None
    kind = "the benchmark's official score" if board.aggregate_definition == "official" else "polyglue's own score, not an official one"
    described = f": {md_text(agg.description)}" if agg and agg.description else "."
    notes = [
        "",
        f"Values: mean over {seeds} seed(s){spread_note}; percentages unless the metric is raw.",
        f"Aggregate: {md_text(board.aggregate_name)} — {kind}{described}",
        "Columns: " + "; ".join(md_text(c) for c in board.columns) + ".",
    ]
    if board.references:
        sources = "; ".join(f"*{md_text(r.model)}*: {md_text(r.source)} ({md_text(r.split)} split)" for r in board.references)
        notes.append(f"Published rows: {sources}.")
        if any(r.aggregate_source == "computed" for r in board.references):
            notes.append("¹ Aggregate not published; computed from the row's scores with the suite's rule.")
    if any(d.split_mismatch for d in board.deltas):
        notes.append("² The measured split differs from the published row's split: the delta compares different example sets.")
    notes += [md_text(n) for n in mark_notes(board)]
    if board.stale:
        notes.append(f"{board.stale} stored unit(s) of older card or suite versions are not shown.")
    superseded = sum(r.superseded for r in board.rows)
    if superseded:
        notes.append(f"{superseded} older unit(s) of the same row, card and seed (another protocol setting) were replaced by newer ones.")
    return "\n".join(lines + notes)


# --------------------------------------------------------------------------- CSV

CSV_COLUMNS = [
    "suite", "suite_version", "kind", "model", "protocol", "reference", "column", "metric", "split",
    "mean", "std", "ci95_low", "ci95_high", "n_seeds", "seeds", "values", "status", "reasons", "card_deviations",
]


def _num(value: float | None) -> str:
    return "" if value is None else repr(float(value))


def leaderboard_csv(boards) -> str:
    """One line per number: measured cells (with spread and per-seed values), published values and deltas."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for board in boards:
        columns = [("aggregate", board.aggregate_name, "")] + [(c, board.metric_of(c), board.split_of(c)) for c in board.cards]

        def line(kind, model, protocol, reference, column, metric, split, mean, stats=None, row=None):
            ci = stats.ci95 if stats is not None else None
            writer.writerow([
                csv_text(board.suite), board.version, kind, csv_text(model), csv_text(protocol), csv_text(reference),
                csv_text(column), csv_text(metric), csv_text(split), _num(mean),
                _num(stats.std) if stats is not None else "", _num(ci[0]) if ci else "", _num(ci[1]) if ci else "",
                stats.n if stats is not None else "",
                ";".join(str(s) for s in stats.seeds) if stats is not None else "",
                ";".join(repr(float(v)) for v in stats.values) if stats is not None else "",
                row.status if row is not None else "", csv_text("; ".join(row.reasons)) if row is not None else "",
                csv_text("; ".join(board.card_defs[column].deviations)) if column in board.card_defs else "",
            ])

        for row in board.rows:
            for column, metric, split in columns:
                stats = row.aggregate if column == "aggregate" else row.cells[column]
                line("measured", row.encoder, row.protocol, "", column, metric, split, stats.mean, stats, row)
        for ref in board.references:
            for column, metric, split in columns:
                value = ref.aggregate if column == "aggregate" else ref.cells.get(column)
                line("reference", ref.model, "", ref.source, column, metric, ref.split, value)
        for d in board.deltas:
            for column, metric, split in columns:
                value = d.aggregate if column == "aggregate" else d.cells.get(column)
                line("delta", d.model, d.protocol, d.reference, column, metric, split, value)
    return buffer.getvalue()
