"""JSON-lines files, read one way everywhere: data splits, stored predictions, mirror manifests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from polyglue.errors import DataError


def iter_jsonl(path: Path) -> Iterator[tuple[int, dict]]:
    """`(line number, object)` per non-blank line; a bad line is one `file:line` DataError."""
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
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
