"""Read one local data file into an Arrow table, with errors that name the file and line.

Formats: jsonl, json (a list of records), csv, tsv, parquet; CoNLL-U and CoNLL column
files are read by `polyglue.data.conll`. Label names that a parquet file's Hugging Face
metadata declares (ClassLabel) are returned too, so indices can be mapped by name.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pyarrow as pa

from polyglue.errors import DataError

#: Extensions tried, in order, for `--data-dir` files.
DATA_DIR_EXTENSIONS = ("parquet", "jsonl", "csv", "tsv")


def _from_rows(rows: list[dict], origin: str) -> pa.Table:
    try:
        return pa.Table.from_pylist(rows)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise DataError(f"{origin}: rows disagree on column types ({exc})") from None


def _lines(path: Path):
    """(line number, text) of a UTF-8 text file; bytes that are not UTF-8 are a DataError naming the line."""
    from polyglue.jsonl import text_lines

    return text_lines(path)


def read_jsonl(path: Path) -> pa.Table:
    from polyglue import jsonl

    return _from_rows(jsonl.read_jsonl(path), str(path))


def read_json(path: Path) -> pa.Table:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DataError(f"{path}:{exc.lineno}: invalid JSON ({exc.msg})") from None
    except UnicodeDecodeError as exc:
        raise DataError(f"{path}: not UTF-8 (byte {exc.start}); save the file as UTF-8") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list) and data["data"] and "paragraphs" in data["data"][0]:
        from polyglue.data.squad import flatten_squad

        return _from_rows(flatten_squad(data), str(path))
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON list of records (or SQuAD-style {{'data': [...]}})")
    return _from_rows(data, str(path))


def read_delimited(path: Path, delimiter: str, columns: list[str] | None) -> pa.Table:
    """CSV/TSV as strings (no NA guessing: 'NA' and 'null' stay text). Header row unless `columns`."""
    reader = csv.reader((line for _, line in _lines(path)), delimiter=delimiter,
                        quoting=csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL)
    header = columns
    rows = []
    lineno = 0
    try:
        for record in reader:
            lineno = reader.line_num
            if header is None:
                header = record
                continue
            if not record:
                continue
            if len(record) != len(header):
                raise DataError(f"{path}:{lineno}: {len(record)} fields, expected {len(header)} ({', '.join(header)[:200]})")
            rows.append(dict(zip(header, record)))
    except csv.Error as exc:
        raise DataError(f"{path}:{reader.line_num}: not valid {'TSV' if delimiter == chr(9) else 'CSV'} ({exc})") from None
    if header is None:
        raise DataError(f"{path}: empty file")
    if not rows:
        raise DataError(f"{path}: no data rows (only a header); a split needs at least one example")
    return pa.Table.from_pylist(rows)


def read_parquet(path: Path) -> pa.Table:
    import pyarrow.parquet as pq

    try:
        return pq.read_table(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"{path}: not a readable parquet file ({exc})") from None


def class_label_names(table: pa.Table, column: str) -> list[str] | None:
    """Label names a Hugging Face parquet file declares for `column` (ClassLabel), if any."""
    meta = (table.schema.metadata or {}).get(b"huggingface")
    if not meta:
        return None
    try:
        features = json.loads(meta)["info"]["features"]
    except (KeyError, ValueError):
        return None
    feature = features.get(column) or {}
    if feature.get("_type") == "ClassLabel" and feature.get("names"):
        return list(feature["names"])
    inner = feature.get("feature") or {}
    if feature.get("_type") in ("Sequence", "List") and inner.get("_type") == "ClassLabel":
        return list(inner.get("names") or []) or None
    return None


def read_table(path: Path, fmt: str, columns: list[str] | None = None) -> pa.Table:
    """Read `path` in format `fmt` (one of the card schema's local formats)."""
    from polyglue.data.confine import regular_file

    path = regular_file(Path(path))
    if fmt == "jsonl":
        return read_jsonl(path)
    if fmt == "json":
        return read_json(path)
    if fmt in ("csv", "tsv"):
        return read_delimited(path, "," if fmt == "csv" else "\t", columns)
    if fmt == "parquet":
        return read_parquet(path)
    if fmt in ("conllu", "conll"):
        from polyglue.data.conll import read_conll

        return read_conll(path, fmt, columns)
    raise DataError(f"{path}: unsupported format '{fmt}'")
