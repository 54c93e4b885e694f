"""Hostile YAML (alias bombs, deep nesting, huge files, devices) is refused with one file:line line, fast."""

from __future__ import annotations

import os
import time

import pytest

from polyglue.cards.yamlio import MAX_BYTES, YamlSyntaxError, parse_yaml, read_yaml


def _bomb(levels: int) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize(
    "text, needle",
    [
        (_bomb(9), "alias"),
        ("a: &x [*x]\n", "alias"),  # a recursive alias
        ("[" * 20000 + "]" * 20000, "nested more than"),
        ("k:\n" + "".join("  " * i + "- \n" for i in range(1, 200)), "nested more than"),
        ("name: x\n" + "pad: " + "x" * (MAX_BYTES + 10) + "\n", "larger than"),
    ],
)
def test_hostile_documents_fail_fast_with_a_line(tmp_path, text, needle):
    start = time.perf_counter()
    with pytest.raises(YamlSyntaxError) as info:
        parse_yaml(text, tmp_path / "x.yaml")
    assert needle in info.value.message and info.value.line >= 1
    assert time.perf_counter() - start < 5


def test_a_file_just_under_the_size_cap_parses_in_bounded_time(tmp_path):
    lines, size = [], 0
    while size < MAX_BYTES - 64:
        lines.append(f"key{len(lines)}: value")
        size += len(lines[-1]) + 1
    start = time.perf_counter()
    doc = parse_yaml("\n".join(lines) + "\n", tmp_path / "x.yaml")  # about 17,000 keys
    assert len(doc.data) == len(lines)
    assert time.perf_counter() - start < 30


def test_ordinary_anchors_still_work(tmp_path):
    doc = parse_yaml("a: &n {x: 1}\nb: *n\n", tmp_path / "x.yaml")
    assert doc.data == {"a": {"x": 1}, "b": {"x": 1}}


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="no /dev/zero")
def test_devices_and_fifos_are_refused_before_reading(tmp_path):
    with pytest.raises(YamlSyntaxError, match="not a regular file"):
        read_yaml("/dev/zero")
    fifo = tmp_path / "card.yaml"
    os.mkfifo(fifo)
    with pytest.raises(YamlSyntaxError, match="not a regular file"):
        read_yaml(fifo)  # would block forever if it were opened


def test_validate_reports_a_bomb_as_one_file_line(cli, tmp_path):
    cards = tmp_path / "cards"
    cards.mkdir()
    (cards / "bomb.yaml").write_text(_bomb(9))
    (cards / "deep.yaml").write_text("[" * 20000 + "]" * 20000)
    result = cli("validate", "--cards", cards)
    assert result.code == 2
    assert "bomb.yaml:" in result.err + result.out and "deep.yaml:1" in result.err + result.out
    assert "Traceback" not in result.err and "RecursionError" not in result.err
