"""Wall time of the light commands over every built-in card, against a bare interpreter start.

Target (issue 2): `bench list` and `bench validate` under 1 second each.
Run: `.venv/bin/python perf/light_commands.py [--repeat 7]`
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(sys.executable).with_name("bench")


def wall(cmd: list[str], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, check=False, capture_output=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    baseline = wall([sys.executable, "-c", "pass"], args.repeat)
    n_cards = subprocess.run([str(BENCH), "list", "cards"], capture_output=True, text=True).stdout.count("\n") - 1
    print(f"built-in cards: {n_cards}; median of {args.repeat} runs")
    print(f"{'command':<22}{'wall s':>8}{'x python -c pass':>18}  target")
    print(f"{'python -c pass':<22}{baseline:>8.3f}{1.0:>18.1f}")
    for name, cmd in [("bench list", ["list"]), ("bench list cards", ["list", "cards"]), ("bench validate", ["validate"])]:
        t = wall([str(BENCH), *cmd], args.repeat)
        print(f"{name:<22}{t:>8.3f}{t / baseline:>18.1f}  {'ok' if t < 1.0 else 'OVER'} (< 1 s)")


if __name__ == "__main__":
    main()
