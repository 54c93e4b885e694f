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
ENTRY = "import sys; from polyglue.cli import main; sys.exit(main(sys.argv[1:]))"


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


def unit_seconds(runs_dir: Path) -> float:
    """Time spent inside units (process start-up and imports excluded), from the results store."""
    import sqlite3

    conn = sqlite3.connect(runs_dir / "polyglue.sqlite")
    try:
        return float(conn.execute("SELECT SUM(duration_s) FROM units").fetchone()[0])
    finally:
        conn.close()


def print_table(title: str, rows: list[dict]) -> None:
    base = rows[0]
    print(f"\n{title}")
    print(f"{'scale':>6} {'examples':>9} {'wall s':>8} {'unit s':>8} {'x unit s':>9} {'peak RSS MiB':>13} {'x RSS':>6}")
    for r in rows:
        print(f"{r['scale']:>5}x {r['n']:>9} {r['wall']:>8.1f} {r['unit']:>8.1f} {r['unit'] / base['unit']:>9.2f} {r['rss']:>13.0f} {r['rss'] / base['rss']:>6.2f}")
    # Fixed costs (imports, model load) hide proportionality at small scales: the marginal cost should be constant.
    for a, b in zip(rows, rows[1:]):
        per_k = 1000 * (b["unit"] - a["unit"]) / (b["n"] - a["n"])
        print(f"  marginal {a['scale']}x->{b['scale']}x: {per_k:.2f} unit-seconds per 1000 extra examples")


def text_scaling(scales: list[int], base: int, work: Path) -> list[dict]:
    from polyglue.demo.generate import corpus, write_demo_suite
    from polyglue.langkits.encoders.tiny import build_tiny_bert

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
        rows.append({"scale": scale, "n": n, "wall": wall, "rss": rss, "unit": unit_seconds(root / "runs")})
    return rows


def speech_scaling(scales: list[int], base: int, work: Path) -> list[dict]:
    """SID on one synthetic language; 3 epochs of head training at every scale (steps grow with data)."""
    import math

    from polyglue.demo.speech_corpus import CorpusSize, write_kathbath_corpus

    speakers, batch = 4, 64
    rows = []
    for scale in scales:
        root = work / f"speech-{scale}"
        per_speaker = base * scale
        size = CorpusSize(train_speakers=speakers, train_per_speaker=per_speaker, valid_per_speaker=2, test_known_per_speaker=2)
        write_kathbath_corpus(root / "data" / "indicsuperb", ("hindi",), size=size, tasks=("utterances",))
        n = speakers * per_speaker
        steps = 3 * math.ceil(n / batch)
        args = ["run", "--suite", "indicsuperb", "--tasks", "indicsuperb-sid", "--model", "fbank", "--data-dir", root / "data",
                "--languages", "hi", "--max-steps", steps, "--runs-dir", root / "runs", "--quiet"]
        wall, rss, code = measure(args, fresh_env(work))
        if code != 0:
            raise SystemExit(f"speech run at {scale}x failed (exit {code})")
        rows.append({"scale": scale, "n": n, "wall": wall, "rss": rss, "unit": unit_seconds(root / "runs")})
    return rows


def backends(work: Path, repeats: int) -> None:
    """The same grid on the local backend and on a fresh local Ray cluster with 2 workers.

    Two grids: many short weight-free units (scheduling overhead dominates) and fewer
    tiny-transformer fine-tunes (compute dominates).
    """
    from polyglue.demo.generate import corpus, write_demo_suite
    from polyglue.langkits.encoders.tiny import build_tiny_bert

    cards = write_demo_suite(work / "grid", sizes={"train": 2000, "validation": 300, "test": 300})
    model = build_tiny_bert(work / "grid-tiny", corpus(work / "grid"))
    grids = {
        "bow, 9 cards x 2 seeds": (["--model", "bow", "--seeds", "2"], 18),
        "tiny fine-tune, 3 cards x 2 seeds": (["--model", f"tiny=hf:{model}", "--protocol", "finetune", "--seeds", "2",
                                               "--tasks", "demo-cat-sentiment,demo-ell-nli,demo-zho-sts"], 6),
    }
    print(f"\nthroughput on {os.cpu_count()} cores, best of {repeats}, process start (and Ray start) included")
    for title, (grid_args, units) in grids.items():
        results = {}
        for name, extra in [("local", []), ("ray (2 workers)", ["--backend", "ray"])]:
            walls = []
            for i in range(repeats):
                runs = work / "grid" / f"runs-{abs(hash((title, name)))}-{i}"
                args = ["run", "--suite", "demo", "--cards", cards, *grid_args, "--runs-dir", runs, "--quiet", *extra]
                wall, _, code = measure(args, fresh_env(work))
                if code != 0:
                    raise SystemExit(f"{name} run failed (exit {code})")
                walls.append(wall)
            results[name] = min(walls)
        print(f"{title} ({units} units)")
        for name, wall in results.items():
            print(f"  {name:<16} {wall:>7.1f} s  {units / wall:>6.2f} units/s  x{results['local'] / wall:.2f} vs local")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["text", "speech", "backends", "all"])
    parser.add_argument("--scales", default="1,4,16")
    parser.add_argument("--text-base", type=int, default=1000, help="train examples at 1x")
    parser.add_argument("--speech-base", type=int, default=64, help="training utterances per speaker at 1x (4 speakers)")
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    scales = [int(s) for s in args.scales.split(",")]
    work = Path(tempfile.mkdtemp(prefix="polyglue-scaling-"))
    try:
        if args.what in ("text", "all"):
            print_table("text: tiny transformer fine-tune, one card", text_scaling(scales, args.text_base, work))
        if args.what in ("speech", "all"):
            print_table("speech: fbank + SID head (3 epochs), one language", speech_scaling(scales, args.speech_base, work))
        if args.what in ("backends", "all"):
            backends(work, args.repeats)
    finally:
        if args.keep:
            print(f"\nwork folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
