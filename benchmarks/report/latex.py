"""Leaderboards as LaTeX tables for papers (`bench report --format latex`), booktabs style.

One `table` environment per suite: measured rows (mean ± 95% confidence half-width over
seeds, or ± standard deviation with `--spread std`), the suite aggregate, then the
published reference rows in italics, with a caption that says what the numbers are. Rows
that are not the card's official recipe (`extras["comparability"]`) get a dagger and a
note, as in every other format. Needs `\\usepackage{booktabs}` in the preamble. Every
string from a card, a suite or the user is escaped, so a label like `a_b&c` cannot break
the document.
"""

from __future__ import annotations

import re

from polyglue.report.formats import SPREAD_NOTE

_SPECIAL = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
}
_SPECIAL_RE = re.compile("|".join(re.escape(k) for k in _SPECIAL))


def tex(value: object) -> str:
    """Text safe in a LaTeX document: the ten special characters escaped, line breaks removed."""
    text = str(value).replace("\r", " ").replace("\n", " ")
    return _SPECIAL_RE.sub(lambda m: _SPECIAL[m.group(0)], text)


def _number(value: float | None, digits: int = 2) -> str:
    return "--" if value is None else f"{value:.{digits}f}"


def _cell(stats, spread: str) -> str:
    if not stats.values:
        return "--"
    extra = stats.ci95_half if spread == "ci" else stats.std
    text = f"{stats.mean:.2f}"
    return f"${text} \\pm {extra:.2f}$" if extra is not None else text


def row_comparable(row) -> tuple[bool, list[str]]:
    """Whether every unit of a leaderboard row ran the card's official recipe, and the reasons if not."""
    reasons: list[str] = []
    for unit in row.units:
        record = (unit.get("extras") or {}).get("comparability") or {}
        if record and not record.get("comparable", True):
            reasons += [r for r in record.get("reasons", []) if r not in reasons]
    return not reasons, reasons


def leaderboard_latex(board, spread: str = "ci") -> str:
    """A booktabs `table` for one suite's leaderboard."""
    head = ["Model", "Protocol", tex(board.aggregate_name)] + [tex(c) for c in board.cards]
    lines = [
        "\\begin{table}[t]",
        "\\centering",
        "\\small",
        f"\\begin{{tabular}}{{ll{'r' * (len(head) - 2)}}}",
        "\\toprule",
        " & ".join(head) + " \\\\",
        "\\midrule",
    ]
    flagged = False
    for row in board.rows:
        comparable, _ = row_comparable(row)
        flagged |= not comparable
        name = tex(row.encoder) + ("$^\\dagger$" if not comparable else "")
        cells = [name, tex(row.protocol), _cell(row.aggregate, spread)] + [_cell(row.cells[c], spread) for c in board.cards]
        lines.append(" & ".join(cells) + " \\\\")
    if not board.rows:
        lines.append(f"\\multicolumn{{{len(head)}}}{{l}}{{(no finished units)}} \\\\")
    if board.references:
        lines.append("\\midrule")
        for ref in board.references:
            cells = [f"\\textit{{{tex(ref.model)}}}", "published", _number(ref.aggregate)]
            cells += [_number(ref.cells.get(c)) for c in board.cards]
            lines.append(" & ".join(cells) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}"]

    counts = sorted({row.cells[c].n for row in board.rows for c in board.cards if row.cells[c].n})
    seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]}--{counts[-1]}" if counts else "0"
    spread_note = f", {SPREAD_NOTE[spread]}" if counts and counts[-1] > 1 else ""
    spread_tex = tex(spread_note).replace("±", "$\\pm$")
    kind = "the benchmark's official score" if board.aggregate_definition == "official" else "polyglue's own score"
    caption = (
        f"{tex(board.title)} (\\texttt{{{tex(board.suite)}}} v{tex(board.version)}). "
        f"Mean over {seeds} seed(s){spread_tex}; percentages unless the metric is raw. "
        f"{tex(board.aggregate_name)}: {kind}. Columns: {tex('; '.join(board.columns))}."
    )
    if board.references:
        caption += " Published rows: " + "; ".join(f"\\textit{{{tex(r.model)}}}: {tex(r.source)} ({tex(r.split)} split)" for r in board.references) + "."
    deviations = [f"{name}: {d}" for name in board.cards for d in board.card_defs[name].deviations]
    if deviations:
        caption += " Documented deviations from the official recipes: " + tex("; ".join(deviations)) + "."
    if flagged:
        caption += " $^\\dagger$Not the card's official recipe (a debug cap, another protocol or an override): not comparable with published rows."
    label = re.sub(r"[^A-Za-z0-9:-]+", "-", board.suite)
    lines += [f"\\caption{{{caption}}}", f"\\label{{tab:polyglue-{label}}}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def leaderboards_latex(boards, spread: str = "ci") -> str:
    """Every suite's table, with a comment naming the package the tables need."""
    return "% polyglue leaderboards; needs \\usepackage{booktabs}\n" + "\n".join(leaderboard_latex(b, spread) for b in boards)
