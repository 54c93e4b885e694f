"""Head training on cached features vs recomputing the upstream every step (what s3prl does).

Same corpus, seed, head, batches and metric: a speaker-ID head (weighted layer sum, SUPERB
SID recipe) trained for 20 epochs on a synthetic Kathbath-layout corpus with a random
wav2vec2 upstream, once reading features from the polyglue cache and once running the
upstream on the batch's audio at every step (validation included). Also reports the
one-off extraction time and the cache's bytes per stored value.

    .venv/bin/python perf/speech_cache_speedup.py [--size small|base] [--epochs 20]

`--task asv` measures the IndicSUPERB ASV head instead (`indic_asv`: 5 TDNN layers, AM-softmax,
AdamW, clip 1000, batch 8 here): the official sox effects (`gain -3`, `silence ...`) applied
once at extraction and the trimmed features cropped from the cache (`crop: cached`), against
reading, trimming, cropping and encoding the waveform at every step (`crop: reencode`, what the
official code does), for `--steps` steps over the same batches:

    .venv/bin/python perf/speech_cache_speedup.py --task asv --size base [--steps 12]

Target (issues 4 and 11): training with the cache at least 10x faster than recomputing.
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = {
    "small": {"hidden_size": 256, "layers": 6, "heads": 4, "conv_dim": 256},
    "base": {"hidden_size": 768, "layers": 12, "heads": 12, "conv_dim": 512},  # wav2vec2-base dimensions
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--speakers", type=int, default=4)
    parser.add_argument("--per-speaker", type=int, default=8)
    parser.add_argument("--task", choices=("sid", "asv"), default="sid")
    parser.add_argument("--steps", type=int, default=12, help="--task asv: training steps of each run")
    args = parser.parse_args()
    if args.task == "asv":
        asv(args)
        return

    work = Path(tempfile.mkdtemp(prefix="polyglue-perf-speech-"))
    os.environ["POLYGLUE_CACHE"] = str(work / "cache")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch
    import torch.nn.functional as F

    from polyglue.demo.speech_corpus import CorpusSize, write_kathbath_corpus
    from polyglue.encoders import parse_encoder
    from polyglue.features import FeatureCache
    from polyglue.speech.audio import read_audio
    from polyglue.speech.corpus.kathbath import KathbathCorpus
    from polyglue.speech.featcache import UpstreamFeatures
    from polyglue.speech.runners.utterance import RECIPES, Classifier
    from polyglue.speech.tiny import build_tiny_wav2vec2
    from polyglue.speech.training import Batcher, FitSettings, fit
    from polyglue.speech.upstreams import build_upstream

    size = CorpusSize(train_speakers=args.speakers, train_per_speaker=args.per_speaker, valid_per_speaker=2, test_known_per_speaker=1,
                      test_speakers=1, test_per_speaker=1, words=(2, 3))
    write_kathbath_corpus(work / "corpus", ("hindi",), size=size, tasks=("utterances",))
    corpus = KathbathCorpus(work / "corpus")
    train, valid = corpus.utterances("hi", "train"), corpus.utterances("hi", "valid")
    seconds = sum(len(read_audio(u.path)) for u in train) / 16000
    model_dir = build_tiny_wav2vec2(work / "w2v", **SIZES[args.size])
    spec = parse_encoder(f"hf:{model_dir}")

    speakers = sorted({u.speaker for u in train})
    index = {s: i for i, s in enumerate(speakers)}
    targets = torch.tensor([index[u.speaker] for u in train])
    batch_size = 8
    settings = FitSettings(steps=args.epochs * math.ceil(len(train) / batch_size), batch_size=batch_size, learning_rates=(1e-3,),
                           evaluations=1, seed=0)
    torch.set_num_threads(torch.get_num_threads())

    def train_with(batcher, layers, hidden):
        def build():
            return Classifier(layers, hidden, len(speakers), RECIPES["speaker-id"])

        def loss_of(model, idx, rng):
            x, lengths = batcher([train[i] for i in idx])
            return F.cross_entropy(model(x, lengths), targets[idx])

        def validate(model):
            x, lengths = batcher(valid)
            pred = model(x, lengths).argmax(-1)
            return float((pred == torch.tensor([index[u.speaker] for u in valid])).float().mean())

        start = time.perf_counter()
        result = fit(build, loss_of, len(train), validate, settings)
        return time.perf_counter() - start, result.validation

    # --- with the cache: extract once, then train from disk
    features = UpstreamFeatures(build_upstream(spec), FeatureCache())
    t0 = time.perf_counter()
    features.prepare(train + valid)
    extract_s = time.perf_counter() - t0
    cached_s, cached_acc = train_with(Batcher(features, "cpu"), features.layers, features.hidden)

    # --- recomputing: read the batch's audio and run the upstream at every step (validation included), as
    # s3prl does. The computation is the cached one (one utterance per pass for this group-norm model),
    # so both runs see the same features up to float16 rounding; s3prl would pad a batch into one pass,
    # which is cheaper per step but lets padding change group-norm features.
    upstream = build_upstream(spec)

    def recompute(utts, rng=None):
        feats = upstream.forward([read_audio(u.path) for u in utts])
        lengths = torch.tensor([f.shape[0] for f in feats])
        x = torch.zeros(len(feats), feats[0].shape[1], int(lengths.max()), feats[0].shape[2])
        for row, f in enumerate(feats):
            x[row, :, : f.shape[0]] = torch.from_numpy(f).transpose(0, 1)
        return x, lengths

    layers, hidden = upstream.shape()
    recompute_s, recompute_acc = train_with(recompute, layers, hidden)

    values = sum(features.frames(u) for u in train + valid) * features.layers * features.hidden
    data_bytes = sum(p.stat().st_size for p in features.ns.root.glob("*.f16"))
    index_bytes = sum(p.stat().st_size for p in features.ns.root.glob("*.idx"))
    print(f"corpus: {len(train)} train + {len(valid)} valid utterances, {seconds:.0f} s of train audio; "
          f"upstream: random wav2vec2 '{args.size}' ({layers} hidden states x {hidden}); {args.epochs} epochs = {settings.steps} steps, batch {batch_size}")
    print(f"cpu threads: {torch.get_num_threads()}, load average: {os.getloadavg()[0]:.1f}")
    print(f"{'':28s}{'wall s':>10s}{'valid acc':>11s}")
    print(f"{'recompute every step':28s}{recompute_s:10.1f}{recompute_acc:11.3f}")
    print(f"{'cached features':28s}{cached_s:10.1f}{cached_acc:11.3f}")
    print(f"{'one-off extraction':28s}{extract_s:10.1f}")
    print(f"speed-up, training only (second and later runs): {recompute_s / cached_s:.1f}x")
    print(f"speed-up, first run (extraction + training):     {recompute_s / (extract_s + cached_s):.1f}x")
    print(f"cache: {data_bytes / values:.3f} bytes per stored value ({values} values), index {index_bytes / len(train + valid):.0f} bytes per utterance")
    shutil.rmtree(work, ignore_errors=True)


def asv(args) -> None:
    """The ASV head on cached, trimmed features vs trimming and encoding every crop."""
    work = Path(tempfile.mkdtemp(prefix="polyglue-perf-asv-"))
    os.environ["POLYGLUE_CACHE"] = str(work / "cache")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import torch

    from polyglue.demo.speech_corpus import CorpusSize, write_kathbath_corpus
    from polyglue.encoders import parse_encoder
    from polyglue.features import FeatureCache
    from polyglue.speech.audio import read_audio
    from polyglue.speech.corpus.kathbath import KathbathCorpus
    from polyglue.speech.effects import SoxEffects
    from polyglue.speech.featcache import UpstreamFeatures
    from polyglue.speech.runners.asv import CROP_SECONDS, GRAD_CLIP
    from polyglue.speech.tiny import build_tiny_wav2vec2
    from polyglue.speech.training import FitSettings
    from polyglue.speech.upstreams import build_upstream

    size = CorpusSize(train_speakers=args.speakers, train_per_speaker=args.per_speaker, valid_per_speaker=1, test_known_per_speaker=1,
                      test_speakers=1, test_per_speaker=1, words=(6, 7))
    write_kathbath_corpus(work / "corpus", ("hindi",), size=size, tasks=("utterances",))
    train = KathbathCorpus(work / "corpus").utterances("hi", "train")
    seconds = sum(len(read_audio(u.path)) for u in train) / 16000
    model_dir = build_tiny_wav2vec2(work / "w2v", **SIZES[args.size])
    features = UpstreamFeatures(build_upstream(parse_encoder(f"hf:{model_dir}")), FeatureCache(), effects=SoxEffects())
    t0 = time.perf_counter()
    features.prepare(train)
    extract_s = time.perf_counter() - t0
    trimmed = sum(features.samples_after_effects(u) for u in train) / 16000
    speakers = sorted({u.speaker for u in train})
    targets = torch.tensor([speakers.index(u.speaker) for u in train])
    settings = FitSettings(steps=args.steps, batch_size=8, learning_rates=(1e-4,), optimizer="adamw", weight_decay=0.01,
                           grad_clip=GRAD_CLIP, evaluations=1, seed=0)
    from perf.speech_asv_crops import time_cached_vs_reencoded

    times = time_cached_vs_reencoded(features, train, targets, len(speakers), settings, CROP_SECONDS)
    layers, hidden = features.layers, features.hidden
    print(f"corpus: {len(train)} train utterances, {seconds:.0f} s of audio ({trimmed:.0f} s after the sox effects); "
          f"upstream: random wav2vec2 '{args.size}' ({layers} hidden states x {hidden}); indic_asv head, {args.steps} steps, batch 8, "
          f"{CROP_SECONDS:.0f} s crops")
    print(f"cpu threads: {torch.get_num_threads()}, load average: {os.getloadavg()[0]:.1f}")
    print(f"{'':34s}{'wall s':>10s}")
    print(f"{'trim + crop + encode every step':34s}{times['reencode']:10.1f}")
    print(f"{'cached trimmed features':34s}{times['cached']:10.1f}")
    print(f"{'one-off extraction (with effects)':34s}{extract_s:10.1f}")
    print(f"speed-up, training only: {times['reencode'] / times['cached']:.1f}x; "
          f"first run (extraction + training): {times['reencode'] / (extract_s + times['cached']):.1f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
