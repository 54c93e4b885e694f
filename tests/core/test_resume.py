"""A run killed with SIGKILL part-way resumes: nothing finished is lost or recomputed, results are identical."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from tests.fixtures.core_suite import write_suite
from tests.fixtures.store_rows import units

ENTRY = "import sys; from polyglue.cli import main; sys.exit(main(sys.argv[1:]))"


def bench(*args, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, POLYGLUE_DEBUG="1")
    return subprocess.Popen([sys.executable, "-c", ENTRY, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, **kwargs)


@pytest.mark.slow
def test_sigkill_then_rerun_matches_an_uninterrupted_run_and_recomputes_nothing_finished(tmp_path, tiny_bert):
    cards = write_suite(tmp_path / "suite", n_cards=3)
    args = ["run", "--suite", "core", "--cards", cards, "--model", "bow", "--model", f"tiny=hf:{tiny_bert}", "--quiet"]

    reference = bench(*args, "--runs-dir", tmp_path / "a")
    assert reference.wait(timeout=600) == 0, reference.stderr.read()
    expected = units(tmp_path / "a" / "polyglue.sqlite")
    assert len(expected) == 8 and all(u["status"] == "done" for u in expected.values())

    db = tmp_path / "b" / "polyglue.sqlite"
    victim = bench(*args, "--runs-dir", tmp_path / "b")
    deadline = time.time() + 300
    while time.time() < deadline:
        state = units(db) if db.exists() else {}
        done = [u for u in state.values() if u["status"] == "done"]
        if len(done) >= 3 and any(u["status"] == "running" for u in state.values()):
            break
        assert victim.poll() is None, "the run finished before it could be killed"
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    before = units(db)
    finished_before = {k: u["finished_at"] for k, u in before.items() if u["status"] == "done"}
    interrupted = [k for k, u in before.items() if u["status"] == "running"]
    assert finished_before and interrupted and len(finished_before) < 8

    rerun = bench(*args, "--runs-dir", tmp_path / "b")
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read()
    after = units(db)
    assert set(after) == set(expected)
    assert all(u["status"] == "done" for u in after.values())
    # Finished units were reused, not recomputed: same finish time, one attempt.
    for key, finished_at in finished_before.items():
        assert after[key]["finished_at"] == finished_at and after[key]["attempts"] == 1
    # The unit that was running when killed was redone.
    assert all(after[k]["attempts"] == 2 for k in interrupted)
    # Results are identical to the uninterrupted run, unit by unit.
    for key, unit in expected.items():
        assert after[key]["metrics_json"] == unit["metrics_json"]
        assert (tmp_path / "b" / after[key]["predictions_path"]).read_text() == (tmp_path / "a" / unit["predictions_path"]).read_text()
