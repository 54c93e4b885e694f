"""Training heads on cached features: batches from disk, a learning-rate grid, best-on-validation.

The upstream never runs here: each step reads its batch's feature blocks from the cache
(random crops read only the rows they need), so a step costs the head's compute plus a
few disk reads, and memory stays at one batch whatever the corpus size.

For each learning rate of the grid the head is rebuilt from the same seed and trained for
the same steps (with `--data-seeds`, the batch order and the other training draws come from
the data seed, so the two sources of seed variance can be told apart); validation is
scored at evenly spaced checkpoints and the best (learning rate, step) wins. Everything chosen is returned for the results' `extras`.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from polyglue.accel import to_device
from polyglue.hashing import trainable_sha256
from polyglue.speech.corpus import Utterance
from polyglue.speech.featcache import UpstreamFeatures


@dataclass(frozen=True)
class FitSettings:
    steps: int
    batch_size: int
    learning_rates: tuple[float, ...]
    optimizer: str = "adam"
    """`adam` or `adamw` (the recipe's optimiser)."""
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    """> 0: linear warm-up over this share of the steps, then linear decay to 0 (s3prl's schedule)."""
    grad_clip: float | None = 1.0
    evaluations: int = 5
    """Validation checkpoints per learning rate (evenly spaced; the last is the final step), without `eval_every`."""
    eval_every: int | None = None
    """Validate every this many steps, as the official configs' `eval_step` (and the final step)."""
    seed: int = 0
    """Initialisation seed: the head is built after `torch.manual_seed(seed)`."""
    data_seed: int | None = None
    """Data-order seed (batch order, random crops, SpecAugment and dropout draws), given by
    `--data-seeds`; None: they follow `seed`'s streams, as before the two were separated."""


RECORDED_BATCHES = 2
"""Index batches of the first learning rate kept in the seed record (as the text side does)."""


@dataclass
class FitResult:
    model: nn.Module
    learning_rate: float
    best_step: int
    validation: float | None
    scores_by_lr: dict[str, float | None] = field(default_factory=dict)
    history: list[dict] = field(default_factory=list)
    train_s: float = 0.0
    seeds: dict = field(default_factory=dict)
    """`init`, `data`, the initial trainable weights' sha256 and the first batches (Dodge et al. 2020's two sources)."""

    def selection(self) -> dict:
        return {
            "learning_rate": self.learning_rate,
            "best_step": self.best_step,
            "validation_score": self.validation,
            "validation_by_lr": self.scores_by_lr,
            "checkpoints": self.history,
            "rule": "best validation checkpoint (s3prl valid-best.ckpt: strictly better replaces, earliest wins ties)",
            "seeds": self.seeds,
        }


class Batcher:
    """Pads cached features into tensors: `x (batch, layers, frames, hidden)` float16 and `lengths (batch,)` in frames."""

    def __init__(self, features: UpstreamFeatures, device: str, *, crop_frames: int | None = None):
        self.features = features
        self.device = device
        self.crop_frames = crop_frames

    def __call__(self, utts: Sequence[Utterance], rng: np.random.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        blocks = []
        for utt in utts:
            total = self.features.frames(utt)
            if rng is not None and self.crop_frames and total > self.crop_frames:
                start = int(rng.integers(0, total - self.crop_frames + 1))
                blocks.append(self.features.read(utt, start, self.crop_frames))
            else:
                blocks.append(self.features.read(utt))
        lengths = torch.tensor([b.shape[0] for b in blocks])
        x = torch.zeros((len(blocks), self.features.layers, int(lengths.max()), self.features.hidden), dtype=torch.float16)
        for row, block in enumerate(blocks):
            x[row, :, : block.shape[0]] = torch.from_numpy(block).transpose(0, 1)  # (frames, layers, hidden) -> (layers, frames, hidden)
        return to_device(x, self.device), lengths.to(self.device)


class ReencodeBatcher:
    """Training batches as the official code makes them (`crop: reencode`): crop the waveform, then encode it.

    Each utterance is read (and put through the feature cache's audio effects, if any), a
    random `crop_seconds` window is cut when it is longer (`random.randint(0, length - max)`,
    as the s3prl datasets do), and the upstream encodes the crop alone, every step. The
    output has `Batcher`'s layout, so heads cannot tell the two apart; only the upstream
    cost per step differs.
    """

    def __init__(self, features: UpstreamFeatures, device: str, *, crop_seconds: float | None, sample_rate_hz: int = 16000):
        self.features = features
        self.device = device
        self.crop_samples = int(crop_seconds * sample_rate_hz) if crop_seconds else None
        self.forward_calls = 0

    def waveform(self, utt: Utterance) -> np.ndarray:
        from polyglue.speech.audio import read_audio

        wav = read_audio(utt.path)
        return self.features.effects(wav) if self.features.effects is not None else wav

    def __call__(self, utts: Sequence[Utterance], rng: np.random.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        wavs = []
        for utt in utts:
            wav = self.waveform(utt)
            if rng is not None and self.crop_samples and len(wav) > self.crop_samples:
                start = int(rng.integers(0, len(wav) - self.crop_samples + 1))
                wav = wav[start : start + self.crop_samples]
            wavs.append(wav)
        blocks = self.features.upstream.forward(wavs)  # each (frames, layers, hidden) float32
        self.forward_calls += 1
        lengths = torch.tensor([b.shape[0] for b in blocks])
        x = torch.zeros((len(blocks), self.features.layers, int(lengths.max()), self.features.hidden), dtype=torch.float16)
        for row, block in enumerate(blocks):
            x[row, :, : block.shape[0]] = torch.from_numpy(np.ascontiguousarray(block)).transpose(0, 1).to(torch.float16)
        return to_device(x, self.device), lengths.to(self.device)


def epoch_batches(n: int, batch_size: int, rng: np.random.Generator):
    """Endless shuffled epochs of index batches (the last batch of an epoch may be short)."""
    while True:
        order = rng.permutation(n)
        for start in range(0, n, batch_size):
            yield order[start : start + batch_size]


def _schedule(optimizer, settings: FitSettings):
    if settings.warmup_ratio <= 0:
        return None
    warm = max(1, int(settings.warmup_ratio * settings.steps))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (settings.steps - step) / max(1, settings.steps - warm))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def checkpoints(steps: int, evaluations: int, eval_every: int | None = None) -> list[int]:
    """Steps after which validation is scored, always including the last.

    `eval_every`: every that many steps (s3prl's `eval_step`: 5000 of 200000 is 40 evaluations);
    otherwise `evaluations` evenly spaced ones.
    """
    if eval_every:
        return sorted(set(range(eval_every, steps + 1, eval_every)) | {steps})
    n = max(1, min(evaluations, steps))
    return sorted({max(1, math.ceil(k * steps / n)) for k in range(1, n + 1)})


def fit(
    build: Callable[[], nn.Module],
    loss_of: Callable[[nn.Module, np.ndarray, np.random.Generator], torch.Tensor],
    n_train: int,
    validate: Callable[[nn.Module], float] | None,
    settings: FitSettings,
    step: Callable | None = None,
) -> FitResult:
    """Train `build()` on index batches of `range(n_train)` for each learning rate; keep the best.

    `loss_of(model, indices, rng)` returns the loss of one batch; `validate(model)` a score
    where higher is better (None: the final model of the single learning rate is kept).
    """
    start = time.perf_counter()
    points = set(checkpoints(settings.steps, settings.evaluations, settings.eval_every))
    best: tuple[float, float, int, dict] | None = None
    scores_by_lr: dict[str, float | None] = {}
    history: list[dict] = []
    final_model = None
    data_seed = settings.seed if settings.data_seed is None else settings.data_seed
    seeds: dict = {"init": settings.seed, "data": data_seed, "first_batches": []}
    for lr in settings.learning_rates:
        torch.manual_seed(settings.seed)
        model = build()
        if settings.data_seed is not None:
            torch.manual_seed(settings.data_seed)  # dropout and in-model draws follow the data seed
        rng = np.random.default_rng(data_seed)
        seeds.setdefault("trainable_init_sha256", trainable_sha256(model))
        params = [p for p in model.parameters() if p.requires_grad]
        opt_cls = torch.optim.AdamW if settings.optimizer == "adamw" else torch.optim.Adam
        optimizer = opt_cls(params, lr=lr, weight_decay=settings.weight_decay)
        scheduler = _schedule(optimizer, settings)
        batches = epoch_batches(n_train, min(settings.batch_size, n_train), rng)
        lr_best = -math.inf
        for number in range(1, settings.steps + 1):
            model.train()
            idx = next(batches)
            if lr == settings.learning_rates[0] and len(seeds["first_batches"]) < RECORDED_BATCHES:
                seeds["first_batches"].append([int(i) for i in idx])
            loss = loss_of(model, idx, rng)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if settings.grad_clip:
                torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
            optimizer.step()
            if scheduler is not None:
                scheduler.step()
            if step:
                step(1)
            if number in points and validate is not None:
                model.eval()
                with torch.no_grad():
                    score = float(validate(model))
                history.append({"learning_rate": lr, "step": number, "score": round(score, 6), "loss": round(float(loss.detach()), 6)})
                lr_best = max(lr_best, score)
                if best is None or score > best[0]:
                    best = (score, lr, number, copy.deepcopy(model.state_dict()))
        scores_by_lr[repr(lr)] = round(lr_best, 6) if validate is not None else None
        final_model = model
    if final_model is None:
        raise ValueError("fit needs at least one learning rate (settings.learning_rates is empty)")
    if best is None:
        final_model.eval()
        return FitResult(final_model, settings.learning_rates[-1], settings.steps, None, scores_by_lr, history, time.perf_counter() - start, seeds)
    score, lr, number, state = best
    final_model.load_state_dict(state)  # same architecture for every rate: no rebuild needed
    final_model.eval()
    return FitResult(final_model, lr, number, score, scores_by_lr, history, time.perf_counter() - start, seeds)
