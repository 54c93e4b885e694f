"""Shared pieces of the text perf scripts: generated data with realistic length spread, a small random BERT.

Sentence lengths are log-normal (median about 20 words, a long tail past 100), as in real
sentence-pair and classification sets; that spread is what padding wastes compute on.
Nothing is downloaded; everything is generated from a seeded RNG.
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

WORDS = (
    "the a of to in and river city house music table window garden letter paper market winter summer "
    "music engine station forest bridge village doctor teacher student painter driver farmer sailor "
    "walks reads builds opens closes paints carries finds sells buys writes sings plays watches "
    "quickly slowly often never always today yesterday tomorrow here there very quite rather almost"
).split()
POSITIVE, NEGATIVE = ["bright", "gentle", "lovely", "brilliant"], ["dull", "broken", "awful", "gloomy"]


def sentences(n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """`n` sentences and binary labels (a polarity word decides, 10% of labels flipped)."""
    rng = random.Random(seed)
    texts, labels = [], []
    for _ in range(n):
        length = max(3, min(160, int(rng.lognormvariate(3.0, 0.7))))
        words = [rng.choice(WORDS) for _ in range(length)]
        label = rng.randrange(2)
        words.insert(rng.randrange(len(words) + 1), rng.choice(POSITIVE if label else NEGATIVE))
        texts.append(" ".join(words) + ".")
        labels.append(label if rng.random() > 0.1 else 1 - label)
    return texts, labels


def small_bert(folder: Path, corpus: list[str], *, hidden: int, layers: int, heads: int, intermediate: int | None = None) -> Path:
    from polyglue.langkits.encoders.tiny import build_tiny_bert

    return build_tiny_bert(folder, corpus, vocab_size=2000, hidden_size=hidden, layers=layers, heads=heads, max_positions=512,
                           intermediate_size=intermediate)


class Timer:
    """Wall seconds (`seconds`) and this process's CPU seconds (`cpu_seconds`, all threads): on a
    shared machine the CPU figure is the steadier one, as other jobs stretch wall time unevenly."""

    def __enter__(self):
        self.start = time.perf_counter()
        self.cpu_start = time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = time.process_time() - self.cpu_start


def write_json(path: Path, payload: dict) -> None:
    path.write_text(json.dumps(payload, indent=1) + "\n", encoding="utf-8")
