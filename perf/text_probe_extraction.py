"""Probe feature extraction vs a bare `model(**batch)` loop over the same batches.

Target (issue 3): `HFTextEncoder.encode` — tokenisation, length-sorted batching, forward
pass, mean pooling and fp16 cache writes — within 10% of a loop that only runs the model
over the same, already-built batches. Both use `torch.inference_mode`. Both loops use the same
model instance; runs alternate and the median ratio of `--repeats` pairs is reported, so
a busy shared CPU does not decide the outcome.

    .venv/bin/python perf/text_probe_extraction.py [--texts 3000] [--repeats 3] [--out FILE]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from perf.text_common import Timer, sentences, small_bert, write_json


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=3000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 keeps a shared CPU from dominating the ratio)")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()

    from polyglue.torch_compat import prepare

    prepare()
    import torch

    from polyglue.encoders import parse_encoder
    from polyglue.features import FeatureCache
    from polyglue.langkits.batching import collate
    from polyglue.langkits.encoders.hf_text import HFTextEncoder, length_sorted_batches
    from polyglue.langkits.tasks.base import model_inputs

    texts, _ = sentences(args.texts, seed=1)
    work = Path(tempfile.mkdtemp(prefix="polyglue-perf-probe-"))
    folder = small_bert(work / "model", texts, hidden=256, layers=4, heads=4)
    spec = parse_encoder(f"hf:{folder}")

    torch.set_num_threads(args.threads)
    reference = HFTextEncoder(spec, max_length=args.max_length, kit_name="default", device="cpu", cache=FeatureCache(work / "unused"), batch_size=args.batch_size)
    model = reference._load()  # one model instance for both loops; loading is not part of extraction

    def ours(run: int) -> float:
        reference.cache = FeatureCache(work / f"cache-{run}")  # empty cache: every text is encoded
        with Timer() as t:
            reference.encode(texts)
        return t.seconds

    tokenizer = reference.tokenizer
    enc = tokenizer(texts, truncation=True, max_length=reference.max_length)
    names = [n for n in ("input_ids", "token_type_ids") if n in enc]
    features = [{n: enc[n][i] for n in names} for i in range(len(texts))]
    groups = length_sorted_batches([len(f["input_ids"]) for f in features], args.batch_size)
    batches = [model_inputs(collate([features[i] for i in idx], tokenizer.pad_token_id)) for idx in groups]

    def bare() -> float:
        """The loop a user writes: tokenise each batch of texts, run the model."""
        with Timer() as t, torch.inference_mode():
            for idx in groups:
                batch = tokenizer([texts[i] for i in idx], padding=True, truncation=True, max_length=reference.max_length, return_tensors="pt")
                model(**batch)
        return t.seconds

    def forward_only() -> float:
        """Stricter: the model alone over the same batches, already tokenised and padded."""
        with Timer() as t, torch.inference_mode():
            for batch in batches:
                model(**batch)
        return t.seconds

    bare(), forward_only(), ours(-1)  # warm-up (first-call allocations)
    ours_s, bare_s, forward_s = [], [], []
    for run in range(args.repeats):
        ours_s.append(ours(run))
        bare_s.append(bare())
        forward_s.append(forward_only())
    median = statistics.median
    result = {
        "texts": args.texts, "batch_size": args.batch_size, "max_length": args.max_length,
        "model": "random BERT, hidden 256, 4 layers, 4 heads", "device": "cpu", "torch_threads": torch.get_num_threads(),
        "ours_s": [round(s, 3) for s in ours_s], "bare_s": [round(s, 3) for s in bare_s], "forward_only_s": [round(s, 3) for s in forward_s],
        "ratio_vs_bare_median": round(median(o / b for o, b in zip(ours_s, bare_s)), 3),
        "ratio_vs_forward_only_median": round(median(o / f for o, f in zip(ours_s, forward_s)), 3),
    }
    print(f"probe extraction: ours {median(ours_s):.2f}s; bare tokenise+model(**batch) loop {median(bare_s):.2f}s "
          f"(ratio {result['ratio_vs_bare_median']:.3f}, target <= 1.10); model-only {median(forward_s):.2f}s "
          f"(ratio {result['ratio_vs_forward_only_median']:.3f})")
    if args.out:
        write_json(args.out, result)


if __name__ == "__main__":
    main()
