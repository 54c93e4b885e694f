"""How long contributor CI's `bench validate --changed` takes on a large card tree.

Builds a temporary git repository with SUITES x CARDS generated cards (local sources, no data
read), commits it, edits one card, then times in fresh processes:
  baseline  python -c "import polyglue.cli"   (interpreter + CLI import: the floor)
  full      bench validate --cards cards        (every card)
  changed   bench validate --changed --base HEAD --cards cards
and prints seconds (median of REPEATS) and the ratio to the baseline.

    .venv/bin/python perf/validate_changed.py [--suites 50] [--cards 6] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.fixtures.contrib_data import local_source, nli_card, suite_body, write_yaml  # noqa: E402

GIT_ENV = {"GIT_AUTHOR_NAME": "p", "GIT_AUTHOR_EMAIL": "p@example.org", "GIT_COMMITTER_NAME": "p", "GIT_COMMITTER_EMAIL": "p@example.org"}


def timed(argv: list[str], cwd: Path, repeats: int) -> tuple[float, int]:
    runs, code = [], 0
    for _ in range(repeats):
        start = time.perf_counter()
        code = subprocess.run(argv, cwd=cwd, capture_output=True, env={**os.environ, **GIT_ENV}).returncode
        runs.append(time.perf_counter() - start)
    return statistics.median(runs), code


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--suites", type=int, default=50)
    ap.add_argument("--cards", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp)
        for s in range(args.suites):
            names = [f"s{s}-c{c}" for c in range(args.cards)]
            write_yaml(repo / "cards" / f"s{s}" / "suite.yaml", suite_body(f"s{s}", names))
            for name in names:
                write_yaml(repo / "cards" / f"s{s}" / f"{name}.yaml", nli_card(name, local_source()))
        for cmd in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "cards"]):
            subprocess.run(["git", *cmd], cwd=repo, check=True, env={**os.environ, **GIT_ENV})
        edited = repo / "cards" / "s0" / "s0-c0.yaml"
        edited.write_text(edited.read_text(encoding="utf-8").replace("Generated NLI card", "Edited card"), encoding="utf-8")
        bench = [sys.executable, "-c", "import sys; from polyglue.cli import main; sys.exit(main(sys.argv[1:]))"]
        base, _ = timed([sys.executable, "-c", "import polyglue.cli"], repo, args.repeats)
        full, full_code = timed([*bench, "validate", "--cards", "cards"], repo, args.repeats)
        changed, changed_code = timed([*bench, "validate", "--changed", "--base", "HEAD", "--cards", "cards"], repo, args.repeats)
    n = args.suites * (args.cards + 1)
    print(f"{n} card/suite files, median of {args.repeats} runs each")
    print(f"  baseline (import polyglue.cli)      {base:6.2f} s")
    print(f"  bench validate (all)                  {full:6.2f} s  {full / base:5.1f}x baseline  exit {full_code}")
    print(f"  bench validate --changed --base HEAD  {changed:6.2f} s  {changed / base:5.1f}x baseline  exit {changed_code}")


if __name__ == "__main__":
    main()
