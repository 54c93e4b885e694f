"""A lean training loop for Hugging Face heads: what `Trainer` does for one GPU, minus the rest.

AdamW with Trainer's parameter groups (no decay on biases and LayerNorm weights), linear
warm-up and decay, gradient clipping (1.0 unless the card says), gradient accumulation,
length-grouped (or, as the official samplers, shuffled) batches with dynamic padding, bf16 autocast on CUDA and
`torch.inference_mode` for evaluation. After every epoch, or every `eval_every` steps, and
at the last step, a `select` callback scores the model on the selection split.

Selection (`selection`): `best` keeps the best-scoring weights (in CPU memory only as long
as the run needs them; nothing is written to disk) and may stop early after `patience`
evaluations without improvement; `final` returns the weights after the last step, as
`run_glue.py` reports them, and records the best evaluation only in the history.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from polyglue.accel import autocast, to_device
from polyglue.langkits.batching import collate, feature_length, grouped_batches, random_batches, sorted_batches, steps_per_epoch


@dataclass
class TrainConfig:
    learning_rate: float
    epochs: float
    batch_size: int
    gradient_accumulation: int = 1
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    max_steps: int | None = None
    seed: int = 0
    """Data-order seed: the batch order (the unit's data seed)."""
    torch_seed: int | None = None
    """Reseed torch (dropout masks) when training starts; None leaves its stream where the
    initialisation left it (units without a separate data seed, as before it existed)."""
    device: str = "cpu"
    group_by_length: bool = True
    max_grad_norm: float | None = 1.0
    adam_epsilon: float = 1e-8
    lr_schedule: str = "linear"
    """`linear` (warm-up, then decay to 0) or `constant` (warm-up, then the peak rate)."""
    decay_all_parameters: bool = False
    """Decay biases and LayerNorm weights too (a plain `AdamW(model.parameters())`)."""
    selection: str = "best"
    """`best` (best evaluation's weights) or `final` (the weights after the last step)."""
    patience: int | None = None
    eval_every: int | str = "epoch"
    """`epoch`, or a number of optimisation steps between evaluations."""


@dataclass
class TrainResult:
    best_score: float
    best_epoch: float
    steps: int
    score: float = math.nan
    """Score of the returned weights: the best evaluation's (`best`) or the last one's (`final`)."""
    epoch: float = 0.0
    """Epoch of the returned weights."""
    stopped_early: bool = False
    history: list[dict] = field(default_factory=list)
    real_token_fraction: float = 1.0
    train_s: float = 0.0
    select_s: float = 0.0
    first_batches: list[list[int]] = field(default_factory=list)
    """Example indices of the first `RECORDED_BATCHES` batches: the data order, for provenance."""


RECORDED_BATCHES = 2


def _param_groups(model, weight_decay: float, decay_all: bool = False) -> list[dict]:
    if decay_all:
        return [{"params": [p for p in model.parameters() if p.requires_grad], "weight_decay": weight_decay}]
    decay: list[Any] = []
    no_decay: list[Any] = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        lowered = name.lower()
        (no_decay if name.endswith("bias") or "layernorm" in lowered or "layer_norm" in lowered else decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def trainable_state(model) -> dict:
    """CPU copies of the trainable parameters (all of them when fine-tuning, the head when probing)."""
    return {n: p.detach().to("cpu", copy=True) for n, p in model.named_parameters() if p.requires_grad}


def train(
    model,
    features: list[dict],
    forward: Callable,
    config: TrainConfig,
    select: Callable[[object], float],
    *,
    pad_id: int,
    higher_is_better: bool = True,
    step: Callable = lambda *a, **k: None,
    frozen=None,
) -> tuple[TrainResult, dict]:
    """Train `model` on `features`; returns the result and the best trainable weights (CPU).

    `forward(model, batch) -> loss` runs one batch (already on the device) and returns the
    mean loss; `select(model) -> score` evaluates on validation. A `frozen` sub-module
    (a probed encoder) stays in eval mode: no dropout on the features a probe learns from.
    """
    import torch

    def train_mode():
        model.train()
        if frozen is not None:
            frozen.eval()

    rng = np.random.default_rng(config.seed)
    if config.torch_seed is not None:
        torch.manual_seed(config.torch_seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(config.torch_seed)
    lengths = [feature_length(f) for f in features]
    n_batches = math.ceil(len(features) / config.batch_size)
    per_epoch = steps_per_epoch(n_batches, config.gradient_accumulation)
    total = max(1, math.ceil(config.epochs * per_epoch))
    if config.max_steps is not None:
        total = min(total, config.max_steps)
    params = [p for p in model.parameters() if p.requires_grad]
    # Fused AdamW on CUDA, as Trainer's default `adamw_torch_fused`; the plain implementation on CPU.
    fused: dict[str, Any] = {"fused": True} if config.device.startswith("cuda") else {}
    optimizer = torch.optim.AdamW(_param_groups(model, config.weight_decay, config.decay_all_parameters), lr=config.learning_rate, eps=config.adam_epsilon, **fused)
    warmup = int(config.warmup_ratio * total)

    def schedule(current: int) -> float:  # transformers' get_linear_schedule_with_warmup
        if current < warmup:
            return current / max(1, warmup)
        if config.lr_schedule == "constant":
            return 1.0
        return max(0.0, (total - current) / max(1, total - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    result = TrainResult(best_score=-math.inf if higher_is_better else math.inf, best_epoch=0.0, steps=0)
    keep_best = config.selection == "best"
    every = config.eval_every if isinstance(config.eval_every, int) else None
    best_state: dict = {}
    real = padded = 0
    since_best = 0
    step(0, total, "fine-tuning")
    train_mode()
    done = 0
    epoch = 0
    t_train = time.perf_counter()

    def evaluate(fraction: float) -> bool:
        """Score the model; returns True when early stopping says to stop."""
        nonlocal t_train, best_state, since_best
        result.train_s += time.perf_counter() - t_train
        t_select = time.perf_counter()
        model.eval()
        score = float(select(model))
        train_mode()
        result.select_s += time.perf_counter() - t_select
        result.history.append({"epoch": fraction, "step": done, "validation": score})
        if (score > result.best_score) if higher_is_better else (score < result.best_score):
            result.best_score, result.best_epoch = score, fraction
            since_best = 0
            if keep_best:
                best_state = trainable_state(model)
        else:
            since_best += 1
        t_train = time.perf_counter()
        return keep_best and config.patience is not None and since_best >= config.patience

    stop = False
    while done < total and not stop:
        batches = grouped_batches(lengths, config.batch_size, rng) if config.group_by_length else random_batches(len(features), config.batch_size, rng)
        optimizer.zero_grad(set_to_none=True)
        for k, idx in enumerate(batches):
            if len(result.first_batches) < RECORDED_BATCHES:
                result.first_batches.append([int(i) for i in idx])
            real += sum(lengths[i] for i in idx)
            padded += len(idx) * max(lengths[i] for i in idx)
            batch = to_device(collate([features[i] for i in idx], pad_id), config.device)
            with autocast(config.device):
                loss = forward(model, batch)
            (loss / config.gradient_accumulation).backward()
            if (k + 1) % config.gradient_accumulation == 0 or k == len(batches) - 1:
                if config.max_grad_norm is not None:
                    torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                done += 1
                step(1)
                if done >= total:
                    break
                if every is not None and done % every == 0:
                    if evaluate(round(done / per_epoch, 3)):
                        stop = True
                        result.stopped_early = True
                        break
        epoch += 1
        if stop:
            break
        if every is None or done >= total:  # step-interval runs still score the last step
            if evaluate(epoch if done < total else round(done / per_epoch, 3)):
                result.stopped_early = done < total
                break
    last = result.history[-1]
    if keep_best and best_state:
        result.score, result.epoch = result.best_score, result.best_epoch
    else:  # `final`, or every validation score was NaN: keep the final weights
        best_state = trainable_state(model)
        result.score, result.epoch = last["validation"], last["epoch"]
        if keep_best:
            result.best_epoch = last["epoch"]
    model.eval()
    result.steps = done
    result.real_token_fraction = real / padded if padded else 1.0
    return result, best_state


def predict(model, features: list[dict], outputs: Callable, *, pad_id: int, batch_size: int, device: str) -> list:
    """Run `model` over `features` in length-sorted batches; returns `outputs(model_out, batch)` items in input order."""
    import torch

    lengths = [feature_length(f) for f in features]
    results: list = [None] * len(features)
    model.eval()
    with torch.inference_mode():
        for idx in sorted_batches(lengths, batch_size):
            batch = to_device(collate([features[i] for i in idx], pad_id), device)
            with autocast(device):
                items = outputs(model, batch)
            for i, item in zip(idx, items):
                results[i] = item
    return results
