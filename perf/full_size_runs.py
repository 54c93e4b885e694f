"""`bench run` per card on full-size synthetic data (bow by default): wall time, peak RSS, where the time goes.

For each card, a fresh `bench run` process (empty runs directory and cache) on data from
`perf/full_size_suites.py`; peak RSS is that process's own maximum resident set
(`os.wait4`), the split comes from the unit's recorded timings: `load_s`
(materialisation: reading the files into Arrow tables, label columns as class ids),
`tokenise_s` (the kit's text normalisation, then bow's lowercasing, code points, character
classes, word boundaries), `features_s` (n-gram hashing, CSR matrices,
pair blocks), `fit_s` (the head and its selection grid), and the rest of the unit
(predictions, metrics, efficiency figures). Encoders that do not report their tokenisation
time (an `hf:` probe; code older than this split, e.g. a `--baseline`) show `tokenise` as
`-` and their whole `encode_s` under `features`. The `load+tok` column is the issue's
"materialisation and tokenisation" share of the unit. `--linearity` instead runs MNLI at 1x/4x/16x of
`--base-rows` training rows and prints each step's time ratio (4.0 is linear).

    .venv/bin/python perf/full_size_runs.py --suite glue --cards cola,sst2 [--scale 1]
    .venv/bin/python perf/full_size_runs.py --linearity --base-rows 5000
    .venv/bin/python perf/full_size_runs.py --suite glue --cards sst2 --random-bert 768x12 --device cuda   # a probe
    .venv/bin/python perf/full_size_runs.py --suite glue --cards sst2 --baseline main   # before/after, same run

`--baseline REV` also runs every card with the code of git revision REV (exported to a
temporary tree laid out as the `polyglue` package and put first on `PYTHONPATH`, ahead of
the editable install), alternating baseline and current per card, and prints the ratios.

Targets (issue 16): peak RSS <= 4 GB for every bow card at full size; time linear in rows;
materialisation and tokenisation <= 20% of a bow unit.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
ENTRY = "import sys; from polyglue.cli import main; sys.exit(main(sys.argv[1:]))"


def bench(args: list[str], env: dict) -> tuple[float, float, int]:
    """(wall s, peak RSS MiB, exit code) of one `bench` process."""
    start = time.perf_counter()
    pid = os.spawnve(os.P_NOWAIT, sys.executable, [sys.executable, "-c", ENTRY, *map(str, args)], env)
    _, status, usage = os.wait4(pid, 0)
    return time.perf_counter() - start, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def export_tree(rev: str, dest: Path) -> Path:
    """REV's code as an importable `polyglue` package under `dest`; returns the folder for PYTHONPATH."""
    src = dest / "src"
    src.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(src)], input=archive, check=True)
    package = src / "benchmarks"
    for folder, name in (("langkits", "langkits"), ("speech", "speech"), ("cards", "builtin_cards")):
        (package / name).symlink_to(src / folder, target_is_directory=True)
    (dest / "pkg").mkdir()
    (dest / "pkg" / "polyglue").symlink_to(package, target_is_directory=True)
    return dest / "pkg"


def unit_record(runs: Path) -> dict:
    conn = sqlite3.connect(runs / "polyglue.sqlite")
    try:
        duration, extras, error = conn.execute("SELECT duration_s, extras_json, error FROM units").fetchone()
    finally:
        conn.close()
    return {"duration_s": duration or 0.0, "extras": json.loads(extras) if extras else {}, "error": error}


