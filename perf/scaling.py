"""How cost grows with the work: wall time and peak RSS at 1x, 4x and 16x data; local vs Ray.

Each measurement is a fresh `bench run` process with an empty runs directory and feature
cache, so nothing is reused; peak RSS is that process's own maximum resident set size
(`os.wait4`). Time should grow about linearly with data; peak memory should stay nearly
flat where data is streamed or features are memory-mapped.

    .venv/bin/python perf/scaling.py text            # synthetic text card, tiny transformer fine-tune
    .venv/bin/python perf/scaling.py speech          # synthetic Kathbath corpus, fbank + SID head
    .venv/bin/python perf/scaling.py backends        # the same unit grid on the local backend and on Ray (2 workers)
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ENTRY = "import sys; from benchmarks.cli import main; sys.exit(main(sys.argv[1:]))"


def measure(args: list[str], env: dict) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MiB, exit code) of one `bench` process."""
    start = time.perf_counter()
    pid = os.spawnve(os.P_NOWAIT, sys.executable, [sys.executable, "-c", ENTRY, *map(str, args)], env)
    _, status, usage = os.wait4(pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def fresh_env(work: Path) -> dict:
    env = dict(os.environ, POLYGLUE_CACHE=str(work / "cache"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", RAY_AUTH_MODE="disabled")
    shutil.rmtree(work / "cache", ignore_errors=True)
    return env


def print_table(title: str, rows: list[dict]) -> None:
    base = rows[0]
    print(f"\n{title}")
    print(f"{'scale':>6} {'examples':>9} {'wall s':>8} {'x time':>7} {'peak RSS MiB':>13} {'x RSS':>6}")
    for r in rows:
        print(f"{r['scale']:>5}x {r['n']:>9} {r['wall']:>8.1f} {r['wall'] / base['wall']:>7.2f} {r['rss']:>13.0f} {r['rss'] / base['rss']:>6.2f}")


def text_scaling(scales: list[int], base: int, work: Path) -> list[dict]:
    from benchmarks.demo.generate import corpus, write_demo_suite
    from langkits.encoders.tiny import build_tiny_bert

    rows = []
    model = None
    for scale in scales:
        root = work / f"text-{scale}"
        n = base * scale
        cards = write_demo_suite(root, sizes={"train": n, "validation": 200, "test": 200})
        if model is None:
            model = build_tiny_bert(work / "tiny-bert", corpus(root))
        args = ["run", "--suite", "demo", "--cards", cards, "--tasks", "demo-cat-sentiment", "--model", f"tiny=hf:{model}",
                "--protocol", "finetune", "--runs-dir", root / "runs", "--quiet"]
        wall, rss, code = measure(args, fresh_env(work))
        if code != 0:
            raise SystemExit(f"text run at {scale}x failed (exit {code})")
        rows.append({"scale": scale, "n": n, "wall": wall, "rss": rss})
    return rows


def speech_scaling(scales: list[int], base: int, work: Path) -> list[dict]:
    from speech.synth import write_kathbath_corpus

    rows = []
    for scale in scales:
        root = work / f"speech-{scale}"
        n = write_kathbath_corpus(root / "data" / "indicsuperb", languages=("hi",), speakers=4, utterances_per_speaker=base * scale, seed=0)
        args = ["run", "--suite", "indicsuperb", "--tasks", "sid", "--model", "fbank", "--data-dir", root / "data",
                "--languages", "hi", "--runs-dir", root / "runs", "--quiet"]
        wall, rss, code = measure(args, fresh_env(work))
        if code != 0:
            raise SystemExit(f"speech run at {scale}x failed (exit {code})")
        rows.append({"scale": scale, "n": n, "wall": wall, "rss": rss})
    return rows


def backends(work: Path, repeats: int) -> None:
    from benchmarks.demo.generate import write_demo_suite

    cards = write_demo_suite(work / "grid", sizes={"train": 2000, "validation": 300, "test": 300})
    results = {}
    for name, extra in [("local", []), ("ray (2 workers)", ["--backend", "ray"])]:
        walls = []
        for i in range(repeats):
            runs = work / "grid" / f"runs-{len(results)}-{i}"
            args = ["run", "--suite", "demo", "--cards", cards, "--model", "bow", "--seeds", "2", "--runs-dir", runs, "--quiet", *extra]
            wall, _, code = measure(args, fresh_env(work))
            if code != 0:
                raise SystemExit(f"{name} run failed (exit {code})")
            walls.append(wall)
        results[name] = min(walls)
    units = 9 * 2
    print(f"\nthroughput on {os.cpu_count()} cores, {units} bow units (9 cards x 2 seeds), best of {repeats}, process start included")
    local = results["local"]
    for name, wall in results.items():
        print(f"{name:<16} {wall:>7.1f} s  {units / wall:>6.2f} units/s  x{local / wall:.2f} vs local")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["text", "speech", "backends", "all"])
    parser.add_argument("--scales", default="1,4,16")
    parser.add_argument("--text-base", type=int, default=250, help="train examples at 1x")
    parser.add_argument("--speech-base", type=int, default=3, help="utterances per speaker at 1x")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    work = Path(tempfile.mkdtemp(prefix="polyglue-scaling-"))
    try:
        if args.what in ("text", "all"):
            print_table("text: tiny transformer fine-tune, one card", text_scaling(scales, args.text_base, work))
        if args.what in ("speech", "all"):
            print_table("speech: fbank + SID head, one language", speech_scaling(scales, args.speech_base, work))
        if args.what in ("backends", "all"):
            backends(work, args.repeats)
    finally:
        if args.keep:
            print(f"\nwork folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
