"""IndicSUPERB ASV head: training on cached, trimmed features vs re-encoding every crop (the official way).

Same corpus (synthetic Kathbath layout, ~3 s utterances, sox effects applied), seed, head
(`indic_asv`), batches: `--steps` AM-softmax steps reading crops from the feature cache
(`crop: cached`), then the same steps cutting the waveform and running the upstream on
every crop (`crop: reencode`, what s3prl does). Also: how far a cached-feature crop is from
a re-encoded crop of the same audio (mean relative L2 difference over frames and layers),
the cost of `crop: cached`'s missing edge context.

    .venv/bin/python perf/speech_asv_crops.py [--steps 20] [--crop 1.0] [--hidden 64]

Target (issue 11): training on the cache at least 10x faster than re-encoding.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def time_cached_vs_reencoded(features, train, targets, n_speakers: int, settings, crop_seconds: float) -> dict[str, float]:
    """Seconds to train the ASV head on crops cut from cached features vs crops re-encoded from the
    waveform every step (`crop: cached` vs `crop: reencode`), same utterances, settings and seed."""
    from polyglue.speech.runners.asv import IndicSpeakerEmbedder
    from polyglue.speech.training import Batcher, ReencodeBatcher, fit

    batchers = {
        "cached": Batcher(features, "cpu", crop_frames=int(crop_seconds * 1000 / features.upstream.frame_shift_ms)),
        "reencode": ReencodeBatcher(features, "cpu", crop_seconds=crop_seconds),
    }
    times = {}
    for name, batcher in batchers.items():
        def loss_of(model, idx, rng, batcher=batcher):
            x, lengths = batcher([train[i] for i in idx], rng)
            return model.loss(model(x, lengths), targets[idx])

        t0 = time.perf_counter()
        fit(lambda: IndicSpeakerEmbedder(features.layers, features.hidden, n_speakers), loss_of, len(train), None, settings)
        times[name] = time.perf_counter() - t0
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--crop", type=float, default=1.0, help="crop seconds (the recipe's is 8; utterances here are ~3 s)")
    parser.add_argument("--hidden", type=int, default=64)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="polyglue-perf-asv-"))
    os.environ["POLYGLUE_CACHE"] = str(work / "cache")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import torch

    from polyglue.demo.speech_corpus import CorpusSize, write_kathbath_corpus
    from polyglue.encoders import parse_encoder
    from polyglue.features import FeatureCache
    from polyglue.speech.corpus.kathbath import KathbathCorpus
    from polyglue.speech.effects import SoxEffects
    from polyglue.speech.featcache import UpstreamFeatures
    from polyglue.speech.tiny import build_tiny_wav2vec2
    from polyglue.speech.training import FitSettings, ReencodeBatcher
    from polyglue.speech.upstreams import build_upstream

    size = CorpusSize(train_speakers=4, train_per_speaker=4, valid_per_speaker=1, test_known_per_speaker=1,
                      test_speakers=1, test_per_speaker=1, words=(6, 7))
    write_kathbath_corpus(work / "corpus", ("hindi",), size=size, tasks=("utterances",))
    model_dir = build_tiny_wav2vec2(work / "w2v2", hidden_size=args.hidden, layers=3, heads=2, conv_dim=32)
    train = KathbathCorpus(work / "corpus").utterances("hi", "train")
    features = UpstreamFeatures(build_upstream(parse_encoder(f"hf:{model_dir}")), FeatureCache(), effects=SoxEffects())
    t0 = time.perf_counter()
    features.prepare(train)
    extract_s = time.perf_counter() - t0
    speakers = sorted({u.speaker for u in train})
    targets = torch.tensor([speakers.index(u.speaker) for u in train])
    settings = FitSettings(steps=args.steps, batch_size=8, learning_rates=(1e-4,), optimizer="adamw", weight_decay=0.01,
                           grad_clip=1000.0, evaluations=1)
    times = time_cached_vs_reencoded(features, train, targets, len(speakers), settings, args.crop)

    # cached crop vs re-encoded crop of the same window (1 s from the middle of each utterance)
    diffs = []
    frames = int(args.crop * 1000 / features.upstream.frame_shift_ms)
    for utt in train:
        cached = features.read(utt).astype(np.float32)
        if cached.shape[0] <= frames + 2:
            continue
        start = (cached.shape[0] - frames) // 2
        wav = ReencodeBatcher(features, "cpu", crop_seconds=args.crop).waveform(utt)
        fresh = features.upstream.forward([wav[start * 320 : start * 320 + int(args.crop * 16000)]])[0]
        n = min(len(fresh), frames)
        a, b = cached[start : start + n], fresh[:n]
        diffs.append(float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-9)))
    print(f"utterances {len(train)}, steps {args.steps}, crop {args.crop} s, upstream hidden {args.hidden}")
    print(f"one-off extraction (with sox effects): {extract_s:.2f} s")
    print(f"train cached: {times['cached']:.2f} s   reencode: {times['reencode']:.2f} s   ratio {times['reencode'] / times['cached']:.1f}x")
    if diffs:
        print(f"cached vs re-encoded crop features: mean relative L2 difference {np.mean(diffs):.3f} over {len(diffs)} utterances")


if __name__ == "__main__":
    main()
