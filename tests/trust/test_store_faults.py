"""Store faults: read-only results, a runs dir that is a file, a corrupt store, over-long card names."""

from __future__ import annotations

import os
import shutil
import stat

import pytest
import yaml

from tests.fixtures.core_suite import write_suite


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    from polyglue.cli import main

    root = tmp_path_factory.mktemp("store")
    cards = write_suite(root / "s", n_cards=1)
    assert main(["run", "--suite", "core", "--cards", str(cards), "--model", "bow", "--runs-dir", str(root / "runs"), "--quiet"]) == 0
    return cards, root / "runs"


def _one_line(result):
    lines = [l for l in result.err.splitlines() if l.strip()]
    assert result.code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.err
    return lines[0]


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file permissions")
def test_report_and_compare_work_from_a_read_only_runs_dir(cli, finished, tmp_path):
    cards, runs = finished
    copy = tmp_path / "ro"
    shutil.copytree(runs, copy)
    for path in [copy, *copy.rglob("*")]:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    try:
        result = cli("report", "--suite", "core", "--cards", cards, "--runs-dir", copy)
        assert result.code == 0 and "| bow |" in result.out, result.err
    finally:
        for path in [copy, *copy.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)


def test_report_opens_the_store_read_only(finished, tmp_path):
    """Even as root (who may write anywhere), reading results does not write to the store."""
    from polyglue.runs.store import Store

    _, runs = finished
    store = Store(runs, readonly=True)
    try:
        with pytest.raises(Exception, match="readonly"):
            store.conn.execute("DELETE FROM units")
        assert store.units()
    finally:
        store.close()


def test_a_runs_dir_that_is_a_file_is_one_line(cli, finished, tmp_path):
    cards, _ = finished
    not_dir = tmp_path / "runs"
    not_dir.write_text("x")
    for cmd in (["run", "--suite", "core", "--model", "bow"], ["report", "--suite", "core"]):
        assert "is a file" in _one_line(cli(*cmd, "--cards", cards, "--runs-dir", not_dir, "--quiet" if cmd[0] == "run" else "--format=md"))


def test_a_corrupt_or_truncated_store_is_one_line_and_left_untouched(cli, finished, tmp_path):
    cards, runs = finished
    for name, damage in (("garbage", lambda b: b"this is not sqlite at all" * 100), ("truncated", lambda b: b[:1000])):
        broken = tmp_path / name
        broken.mkdir()
        data = damage((runs / "polyglue.sqlite").read_bytes())
        (broken / "polyglue.sqlite").write_bytes(data)
        for cmd in (["report", "--suite", "core"], ["run", "--suite", "core", "--model", "bow", "--quiet"]):
            line = _one_line(cli(*cmd, "--cards", cards, "--runs-dir", broken))
            assert "polyglue.sqlite" in line and "corrupt or truncated" in line
        assert (broken / "polyglue.sqlite").read_bytes() == data


def test_a_card_name_too_long_for_a_file_name_is_rejected_by_validation(cli, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=1)
    path = cards / "core" / "core-sent0.yaml"
    body = yaml.safe_load(path.read_text())
    body["name"] = "x" * 300
    path.write_text(yaml.safe_dump(body, sort_keys=False))
    result = cli("validate", "--cards", cards)
    assert result.code == 2 and "core-sent0.yaml:1" in result.out + result.err and "100 characters" in result.out + result.err
