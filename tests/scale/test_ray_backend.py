"""The Ray backend against a real local cluster started by the test on loopback."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fixtures.core_suite import NOUNS, sentiment_rows, write_suite

pytestmark = [pytest.mark.ray, pytest.mark.slow]
ray = pytest.importorskip("ray")
ENTRY = "import sys; from polyglue.cli import main; sys.exit(main(sys.argv[1:]))"
RAY = Path(sys.executable).with_name("ray")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """`ray start --head` on loopback with 2 CPUs; yields its address."""
    port = free_port()
    env = dict(os.environ, RAY_AUTH_MODE="disabled")
    tmp = tmp_path_factory.mktemp("ray")
    cmd = [str(RAY), "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
           "--include-dashboard", "false", "--temp-dir", str(tmp), "--disable-usage-stats"]
    started = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=120)
    assert started.returncode == 0, started.stderr
    yield f"127.0.0.1:{port}"
    subprocess.run([str(RAY), "stop", "--force"], capture_output=True, env=env, timeout=120)


def bench(*args) -> subprocess.Popen:
    env = dict(os.environ, RAY_AUTH_MODE="disabled", POLYGLUE_DEBUG="1")
    return subprocess.Popen([sys.executable, "-c", ENTRY, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str]:
    _, err = proc.communicate(timeout=timeout)
    return proc.returncode, err


def rows(runs_dir: Path) -> dict[str, dict]:
    conn = sqlite3.connect(runs_dir / "polyglue.sqlite")
    conn.row_factory = sqlite3.Row
    try:
        return {r["card"]: dict(r) for r in conn.execute("SELECT * FROM units")}
    finally:
        conn.close()


def slow_suite(root: Path) -> Path:
    """Three small cards plus one whose 12k-row train split keeps a worker busy for seconds."""
    cards = write_suite(root, n_cards=2)
    rng = random.Random(1)
    lines = []
    for row in sentiment_rows(rng, 12000):
        filler = " ".join(rng.choice(NOUNS) for _ in range(10))
        lines.append(json.dumps(dict(row, sentence=f"{row['sentence']} {filler}"), ensure_ascii=False))
    (root / "data" / "core-sent0" / "train.jsonl").write_text("\n".join(lines) + "\n")
    return cards


def unit_pids(card: str) -> list[int]:
    """Ray workers whose process title says they are running a unit of `card`."""
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if cmdline.startswith("ray::polyglue-unit") and f"core/{card} " in cmdline:
            pids.append(int(proc.name))
    return pids


def test_ray_gives_the_local_results_and_a_grid_resumes_across_backends(cluster, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=2)
    base = ["run", "--suite", "core", "--cards", cards, "--model", "bow", "--quiet"]
    code, err = finish(bench(*base, "--runs-dir", tmp_path / "local"))
    assert code == 0, err
    # Started locally, finished on Ray ...
    code, err = finish(bench(*base, "--tasks", "core-sent0", "--runs-dir", tmp_path / "mixed"))
    assert code == 0, err
    code, err = finish(bench(*base, "--backend", "ray", "--address", cluster, "--runs-dir", tmp_path / "mixed"))
    assert code == 0, err
    assert "3 unit(s): 2 run, 1 reused" in err
    # ... and the reverse.
    code, err = finish(bench(*base, "--tasks", "core-sim", "--backend", "ray", "--address", cluster, "--runs-dir", tmp_path / "reverse"))
    assert code == 0, err
    code, err = finish(bench(*base, "--runs-dir", tmp_path / "reverse"))
    assert code == 0 and "3 unit(s): 2 run, 1 reused" in err, err
    local = rows(tmp_path / "local")
    for other in (rows(tmp_path / "mixed"), rows(tmp_path / "reverse")):
        assert set(other) == set(local)
        for card, unit in local.items():
            assert other[card]["key"] == unit["key"]
            assert other[card]["metrics_json"] == unit["metrics_json"]


def test_a_worker_killed_mid_unit_is_retried_and_the_unit_finishes(cluster, tmp_path):
    cards = slow_suite(tmp_path / "s")
    run = bench("run", "--suite", "core", "--cards", cards, "--model", "bow", "--quiet", "--backend", "ray",
                "--address", cluster, "--runs-dir", tmp_path / "r", "--retries", "2")
    deadline = time.time() + 300
    while not unit_pids("core-sent0"):
        assert run.poll() is None and time.time() < deadline, "the slow unit never started"
        time.sleep(0.05)
    time.sleep(0.5)  # mid-unit
    for pid in unit_pids("core-sent0"):
        os.kill(pid, signal.SIGKILL)
    code, err = finish(run)
    assert code == 0, err
    done = rows(tmp_path / "r")
    assert {u["status"] for u in done.values()} == {"done"} and len(done) == 3
    assert json.loads(done["core-sent0"]["metrics_json"])["test"]["accuracy"] > 0.9


def test_a_unit_whose_worker_keeps_dying_fails_alone_after_bounded_retries(cluster, tmp_path):
    cards = slow_suite(tmp_path / "s")
    run = bench("run", "--suite", "core", "--cards", cards, "--model", "bow", "--quiet", "--backend", "ray",
                "--address", cluster, "--runs-dir", tmp_path / "r", "--retries", "1")
    kills = 0
    deadline = time.time() + 300
    while run.poll() is None and time.time() < deadline:
        for pid in unit_pids("core-sent0"):
            try:
                os.kill(pid, signal.SIGKILL)
                kills += 1
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    code, err = finish(run)
    assert code == 1, err
    assert kills >= 2
    state = rows(tmp_path / "r")
    assert state["core-sent0"]["status"] == "failed" and "worker lost 2 time(s)" in err
    assert state["core-sent1"]["status"] == "done" and state["core-sim"]["status"] == "done"


def test_with_equal_thread_counts_torch_units_are_bit_identical_across_backends(cluster, tmp_path, tiny_bert):
    cards = write_suite(tmp_path / "s", n_cards=1)
    base = ["run", "--suite", "core", "--cards", cards, "--model", f"tiny=hf:{tiny_bert}", "--protocol", "finetune",
            "--max-steps", "3", "--threads", "1", "--quiet"]
    code, err = finish(bench(*base, "--runs-dir", tmp_path / "local"))
    assert code == 0, err
    code, err = finish(bench(*base, "--backend", "ray", "--address", cluster, "--runs-dir", tmp_path / "ray"))
    assert code == 0, err
    local, remote = rows(tmp_path / "local"), rows(tmp_path / "ray")
    assert set(local) == set(remote) == {"core-sent0", "core-sim"}
    for card, unit in local.items():
        assert remote[card]["metrics_json"] == unit["metrics_json"]
        assert json.loads(remote[card]["extras_json"])["threads"] == 1
        assert (tmp_path / "ray" / remote[card]["predictions_path"]).read_text() == (tmp_path / "local" / unit["predictions_path"]).read_text()
