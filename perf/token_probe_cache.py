"""Frozen token probe: encoder states read from the cache vs recomputed every epoch.

The same unit twice — the `probe` protocol of a token-classification card (AnCora-ca-NER
mirror: format-faithful CoNLL, invented sentences) with a small random BERT, 20 epochs,
same seed — once as shipped (`polyglue.langkits.token_features`: the encoder runs once
per input, later epochs, validation passes and predictions read its states) and once
with the cache detached (the encoder runs on every batch of every epoch, as before).
Both start from an empty cache. Reported: unit seconds, the ratio, and every metric of
both runs (they should agree up to fp16 storage of the states).

    .venv/bin/python perf/token_probe_cache.py [--train 600] [--epochs 20] [--hidden 256 --layers 4]

Target (issue 16): at least 5x faster with the cache, same metrics.
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


def run_unit(work: Path, data: Path, model: Path, cached: bool, epochs: float, threads: int) -> tuple[float, object]:
    from polyglue.cli.options import registry
    from polyglue.langkits.protocols import finetune
    from polyglue.runs.execute import execute
    from polyglue.runs.plan import RunRequest, plan_run

    cache = work / ("cache-on" if cached else "cache-off")
    shutil.rmtree(cache, ignore_errors=True)
    os.environ["POLYGLUE_CACHE"] = str(cache)
    saved_epochs, saved_attach = finetune.PROBE_EPOCHS, finetune.attach_state_cache
    finetune.PROBE_EPOCHS = epochs
    if not cached:
        finetune.attach_state_cache = lambda m, ctx: None
    try:
        request = RunRequest(suite="club", models=[f"small=hf:{model}"], tasks=["ancora-ca-ner"], protocol="probe", data_dir=data, threads=threads, cache_dir=cache)
        (task,) = plan_run(registry(None), request).tasks
        t0 = time.perf_counter()
        result = execute(task)
        return time.perf_counter() - t0, result
    finally:
        finetune.PROBE_EPOCHS, finetune.attach_state_cache = saved_epochs, saved_attach


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=600, help="training sentences")
    parser.add_argument("--eval", type=int, default=150, help="validation and test sentences")
    parser.add_argument("--epochs", type=float, default=20)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

    from polyglue.langkits.encoders.tiny import build_tiny_bert
    from tests.fixtures.text_mirrors import all_texts, write_mirror

    work = Path(tempfile.mkdtemp(prefix="polyglue-perf-token-"))
    sizes = {"ancora-ca-ner": {"train": args.train, "validation": args.eval, "test": args.eval}}
    data = write_mirror(work / "data", "club", ["ancora-ca-ner"], n=sizes)
    model = build_tiny_bert(work / "bert", all_texts(), vocab_size=2000, hidden_size=args.hidden, layers=args.layers,
                            heads=max(1, args.hidden // 64), max_positions=512)
    run_unit(work, data, model, cached=True, epochs=1, threads=args.threads)  # warm-up: imports, first kernels (not counted)
    off_s, off = run_unit(work, data, model, cached=False, epochs=args.epochs, threads=args.threads)
    on_s, on = run_unit(work, data, model, cached=True, epochs=args.epochs, threads=args.threads)
    print(f"token probe, {args.epochs:g} epochs, {args.train} train / {args.eval} eval sentences, BERT {args.layers}x{args.hidden}, {args.threads} threads")
    print(f"  recompute every epoch: {off_s:8.1f} s")
    print(f"  cached encoder states: {on_s:8.1f} s   ({off_s / on_s:.1f}x faster)  {on.extras.get('token_states')}")
    for role in sorted(off.metrics):
        for name, value in sorted(off.metrics[role].items()):
            other = on.metrics.get(role, {}).get(name)
            print(f"  {role:<10} {name:<20} recompute {value:.4f}  cached {other:.4f}  diff {other - value:+.4f}")
    print(f"  selected epoch: recompute {off.extras['selection']['epoch']}, cached {on.extras['selection']['epoch']}")


if __name__ == "__main__":
    main()
