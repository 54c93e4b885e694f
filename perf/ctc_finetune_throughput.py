"""CTC fine-tuning throughput: polyglue's `finetune` (the ASR `finetune` protocol) vs a bare `Wav2Vec2ForCTC` loop.

Same random wav2vec2 (built from a config, `--size`), same character vocabulary and label
ids, same index batches (`epoch_batches` with one seed), same optimiser (AdamW over the
trainable parameters, feature encoder frozen), same gradient clipping, one CPU thread. The
polyglue side runs exactly what the runner runs: `speech.ctc_finetune.finetune` reading each
batch's audio from disk through the runner's lazy sequence (no validation, so only training
is timed). The bare side is the loop a user would write: waveforms normalised once and kept
in memory, padded per batch, `model(x, labels=...).loss`, backward, clip, step. Rounds
alternate (bare, polyglue, bare, polyglue, ...); the best round of each is compared.

    .venv/bin/python perf/ctc_finetune_throughput.py [--size tiny|small|base] [--steps 12] [--rounds 2] [--device cuda]

`--device cuda` runs both loops on the GPU (`perf/gpu_check.sh` does, at the base size:
12 x 768, wav2vec2-base's dimensions); each round ends with a device synchronisation.

Target (issue 11): polyglue at least 0.9x the bare loop's utterances per second.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = {
    "tiny": {"hidden_size": 32, "layers": 2, "heads": 2, "conv_dim": 32},
    "small": {"hidden_size": 256, "layers": 6, "heads": 4, "conv_dim": 256},
    "base": {"hidden_size": 768, "layers": 12, "heads": 12, "conv_dim": 512},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", choices=sorted(SIZES), default="small")
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--device", default="cpu", help="cpu or cuda[:N]")
    args = parser.parse_args()
    device = args.device
    work = Path(tempfile.mkdtemp(prefix="polyglue-perf-ctc-"))
    os.environ.setdefault("HF_HUB_OFFLINE", "1")

    import numpy as np
    import torch

    from polyglue.demo.speech_corpus import CorpusSize, write_kathbath_corpus
    from polyglue.speech.audio import read_audio
    from polyglue.speech.corpus.kathbath import KathbathCorpus
    from polyglue.speech.ctc_finetune import CTCSettings, finetune, load_ctc_model
    from polyglue.speech.runners.asr_finetune import _LazyAudio
    from polyglue.speech.text import CharVocab, normalize_transcript
    from polyglue.speech.tiny import build_tiny_wav2vec2
    from polyglue.speech.training import epoch_batches

    torch.set_num_threads(1)
    size = CorpusSize(train_speakers=4, train_per_speaker=6, valid_per_speaker=1, test_known_per_speaker=1,
                      test_speakers=1, test_per_speaker=1, words=(4, 5))
    write_kathbath_corpus(work / "corpus", ("hindi",), size=size, tasks=("utterances",))
    train = KathbathCorpus(work / "corpus").utterances("hi", "train")
    text = [normalize_transcript(u.transcript or "", "hi") for u in train]
    vocab = CharVocab.build(text)
    ids = [vocab.encode(t) for t in text]
    folder = str(build_tiny_wav2vec2(work / "w2v", **SIZES[args.size]))
    settings = CTCSettings(steps=args.steps, batch_size=args.batch_size, learning_rate=1e-4, seed=0)
    seconds = sum(len(read_audio(u.path)) for u in train) / 16000

    def fresh_model():
        torch.manual_seed(0)
        return load_ctc_model(folder, vocab, device=device)

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize(device)

    def polyglue_round() -> float:
        model = fresh_model()
        t0 = time.perf_counter()
        finetune(model, _LazyAudio(train), ids, None, settings, normalize=True, layer_norm=False, device=device)
        sync()
        return time.perf_counter() - t0

    wavs = [read_audio(u.path) for u in train]
    normalised = [torch.from_numpy(((w - w.mean()) / np.sqrt(w.var() + 1e-7)).astype(np.float32)) for w in wavs]

    def bare_round() -> float:
        model = fresh_model()
        torch.manual_seed(settings.seed)
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
        batches = epoch_batches(len(train), settings.batch_size, np.random.default_rng(settings.seed))
        t0 = time.perf_counter()
        model.train()
        for _ in range(settings.steps):
            idx = next(batches)
            x = torch.nn.utils.rnn.pad_sequence([normalised[i] for i in idx], batch_first=True).to(device)
            labels = torch.nn.utils.rnn.pad_sequence([torch.tensor(ids[i]) for i in idx], batch_first=True, padding_value=-100).to(device)
            loss = model(x, labels=labels).loss
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
            optimizer.step()
        sync()
        return time.perf_counter() - t0

    bare_round()  # warm-up: allocator, kernels, the model folder in the page cache
    bare, ours = [], []
    for _ in range(args.rounds):
        bare.append(bare_round())
        ours.append(polyglue_round())
    utterances = args.steps * args.batch_size
    print(f"corpus: {len(train)} train utterances ({seconds:.0f} s of audio); random wav2vec2 '{args.size}' "
          f"({SIZES[args.size]['layers']} layers x {SIZES[args.size]['hidden_size']}); {args.steps} steps, batch {args.batch_size}, "
          f"device {device}, 1 CPU thread, load average {os.getloadavg()[0]:.1f}")
    print(f"bare Wav2Vec2ForCTC loop: {utterances / min(bare):6.2f} utterances/s (rounds: {', '.join(f'{t:.1f}' for t in bare)} s)")
    print(f"polyglue finetune:        {utterances / min(ours):6.2f} utterances/s (rounds: {', '.join(f'{t:.1f}' for t in ours)} s)")
    print(f"ratio polyglue / bare: {min(bare) / min(ours):.2f}x")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
