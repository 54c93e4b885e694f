"""What measuring efficiency figures adds to a sentence `probe` unit (target: ≤ 5% of the unit).

A `probe` unit encodes train and evaluation sentences once (mean-pooled, feature cache),
fits a logistic head over its regularisation grid, scores, then measures its whole
inference path (`polyglue.efficiency`: the encoder run uncached, the scaling, the head).
The measurement is a bounded cost (a time-bounded batch-1 sample, FLOPs of 4 examples kept
per process by model and text; throughput measured in batches for the BERT, whose evaluation
pass reads the feature cache, and taken from the unit's own evaluation pass for `bow`), so
its share falls as the unit grows; this script states it at a given size for a random BERT
and for `bow`.

Each model runs two seeds in one process: seed 0 pays the encoding and the FLOP counts
("cold"); seed 1 reads its features from the cache and its FLOP counts from the process's
store ("warm", the cheapest unit, so the largest share).

    .venv/bin/python -m perf.probe_efficiency_share [--train 2000] [--validation 500] [--hidden 256] [--layers 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

from perf.text_common import sentences, small_bert, write_json
from perf.text_finetune_vs_trainer import SUITE, write_suite


def run_units(cards: Path, data: Path, model: str, cache: Path) -> list[dict]:
    from polyglue.cards.registry import Registry
    from polyglue.runs.execute import execute
    from polyglue.runs.plan import RunRequest, plan_run

    request = RunRequest(suite=SUITE, models=[model], protocol="probe", seeds=2, data_dir=data, device="cpu", cache_dir=cache)
    rows = []
    for task in plan_run(Registry.discover([cards]), request).tasks:
        result = execute(task)
        timings = result.extras["timings"]
        record = result.extras["efficiency"]
        rows.append({
            "seed": task.unit.seed, "total_s": timings["total_s"], "efficiency_s": timings["efficiency_s"],
            "share": round(timings["efficiency_s"] / timings["total_s"], 4),
            "encode_s": timings.get("encode_s"), "fit_s": timings.get("fit_s"),
            "sample": record.get("sample"), "batches": record.get("batches"), "flops_cached": record.get("flops_cached"),
            "throughput_source": record.get("throughput_source"),
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--validation", type=int, default=500)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    args.epochs, args.lr, args.batch_size = 1, 1e-3, 32  # write_suite's card fields (the probe uses its own head grid)

    from polyglue.torch_compat import prepare

    prepare()
    import torch

    torch.set_num_threads(args.threads)
    texts, labels = sentences(args.train + args.validation, seed=3)
    work = Path(tempfile.mkdtemp(prefix="polyglue-perf-probe-eff-"))
    model_dir = small_bert(work / "model", texts, hidden=args.hidden, layers=args.layers, heads=max(1, args.hidden // 64))
    cards, data = write_suite(work, args, texts, labels)
    load_before = os.getloadavg()
    payload = {
        "size": {"train": args.train, "validation": args.validation, "hidden": args.hidden, "layers": args.layers, "threads": args.threads},
        "hf": run_units(cards, data, f"hf:{model_dir}", work / "cache"),
        "bow": run_units(cards, data, "bow", work / "cache"),
        "load_average_1_5_15": {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]},
    }
    for name in ("hf", "bow"):
        for row in payload[name]:
            print(f"{name} seed {row['seed']}: unit {row['total_s']:.2f} s, measuring {row['efficiency_s']:.3f} s, "
                  f"share {100 * row['share']:.1f}% (target <= 5%); sample {row['sample']}, batches {row['batches']}, flops_cached {row['flops_cached']}, "
                  f"throughput from {row['throughput_source']}")
    print(f"load average before/after: {payload['load_average_1_5_15']}")
    if args.out:
        write_json(args.out, payload)


if __name__ == "__main__":
    main()