def measure_card(work: Path, suite: str, card: str, sizes: dict, threads: int | None, model: str = "bow", extra: tuple = (),
                 code: Path | None = None, keep_data: bool = False, label_noise: float | None = None) -> dict:
    """One fresh `bench run` of one card; `code`: a `polyglue` tree to run instead of the installed one."""
    from perf.full_size_suites import LABEL_NOISE, write

    data = work / f"data-{card}"
    t0 = time.perf_counter()
    if not (data / ".complete").exists():
        shutil.rmtree(data, ignore_errors=True)
        write(data, suite, {card: sizes}, label_noise=LABEL_NOISE if label_noise is None else label_noise)
        (data / ".complete").touch()
    generate_s = time.perf_counter() - t0
    runs = work / f"runs-{card}"
    shutil.rmtree(runs, ignore_errors=True)
    shutil.rmtree(work / "cache", ignore_errors=True)
    env = dict(os.environ, POLYGLUE_CACHE=str(work / "cache"), HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    if code is not None:
        env["PYTHONPATH"] = os.pathsep.join([str(code), *filter(None, [env.get("PYTHONPATH")])])
    args = ["run", "--suite", suite, "--tasks", card, "--model", model, "--data-dir", data, "--runs-dir", runs, "-q", *extra]
    if threads:
        args += ["--threads", threads]
    wall, rss, code = bench(args, env)
    record = unit_record(runs) if code == 0 else {"duration_s": 0.0, "extras": {}, "error": f"exit {code}"}
    timings = record["extras"].get("timings", {})
    unit = record["duration_s"] or 1e-9
    split = {k: timings.get(k, 0.0) for k in ("load_s", "encode_s", "fit_s")}
    split["other_s"] = max(0.0, unit - sum(split.values()))
    tokenise = timings.get("tokenise_s")  # None: not reported (whole encode counted as features)
    split["tokenise_s"] = tokenise
    split["features_s"] = timings.get("features_s", split["encode_s"] - (tokenise or 0.0))
    split["blind_predict_s"] = timings.get("blind_predict_s")
    if not keep_data:
        shutil.rmtree(data, ignore_errors=True)
    return {"card": card, "rows": sum(sizes.values()), "train": sizes.get("train"), "generate_s": generate_s, "wall_s": wall, "loadavg": load_average(),
            "unit_s": unit, "rss_mib": rss, "code": code, **split,
            "load_encode_share": (split["load_s"] + split["encode_s"]) / unit,
            "load_tokenise_share": None if tokenise is None else (split["load_s"] + tokenise) / unit}


def load_average() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def print_rows(rows: list[dict]) -> None:
    print(f"{'card':<14} {'rows':>9} {'wall s':>8} {'unit s':>8} {'load':>7} {'tokenise':>8} {'features':>8} {'fit':>7} {'other':>7} "
          f"{'load+tok':>8} {'load+enc':>8} {'peak RSS MiB':>12} {'loadavg':>7}")
    for r in rows:
        tok = "-" if r["tokenise_s"] is None else f"{r['tokenise_s']:.1f}"
        share = "-" if r["load_tokenise_share"] is None else f"{r['load_tokenise_share']:.0%}"
        print(f"{r['card']:<14} {r['rows']:>9,} {r['wall_s']:>8.1f} {r['unit_s']:>8.1f} {r['load_s']:>7.1f} {tok:>8} {r['features_s']:>8.1f} {r['fit_s']:>7.1f} "
              f"{r['other_s']:>7.1f} {share:>8} {r['load_encode_share']:>8.0%} {r['rss_mib']:>12.0f} {r.get('loadavg', ''):>7}"
              + ("" if r["code"] == 0 else f"  FAILED ({r['code']})"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="glue")
    parser.add_argument("--cards", help="comma-separated cards (default: every card of the suite in perf/full_size_suites.py)")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--linearity", action="store_true", help="MNLI at 1x/4x/16x of --base-rows training rows")
    parser.add_argument("--base-rows", type=int, default=5000)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--random-bert", metavar="HIDDENxLAYERS", help="probe a random BERT of this size instead of bow (e.g. 768x12)")
    parser.add_argument("--device", help="passed to bench run (e.g. cuda)")
    parser.add_argument("--baseline", metavar="REV", help="also run each card with git revision REV's code (before/after in one run)")
    parser.add_argument("--out", type=Path, help="also write the rows as JSON here")
    parser.add_argument("--label-noise", type=float, help="fraction of classification labels redrawn at random (default: perf/full_size_suites.py's LABEL_NOISE)")
    args = parser.parse_args()
    from perf.full_size_suites import sizes_for

    work = Path(tempfile.mkdtemp(prefix="polyglue-perf-fullsize-"))
    rows = []
    model, extra = "bow", (("--device", args.device) if args.device else ())
    if args.random_bert:
        from polyglue.langkits.encoders.tiny import build_tiny_bert
        from tests.fixtures.text_mirrors import all_texts

        hidden, layers = (int(v) for v in args.random_bert.lower().split("x"))
        folder = build_tiny_bert(work / "bert", all_texts(), vocab_size=8000, hidden_size=hidden, layers=layers, heads=max(1, hidden // 64), max_positions=512)
        model, extra = f"bert{hidden}x{layers}=hf:{folder}", (*extra, "--protocol", "probe")
    if args.linearity:
        for factor in (1, 4, 16):
            sizes = sizes_for("glue", cards=["mnli"], rows={"mnli": args.base_rows * factor})["mnli"]
            rows.append({**measure_card(work, "glue", "mnli", sizes, args.threads, model, extra, label_noise=args.label_noise), "card": f"mnli {factor}x"})
        print_rows(rows)
        for a, b in zip(rows, rows[1:]):
            print(f"{a['card']} -> {b['card']}: unit time x{b['unit_s'] / a['unit_s']:.2f}, fit x{b['fit_s'] / max(a['fit_s'], 1e-9):.2f}, "
                  f"encode x{b['encode_s'] / max(a['encode_s'], 1e-9):.2f}, peak RSS x{b['rss_mib'] / a['rss_mib']:.2f} for x4 rows")
    else:
        baseline = export_tree(args.baseline, work / "baseline") if args.baseline else None
        for card, sizes in sizes_for(args.suite, scale=args.scale, cards=args.cards.split(",") if args.cards else None).items():
            if baseline is not None:
                before = {**measure_card(work, args.suite, card, sizes, args.threads, model, extra, code=baseline, keep_data=True, label_noise=args.label_noise),
                          "card": f"{card} ({args.baseline})"}
                rows.append(before)
                print_rows(rows[-1:])
            rows.append(measure_card(work, args.suite, card, sizes, args.threads, model, extra, label_noise=args.label_noise))
            print_rows(rows[-1:])
            if baseline is not None:
                after = rows[-1]
                print(f"{card}: unit x{after['unit_s'] / before['unit_s']:.2f}, encode x{after['encode_s'] / max(before['encode_s'], 1e-9):.2f}, "
                      f"fit x{after['fit_s'] / max(before['fit_s'], 1e-9):.2f}, peak RSS x{after['rss_mib'] / before['rss_mib']:.2f} (current / baseline)")
    if args.out:
        args.out.write_text(json.dumps(rows, indent=1) + "\n")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
