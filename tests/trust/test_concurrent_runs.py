"""Several `bench run` processes on one runs dir lose and double nothing, even when one is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from tests.fixtures.core_suite import write_suite
from tests.fixtures.store_rows import units as _units

ENTRY = "import sys; from polyglue.cli import main; sys.exit(main(sys.argv[1:]))"


def _bench(cards, runs, *extra) -> subprocess.Popen:
    args = ["run", "--suite", "core", "--cards", str(cards), "--model", "bow", "--seeds", "2", "--runs-dir", str(runs), "--quiet", *extra]
    return subprocess.Popen([sys.executable, "-c", ENTRY, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=dict(os.environ))


def _run_here(cli, cards, runs, *extra):
    """The same run in this process (cheaper than a new interpreter; its lease is this test's pid)."""
    return cli("run", "--suite", "core", "--cards", cards, "--model", "bow", "--seeds", "2", "--runs-dir", runs, "--quiet", *extra)


def test_three_processes_share_the_units_and_compute_each_once(tmp_path, cli):
    cards = write_suite(tmp_path / "s", n_cards=2, sizes=(300, 60, 60))
    runs = tmp_path / "runs"
    procs = [_bench(cards, runs) for _ in range(3)]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    units = _units(runs / "polyglue.sqlite")
    assert len(units) == 6 and all(u["status"] == "done" for u in units.values())
    # A unit is computed once: one attempt each, and never started again by a later process.
    assert all(u["attempts"] == 1 for u in units.values()), {k: u["attempts"] for k, u in units.items()}
    again = _run_here(cli, cards, runs)
    assert again.code == 0 and "0 run, 6 reused" in again.err, again.err


def test_a_done_unit_survives_a_second_process_and_a_sigkill(tmp_path, cli):
    from polyglue.runs.store import Store

    cards = write_suite(tmp_path / "s", n_cards=1, sizes=(300, 60, 60))
    runs = tmp_path / "runs"
    assert _run_here(cli, cards, runs).code == 0
    db = runs / "polyglue.sqlite"
    before = _units(db)

    # A second run started by hand must not re-mark the finished units as running.
    second = _bench(cards, runs, "--seeds", "3")  # one new seed per card, the rest reused
    deadline = time.time() + 120
    while time.time() < deadline and second.poll() is None:
        state = _units(db)
        if any(u["status"] == "running" for u in state.values()):
            break
        time.sleep(0.01)
    second.send_signal(signal.SIGKILL)
    second.wait(timeout=30)
    after = _units(db)
    for key, unit in before.items():
        assert after[key]["status"] == "done" and after[key]["finished_at"] == unit["finished_at"] and after[key]["attempts"] == 1

    # The killed process's lease is gone with it: a unit it left running is redone, not skipped forever.
    store = Store(runs)
    try:
        for key, unit in after.items():
            if unit["status"] == "running":
                assert not store.lease_alive(store.get(key))
    finally:
        store.close()
    assert _run_here(cli, cards, runs, "--seeds", "3").code == 0
    final = _units(db)
    assert len(final) == 6 and all(u["status"] == "done" for u in final.values())


def test_a_unit_with_a_live_lease_is_left_to_its_owner(tmp_path, cli):
    """A unit claimed by a live process (here: a sleeping child) is not started by another run."""
    from polyglue.runs.store import Store

    cards = write_suite(tmp_path / "s", n_cards=1, sizes=(300, 60, 60))
    runs = tmp_path / "runs"
    assert _run_here(cli, cards, runs, "--seeds", "1").code == 0
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        store = Store(runs)
        (key,) = [k for k, u in _units(runs / "polyglue.sqlite").items() if u["card"] == "core-sim"]
        store.conn.execute("UPDATE units SET status = 'running', owner_host = ?, owner_pid = ? WHERE key = ?", (store.owner[0], sleeper.pid, key))
        store.close()
        other = _run_here(cli, cards, runs, "--seeds", "1")
        assert other.code == 0 and f"left to pid {sleeper.pid}" in other.err, other.err
        assert _units(runs / "polyglue.sqlite")[key]["status"] == "running"
    finally:
        sleeper.kill()
        sleeper.wait()
    rerun = _run_here(cli, cards, runs, "--seeds", "1")  # the owner is gone: its lease expired, the unit is redone
    assert rerun.code == 0 and "1 run, 1 reused" in rerun.err, rerun.err
