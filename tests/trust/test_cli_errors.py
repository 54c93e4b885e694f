"""Every user error is one line on stderr and exit code 2; Ctrl-C is one line and exit code 130."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

from tests.fixtures.core_suite import write_suite

ENTRY = "import sys; from polyglue.cli import main; sys.exit(main(sys.argv[1:]))"


def _one_error_line(result) -> str:
    lines = [l for l in result.err.splitlines() if l.strip()]
    assert result.code == 2, (result.code, result.err)
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert "internal error" not in result.err and "Traceback" not in result.err
    return lines[0]


@pytest.mark.parametrize(
    "args, needle",
    [
        (["run", "--bogus"], "No such option: --bogus"),
        (["frobnicate"], "No such command 'frobnicate'"),
        (["run", "--suite", "core", "--model", "bow", "--seeds", "abc"], "--seeds"),
        (["run", "--model", "bow"], "give --suite S"),
        (["report", "--format", "xx"], "--format xx"),
        (["run", "--suite", "core", "--model", "bow", "--seeds", "1000000000000"], "at most 1000 seeds"),
        (["run", "--suite", "core", "--model", "bow", "--protocol", "bogus"], "--protocol bogus"),
        (["run", "--suite", "core", "--model", "bow", "--cards", "no/such/dir"], "--cards no/such/dir"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(cli, tmp_path, args, needle):
    if "--cards" not in args and args[0] == "run" and "--suite" in args:
        args = args + ["--cards", str(write_suite(tmp_path, n_cards=1))]
    line = _one_error_line(cli(*args))
    assert needle in line


def test_impossible_seeds_are_refused_fast(cli, tmp_path):
    cards = write_suite(tmp_path, n_cards=1)
    start = time.perf_counter()
    _one_error_line(cli("run", "--suite", "core", "--model", "bow", "--cards", cards, "--seeds", 10**12, "--runs-dir", tmp_path / "r"))
    assert time.perf_counter() - start < 5


def test_a_suite_with_a_broken_card_names_the_cards_file_and_line(cli, tmp_path):
    cards = write_suite(tmp_path, n_cards=1)
    broken = cards / "core" / "core-sent0.yaml"
    body = yaml.safe_load(broken.read_text())
    body["task"] = "not-a-task"
    broken.write_text(yaml.safe_dump(body, sort_keys=False))
    line = _one_error_line(cli("run", "--suite", "core", "--model", "bow", "--cards", cards, "--runs-dir", tmp_path / "r"))
    assert "core-sent0.yaml:" in line and "task" in line


def test_ctrl_c_prints_one_interrupted_line_and_keeps_finished_unit_lines(tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=6, sizes=(400, 100, 100))
    db = tmp_path / "runs" / "polyglue.sqlite"
    proc = subprocess.Popen(
        [sys.executable, "-c", ENTRY, "run", "--suite", "core", "--cards", str(cards), "--model", "bow", "--seeds", "3",
         "--runs-dir", str(tmp_path / "runs"), "--quiet"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ),
    )
    import sqlite3

    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if db.exists():
            try:
                conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
                done = conn.execute("SELECT count(*) FROM units WHERE status = 'done'").fetchone()[0]
                conn.close()
            except sqlite3.OperationalError:
                done = 0
            if done >= 2:  # the first unit's line is surely printed once the second is stored
                break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    lines = [l for l in err.splitlines() if l.strip()]
    assert lines[-1].startswith("interrupted; rerun"), err
    assert sum(l.startswith("interrupted") for l in lines) == 1
    assert any(l.startswith("✓ ") for l in lines), err
    assert "Traceback" not in err
