"""Bad data files are one line naming the file (and line or row), never a traceback."""

from __future__ import annotations

import csv

import pytest

from polyglue.data.labels import encode_regression
from polyglue.data.readers import read_table
from polyglue.errors import DataError


@pytest.mark.parametrize(
    "name, fmt, data, needle",
    [
        ("h.csv", "csv", b"sentence,label\n", "no data rows"),
        ("big.csv", "csv", b"a,b\n" + b'"' + b"x" * (csv.field_size_limit() + 10) + b'",1\n', "big.csv:2: not valid CSV"),
        ("u.jsonl", "jsonl", b'{"a": 1}\n{"a": "\xff\xfe"}\n', "u.jsonl:2: not UTF-8"),
        ("u.csv", "csv", b"a,b\nx,y\n\xff,z\n", "u.csv:3: not UTF-8"),
        ("l.jsonl", "jsonl", b"[1, 2]\n", "l.jsonl:1: expected a JSON object"),
    ],
)
def test_bad_files_name_file_and_line(tmp_path, name, fmt, data, needle):
    path = tmp_path / name
    path.write_bytes(data)
    with pytest.raises(DataError) as info:
        read_table(path, fmt)
    assert needle in str(info.value) and len(str(info.value)) < 300


def test_a_split_path_that_is_a_folder_is_one_line(tmp_path):
    (tmp_path / "train.jsonl").mkdir()
    with pytest.raises(DataError, match="is a folder"):
        read_table(tmp_path / "train.jsonl", "jsonl")


def test_nan_and_float_labels_name_the_row():
    with pytest.raises(DataError, match="row 2: regression target nan is not a finite number"):
        encode_regression([1.0, float("nan")], "f.jsonl")
    from polyglue.data.labels import LabelSpace

    with pytest.raises(DataError, match=r"row 1: label 0.5 \(a float\)"):
        LabelSpace(["a", "b"]).encode([0.5], "f.jsonl")
