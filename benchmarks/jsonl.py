"""Text and JSON-lines files, read one way everywhere: data splits, stored predictions, mirror manifests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from polyglue.errors import DataError


def text_lines(path: Path) -> Iterator[tuple[int, str]]:
    """`(line number, text)` of a UTF-8 text file; bytes that are not UTF-8 are a DataError naming the line."""
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                yield number, raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DataError(f"{path}:{number}: not UTF-8 (byte {exc.start} of the line); save the file as UTF-8") from None


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """`(line number, object)` per non-blank line; a bad line is one `file:line` DataError."""
    for number, line in text_lines(path):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{path}:{number}: invalid JSON ({exc.msg})") from None
        if not isinstance(row, dict):
            raise DataError(f"{path}:{number}: expected a JSON object per line, got {type(row).__name__}")
        yield number, row


def read_jsonl(path: Path) -> list[dict]:
    """Every object of a JSON-lines file, in order."""
    return [row for _, row in iter_jsonl(path)]
