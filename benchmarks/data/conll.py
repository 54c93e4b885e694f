"""CoNLL-U treebanks and CoNLL column files as token-classification rows.

CoNLL-U rows use the column names of the Hugging Face `universal_dependencies` dataset
(`tokens`, `lemmas`, `upos`, `xpos`, `feats`, `head`, `deprel`), so a UD card reads a
user's own treebank unchanged. Multi-word token ranges (`1-2`) and empty nodes (`1.1`)
are skipped, as UD evaluation does.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from polyglue.errors import DataError

UD_COLUMNS = ("tokens", "lemmas", "upos", "xpos", "feats", "head", "deprel", "deps", "misc")


def _conllu_rows(path: Path) -> list[dict]:
    rows: list[dict] = []
    current: dict[str, list] = {c: [] for c in UD_COLUMNS}
    sent_id = None
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\n")
            if not line.strip():
                if current["tokens"]:
                    rows.append({"id": sent_id or str(len(rows)), **current})
                current, sent_id = {c: [] for c in UD_COLUMNS}, None
                continue
            if line.startswith("#"):
                if line.startswith("# sent_id"):
                    sent_id = line.split("=", 1)[-1].strip()
                continue
            cols = line.split("\t")
            if len(cols) != 10:
                raise DataError(f"{path}:{lineno}: CoNLL-U lines have 10 tab-separated columns, found {len(cols)}")
            if "-" in cols[0] or "." in cols[0]:
                continue
            for name, value in zip(UD_COLUMNS, cols[1:]):
                current[name].append(value)
    if current["tokens"]:
        rows.append({"id": sent_id or str(len(rows)), **current})
    return rows


def _conll_rows(path: Path, columns: list[str]) -> list[dict]:
    tokens_col, tags_col = columns
    rows: list[dict] = []
    tokens: list[str] = []
    tags: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            # Tab-separated files (AnCora-ca-NER) may hold tokens with spaces; others split on whitespace.
            parts = [p.strip() for p in line.rstrip("\r\n").split("\t")] if "\t" in line else line.split()
            if not line.strip():
                if tokens:
                    rows.append({"id": str(len(rows)), tokens_col: tokens, tags_col: tags})
                tokens, tags = [], []
                continue
            if parts[0] == "-DOCSTART-":
                continue
            if len(parts) < 2:
                raise DataError(f"{path}:{lineno}: expected 'token ... tag' columns, found one field")
            tokens.append(parts[0])
            tags.append(parts[-1])
    if tokens:
        rows.append({"id": str(len(rows)), tokens_col: tokens, tags_col: tags})
    return rows


def read_conll(path: Path, fmt: str, columns: list[str] | None = None) -> pa.Table:
    """Read a `.conllu` treebank or a `.conll` column file (token first, tag last).

    CoNLL rows are named by `columns` (the card's tokens and tags columns, e.g.
    `tokens`/`ner_tags`); sentences are separated by blank lines; `-DOCSTART-` lines are skipped.
    """
    rows = _conllu_rows(Path(path)) if fmt == "conllu" else _conll_rows(Path(path), columns or ["tokens", "tags"])
    if not rows:
        raise DataError(f"{path}: no sentences found")
    return pa.Table.from_pylist(rows)
