"""Peak memory of head training does not grow with the corpus (features stay on disk).

Fills a feature-cache namespace with random float16 features for N and 4N utterances
(13 layers x 256 dims, 300 frames each: about 2 MB per utterance), then trains the SUPERB
speaker-ID head (weighted layer sum, mean pooling, linear) for a fixed number of epochs in
a fresh process per size, reading batches from the cache as the runners do, and reports
each process's peak RSS. A control row loads every feature block into memory first (what
a corpus-in-RAM design would do) to show the measurement sees corpus-sized growth.

    .venv/bin/python perf/speech_memory.py [--utterances 150] [--epochs 2]

Target (issue 4): the 4x corpus raises peak RSS by under 20%.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

LAYERS, HIDDEN, FRAMES, SPEAKERS = 13, 256, 300, 20


def _namespace(cache_dir: Path, count: int):
    from polyglue.features import FeatureCache

    return FeatureCache(cache_dir).namespace({"perf": "speech_memory", "utterances": count}, LAYERS * HIDDEN)


def fill(cache_dir: Path, count: int) -> None:
    import numpy as np

    ns = _namespace(cache_dir, count)
    if len(ns) >= count:
        return
    rng = np.random.default_rng(0)
    with ns.writer() as writer:
        for i in range(count):
            writer.add(f"utt{i}", rng.standard_normal((FRAMES, LAYERS * HIDDEN), dtype=np.float32).astype(np.float16))


class _CachedFeatures:
    """The part of `polyglue.speech.featcache.UpstreamFeatures` the Batcher uses, over a prefilled namespace."""

    layers, hidden = LAYERS, HIDDEN

    def __init__(self, ns, in_memory: bool):
        self.ns = ns
        self.blocks = {key: ns.read(key) for key in ns._index} if in_memory else None

    def frames(self, utt) -> int:
        return self.ns.rows(utt.id)

    def read(self, utt, start: int = 0, frames: int | None = None):
        if self.blocks is not None:
            block = self.blocks[utt.id][start : None if frames is None else start + frames]
        else:
            block = self.ns.read(utt.id, start, frames)
        return block.reshape(block.shape[0], LAYERS, HIDDEN)


def train(cache_dir: Path, count: int, epochs: int, in_memory: bool) -> dict:
    import torch
    import torch.nn.functional as F

    from polyglue.speech.corpus import Utterance
    from polyglue.speech.runners.utterance import RECIPES, Classifier
    from polyglue.speech.training import Batcher, FitSettings, fit

    torch.set_num_threads(1)
    ns = _namespace(cache_dir, count)
    utts = [Utterance(id=f"utt{i}", path=Path("."), speaker=str(i % SPEAKERS)) for i in range(count)]
    targets = torch.tensor([i % SPEAKERS for i in range(count)])
    features = _CachedFeatures(ns, in_memory)
    batcher = Batcher(features, "cpu")
    settings = FitSettings(steps=epochs * math.ceil(count / 16), batch_size=16, learning_rates=(1e-3,), evaluations=1, seed=0)

    def loss_of(model, idx, rng):
        x, lengths = batcher([utts[i] for i in idx], rng)
        return F.cross_entropy(model(x, lengths), targets[idx])

    fit(lambda: Classifier(LAYERS, HIDDEN, SPEAKERS, RECIPES["speaker-id"]), loss_of, count, None, settings)
    return {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "steps": settings.steps}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--utterances", type=int, default=150)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--child", nargs=4, metavar=("CACHE", "COUNT", "EPOCHS", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        cache, count, epochs, mode = args.child
        if mode == "fill":
            fill(Path(cache), int(count))
        else:
            print(json.dumps(train(Path(cache), int(count), int(epochs), mode == "memory")))
        return

    cache = Path(tempfile.mkdtemp(prefix="polyglue-perf-memory-"))
    rows = []
    for scale, mode in ((1, "disk"), (4, "disk"), (1, "memory"), (4, "memory")):
        count = scale * args.utterances
        subprocess.run([sys.executable, __file__, "--child", str(cache), str(count), "0", "fill"], check=True)
        out = subprocess.run([sys.executable, __file__, "--child", str(cache), str(count), str(args.epochs), mode],
                             check=True, capture_output=True, text=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
        size_mb = sum(p.stat().st_size for p in _namespace(cache, count).root.glob("*.f16")) / 2**20
        rows.append((mode, scale, count, size_mb, result["peak_rss_mb"], result["steps"]))
    print(f"{'features':10s}{'corpus':>8s}{'utts':>7s}{'cache MB':>10s}{'steps':>7s}{'peak RSS MB':>13s}")
    for mode, scale, count, size_mb, rss, steps in rows:
        print(f"{'on disk' if mode == 'disk' else 'in RAM':10s}{str(scale) + 'x':>8s}{count:7d}{size_mb:10.0f}{steps:7d}{rss:13.0f}")
    disk = {scale: rss for mode, scale, _, _, rss, _ in rows if mode == "disk"}
    ram = {scale: rss for mode, scale, _, _, rss, _ in rows if mode == "memory"}
    print(f"4x corpus, features read from the cache: peak RSS +{100 * (disk[4] / disk[1] - 1):.1f}% (target < 20%)")
    print(f"4x corpus, control with features in RAM:  peak RSS +{100 * (ram[4] / ram[1] - 1):.1f}%")
    print(f"(load average {os.getloadavg()[0]:.1f})")
    shutil.rmtree(cache, ignore_errors=True)


if __name__ == "__main__":
    main()
