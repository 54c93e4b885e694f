"""Fixtures of the text-suite tests: generated mirrors of every card and a tiny BERT that knows their words."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixtures.text_mirrors import all_texts, write_mirror

SUITES = ("glue", "clue", "club", "greek", "advglue", "xling", "gluex")
ROWS = 24
"""Rows per generated split; end-to-end runs sample 16 of them (`--limit`)."""


@pytest.fixture(scope="session")
def text_data(tmp_path_factory) -> Path:
    """`--data-dir` root with mirrors of all four text suites."""
    root = tmp_path_factory.mktemp("text-data")
    for suite in SUITES:
        write_mirror(root, suite, n=ROWS)
    return root


@pytest.fixture(scope="session")
def text_bert(tmp_path_factory) -> Path:
    """A tiny random BERT (2 layers, hidden 32, 256 positions) whose WordPiece vocabulary covers the fixtures."""
    from polyglue.langkits.encoders.tiny import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("text-bert"), all_texts(), vocab_size=600, hidden_size=32)
