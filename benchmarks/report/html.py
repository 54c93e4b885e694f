"""Single-file static HTML: a sortable leaderboard with an embedded bar chart, and comparison pages.

One file, no network: the charts are PNGs drawn with matplotlib (Agg, no pyplot state) and
embedded as data URIs; the sorting script and the style are inline and pinned by a
Content-Security-Policy hash, so nothing else can run even if a string slipped through.
Every card-, suite- or user-supplied string goes through `html.escape`.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import warnings
from collections.abc import Callable
from typing import Any

from polyglue.report import schema as S
from polyglue.report.compare_render import MARK, grouped_skips, verdict
from polyglue.report.formats import SPREAD_NOTE, leaderboard_document, mark_notes, plain, protocol_label, signed

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1d232a; max-width: 80rem; }
table { border-collapse: collapse; margin: 1rem 0; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #d0d7de; padding: 0.3rem 0.6rem; text-align: right; }
td { white-space: nowrap; }
th:first-child, td:first-child, th.text, td.text { text-align: left; }
table.sortable th { cursor: pointer; user-select: none; background: #f6f8fa; }
table.sortable th[aria-sort="ascending"]::after { content: " \\25B2"; }
table.sortable th[aria-sort="descending"]::after { content: " \\25BC"; }
tr.significant td { font-weight: 600; }
.note { color: #57606a; font-size: 0.9rem; }
img.chart { max-width: 100%; border: 1px solid #d0d7de; }
"""

SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener("click", function () {
      var ascending = th.getAttribute("aria-sort") !== "ascending";
      Array.prototype.forEach.call(heads, function (h) { h.setAttribute("aria-sort", "none"); });
      th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      var numeric = th.getAttribute("data-type") === "number";
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (r1, r2) {
        var a = r1.cells[col].getAttribute("data-value"), b = r2.cells[col].getAttribute("data-value");
        if (a === "" || b === "") { return (a === "") - (b === ""); }
        var order = numeric ? parseFloat(a) - parseFloat(b) : a.localeCompare(b);
        return ascending ? order : -order;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def page(title: str, body: str) -> str:
    csp = f"default-src 'none'; img-src data:; style-src {_csp_hash(STYLE)}; script-src {_csp_hash(SCRIPT)}"
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{esc(csp)}\">\n"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{esc(title)}</title>\n"
        f"<style>{STYLE}</style>\n</head>\n<body>\n{body}\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )


def _mpl_text(value: object, limit: int = 40) -> str:
    """A label matplotlib draws literally (no mathtext), shortened."""
    text = str(value)
    text = text if len(text) <= limit else text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace("$", r"\$")


def _png(fig) -> str:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # missing glyphs of some scripts in the default font
        fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def leaderboard_chart(board) -> str | None:
    """Base64 PNG: one panel per card and the aggregate, a bar per row with 95% CI whiskers, published values as dashed lines."""
    if not board.rows:
        return None
    from matplotlib.figure import Figure

    panels: list[tuple[str, Callable[..., Any], Callable[..., Any]]] = [
        (board.aggregate_name, lambda row: row.aggregate, lambda ref: ref.aggregate)]
    panels += [(c, lambda row, c=c: row.cells[c], lambda ref, c=c: ref.cells.get(c)) for c in board.cards]
    panels = [p for p in panels if any(p[1](row).n for row in board.rows)]  # cards nobody ran are not drawn
    if not panels:
        return None
    ncols = min(3, len(panels))
    nrows = -(-len(panels) // ncols)
    height = 0.35 * len(board.rows) + 1.2
    fig = Figure(figsize=(4.2 * ncols, height * nrows), layout="constrained")
    labels = [_mpl_text(f"{r.encoder} ({protocol_label(r)})") for r in board.rows]
    for i, (name, cell_of, ref_of) in enumerate(panels):
        ax = fig.add_subplot(nrows, ncols, i + 1)
        ys = list(range(len(board.rows)))
        shown = [(y, cell_of(r)) for y, r in zip(ys, board.rows) if cell_of(r).n]  # a missing value draws no bar
        ax.barh([y for y, _ in shown], [c.mean for _, c in shown], xerr=[c.ci95_half or 0.0 for _, c in shown],
                color="#4c78a8", ecolor="#1d232a", capsize=3)
        ax.set_ylim(len(ys) - 0.5, -0.5)
        for ref in board.references:
            value = ref_of(ref)
            if value is not None:
                ax.axvline(value, color="#e45756", linestyle="--", linewidth=1)
        ax.set_yticks(ys, labels if i % ncols == 0 else [""] * len(ys))
        unit = "" if name == board.aggregate_name else f" · {board.metric_of(name)} ({board.split_of(name)})"
        ax.set_title(_mpl_text(name, 30) + _mpl_text(unit, 34), fontsize=9)
        ax.tick_params(labelsize=8)
    return _png(fig)


def _stat_cell(stats, spread: str) -> str:
    value = "" if stats.mean is None else repr(stats.mean)
    return f'<td data-value="{esc(value)}">{esc(stats.render(spread=spread))}</td>'


def _suite_section(board, doc: S.SuiteLeaderboard, spread: str) -> str:
    out = [f"<section id=\"suite-{esc(board.suite)}\">", f"<h2>{esc(board.title)}</h2>"]
    out.append(
        f"<p class=\"note\">Suite <code>{esc(board.suite)}</code> v{esc(board.version)} · aggregate "
        f"<strong>{esc(board.aggregate_name)}</strong> ({'official' if board.aggregate_definition == 'official' else 'polyglue’s own, not official'})"
        f" · seeds {esc(', '.join(map(str, doc.seeds)) or 'none')}</p>"
    )
    head = ['<th class="text" data-type="text">model</th>', '<th class="text" data-type="text">protocol</th>',
            f'<th data-type="number">{esc(board.aggregate_name)}</th>']
    head += [f'<th data-type="number" title="{esc(col)}">{esc(c)}</th>' for c, col in zip(board.cards, board.columns)]
    out.append(f'<table class="sortable leaderboard" data-suite="{esc(board.suite)}">')
    out.append("<thead><tr>" + "".join(head) + "</tr></thead><tbody>")
    for row in board.rows:
        cells = [f'<td class="text" data-value="{esc(row.encoder)}">{esc(row.encoder)}</td>',
                 f'<td class="text" data-value="{esc(row.protocol)}">{esc(protocol_label(row))}</td>',
                 _stat_cell(row.aggregate, spread)]
        cells += [_stat_cell(row.cells[c], spread) for c in board.cards]
        klass = "measured" if row.status == "comparable" else f"measured {row.status.replace(' ', '-')}"
        out.append(f'<tr class="{klass}">' + "".join(cells) + "</tr>")
    out.append("</tbody></table>")
    many = any(r.cells[c].n > 1 for r in board.rows for c in board.cards)
    out.append(f"<p class=\"note\">Mean over seeds{(' ' + SPREAD_NOTE[spread]) if many else ''}; percentages unless the "
               f"metric is raw. Click a column header to sort. Columns: {esc('; '.join(board.columns))}.</p>")
    for note in mark_notes(board):
        out.append(f"<p class=\"note marked\">{esc(note)}</p>")
    if board.references:
        out.append("<h3>Published reference rows</h3><table class=\"references\"><thead><tr><th>model</th><th class=\"text\">source</th>"
                   f"<th class=\"text\">split</th><th>{esc(board.aggregate_name)}</th>"
                   + "".join(f"<th>{esc(c)}</th>" for c in board.cards) + "</tr></thead><tbody>")
        for ref in board.references:
            agg = plain(ref.aggregate) + (" (computed)" if ref.aggregate_source == "computed" else "")
            out.append(f"<tr><td>{esc(ref.model)}</td><td class=\"text\">{esc(ref.source)}</td><td class=\"text\">{esc(ref.split)}</td>"
                       f"<td>{esc(agg)}</td>" + "".join(f"<td>{esc(plain(ref.cells.get(c)))}</td>" for c in board.cards) + "</tr>")
        out.append("</tbody></table>")
    if board.deltas:
        out.append("<h3>Measured − published</h3><table class=\"deltas\"><thead><tr><th>model</th><th class=\"text\">reference</th>"
                   f"<th>{esc(board.aggregate_name)}</th>" + "".join(f"<th>{esc(c)}</th>" for c in board.cards) + "</tr></thead><tbody>")
        for d in board.deltas:
            delta_cells = "".join(f"<td>{esc(signed(d.cells.get(c)) + (' (other split)' if c in d.split_mismatch else ''))}</td>" for c in board.cards)
            out.append(f"<tr><td>{esc(d.model)}</td><td class=\"text\">{esc(d.reference)}</td><td>{esc(signed(d.aggregate))}</td>{delta_cells}</tr>")
        out.append("</tbody></table>")
    chart = leaderboard_chart(board)
    if chart:
        out.append(f"<h3>Per-card results</h3><img class=\"chart\" alt=\"{esc('Bar chart of ' + board.title + ' with 95% confidence whiskers')}\" "
                   f"src=\"data:image/png;base64,{chart}\">")
        out.append("<p class=\"note\">Bars: mean over seeds; whiskers: 95% confidence interval (Student t, none for one seed); "
                   "dashed red: published rows. Cards without results are not drawn.</p>")
    out.append("<details><summary>Provenance</summary><ul>")
    for card in doc.cards:
        out.append(f"<li><code>{esc(card.name)}</code> v{esc(card.version)} (hash {esc(card.content_hash)}), "
                   f"data {esc(', '.join(card.dataset_revisions) or '–')}</li>")
    for env in doc.environments:
        packages = ", ".join(f"{k} {v}" for k, v in sorted(env.packages.items()))
        out.append(f"<li>{env.units} unit(s): Python {esc(env.python)}, {esc(env.platform)}, git {esc(env.polyglue_git)}, "
                   f"{esc('; '.join(env.devices))}; {esc(packages)}</li>")
    if board.stale:
        out.append(f"<li>{board.stale} unit(s) of older card or suite versions not shown.</li>")
    out.append("</ul></details></section>")
    return "\n".join(out)


def leaderboard_html(boards, spread: str = "ci") -> str:
    doc = leaderboard_document(boards)
    sections = [_suite_section(b, d, spread) for b, d in zip(boards, doc.suites)]
    title = "polyglue leaderboard" + (f": {boards[0].title}" if len(boards) == 1 else "")
    body = "<h1>polyglue leaderboard</h1>\n" + "\n".join(sections)
    body += f"\n<p class=\"note\">Generated by polyglue {esc(doc.generator.polyglue)} at {esc(doc.generator.generated_at)}.</p>"
    return page(title, body)


def comparison_chart(doc: S.ComparisonDocument) -> str:
    """Base64 PNG forest plot: Δ (A − B) with its bootstrap 95% interval per card and for the aggregate."""
    from matplotlib.figure import Figure

    rows = list(doc.cards) + ([doc.aggregate] if doc.aggregate else [])
    fig = Figure(figsize=(6.5, 0.4 * len(rows) + 1.2), layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    for y, d in enumerate(rows):
        color = "#e45756" if d.significant else "#4c78a8"
        ax.errorbar([d.delta], [y], xerr=[[d.delta - d.ci95[0]], [d.ci95[1] - d.delta]], fmt="o", color=color, capsize=3)
    ax.axvline(0, color="#1d232a", linewidth=1)
    ax.set_yticks(range(len(rows)), [_mpl_text(d.name, 30) for d in rows])
    ax.invert_yaxis()
    ax.set_xlabel(_mpl_text(f"Δ = {doc.model_a} − {doc.model_b} (display units)", 80), fontsize=9)
    return _png(fig)


def comparison_html(doc: S.ComparisonDocument) -> str:
    a, b = esc(doc.model_a), esc(doc.model_b)
    out = [f"<h1>{a} vs {b}</h1>",
           f"<p class=\"note\">Suite <code>{esc(doc.suite)}</code> v{esc(doc.suite_version)} · A = {a} ({esc(doc.protocol_a)}), "
           f"B = {b} ({esc(doc.protocol_b)}) · paired bootstrap, {doc.n_bootstrap} resamples · α = {doc.alpha:g}, "
           f"correction {esc(doc.correction)}</p>",
           '<table class="sortable comparison"><thead><tr><th class="text" data-type="text">card</th><th class="text" data-type="text">metric</th>'
           f'<th data-type="number">{a}</th><th data-type="number">{b}</th><th data-type="number">Δ</th><th class="text" data-type="text">95% CI</th>'
           '<th data-type="number">p</th><th data-type="number">p adjusted</th><th data-type="number">McNemar p</th>'
           '<th class="text" data-type="text">verdict</th></tr></thead><tbody>']
    for d in list(doc.cards) + ([doc.aggregate] if doc.aggregate else []):
        mc = "" if d.mcnemar_p_max is None else repr(d.mcnemar_p_max)
        out.append(
            f"<tr class=\"{'significant' if d.significant else 'plain'}\"><td class=\"text\" data-value=\"{esc(d.name)}\">{esc(d.name)}</td>"
            f"<td class=\"text\" data-value=\"{esc(d.metric)}\">{esc(d.metric)} {esc(d.split)}</td>"
            f"<td data-value=\"{d.a!r}\">{d.a:.2f}</td><td data-value=\"{d.b!r}\">{d.b:.2f}</td><td data-value=\"{d.delta!r}\">{d.delta:+.2f}</td>"
            f"<td class=\"text\" data-value=\"{d.ci95[0]!r}\">[{d.ci95[0]:+.2f}, {d.ci95[1]:+.2f}]</td>"
            f"<td data-value=\"{d.p_value!r}\">{d.p_value:.3g}</td><td data-value=\"{d.p_adjusted!r}\">{d.p_adjusted:.3g}</td>"
            f"<td data-value=\"{esc(mc)}\">{esc(mc and f'{d.mcnemar_p_max:.3g}') or '–'}</td>"
            f"<td class=\"text\" data-value=\"{esc(verdict(d, doc))}\">{esc(verdict(d, doc))}</td></tr>"
        )
    out.append("</tbody></table>")
    out.append(f"<p class=\"note\">{MARK} and bold rows: significant at α = {doc.alpha:g}"
               + (" after Holm's correction over the cards" if doc.correction == "holm" else "") + ".</p>")
    if doc.cards:
        out.append(f"<img class=\"chart\" alt=\"Differences with 95% bootstrap intervals\" src=\"data:image/png;base64,{comparison_chart(doc)}\">")
    for reason, names in grouped_skips(doc):
        out.append(f"<p class=\"note skipped\">Not compared ({esc(reason)}): {esc(', '.join(names))}</p>")
    for note in doc.notes:
        out.append(f"<p class=\"note\">Warning: {esc(note)}</p>")
    return page(f"{doc.model_a} vs {doc.model_b} ({doc.suite})", "\n".join(out))
