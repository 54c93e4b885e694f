"""The static HTML page: one self-contained file, every supplied string escaped, a script pinned by CSP."""

from __future__ import annotations

import base64
import hashlib
import html
import re
from html.parser import HTMLParser

import pytest

from polyglue.report import formats
from polyglue.report.html import SCRIPT, STYLE, leaderboard_html
from polyglue.report.leaderboard import build, definitions
from polyglue.runs.store import Store
from tests.fixtures.report_pages import HOSTILE_MODEL, HOSTILE_PROTOCOL, HOSTILE_REFERENCE, HOSTILE_TITLE, page_store


class _Tags(HTMLParser):
    """Collects start tags and the text of the leaderboard's first column."""

    def __init__(self):
        super().__init__()
        self.tags, self.first_cells, self._cell, self._in_board = [], [], None, False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "table":
            self._in_board = "leaderboard" in dict(attrs).get("class", "")
        if tag == "tr":
            self._cell = 0
        elif tag == "td" and self._cell is not None:
            self._cell += 1

    def handle_endtag(self, tag):
        if tag == "table":
            self._in_board = False

    def handle_data(self, data):
        if self._in_board and self._cell == 1:
            self.first_cells.append(data)


@pytest.fixture(scope="module")
def board(tmp_path_factory):
    from polyglue.cards.registry import Registry

    runs_dir, root = page_store(tmp_path_factory.mktemp("page"))
    store = Store(runs_dir)
    try:
        return build(*definitions(Registry.discover([root], builtin=False), store, "fixpage"), store.units())
    finally:
        store.close()


def test_rows_are_ordered_by_the_aggregate(board):
    assert [r.encoder for r in board.rows] == ["alpha", HOSTILE_MODEL, "beta"]


def test_every_supplied_string_is_escaped_in_the_page(board):
    page = leaderboard_html([board])
    for raw in (HOSTILE_MODEL, HOSTILE_TITLE, HOSTILE_PROTOCOL, HOSTILE_REFERENCE, "<svg", "<img src=x", "<b>"):
        assert raw not in page, raw
    assert "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in page
    assert "&quot;&gt;&lt;img src=x onerror=alert(1)&gt; &amp; co" in page
    parser = _Tags()
    parser.feed(page)
    tags = [t for t, _ in parser.tags]
    assert tags.count("script") == 1 and "svg" not in tags and "b" not in tags
    assert [t for t, a in parser.tags if t == "img"] == ["img"]  # only the chart
    assert parser.first_cells == ["alpha", HOSTILE_MODEL, "beta"]  # the browser shows the label literally


def test_the_page_is_self_contained_and_its_script_and_style_are_pinned_by_csp(board):
    page = leaderboard_html([board])
    csp = html.unescape(re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1))
    digest = lambda text: base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()
    assert f"script-src 'sha256-{digest(SCRIPT)}'" in csp and f"style-src 'sha256-{digest(STYLE)}'" in csp
    assert "default-src 'none'" in csp
    assert not re.search(r'(src|href)="(?!data:)', page)  # nothing is fetched
    png = re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1)
    assert base64.b64decode(png)[:8] == b"\x89PNG\r\n\x1a\n"


def test_numeric_cells_carry_sortable_values(board):
    page = leaderboard_html([board])
    # fx-one of alpha: mean of 90, 92, 91 = 91
    assert '<td data-value="91.0">91.00 ± 2.48</td>' in page
    assert page.count('data-type="number"') == 3  # aggregate and two cards


def test_markdown_and_csv_escape_the_same_strings(board):
    text = formats.leaderboard_markdown(board)
    assert HOSTILE_MODEL not in text and "&lt;script&gt;" in text
    lines = [l for l in text.splitlines() if l.startswith("| ")]
    assert all(l.count(" | ") == lines[0].count(" | ") for l in lines), "a pipe in a name broke the table"
    assert formats.csv_text("=HYPERLINK(1)") == "'=HYPERLINK(1)" and formats.csv_text("-3") == "'-3"
