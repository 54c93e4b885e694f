"""Execute one unit: rebuild its card and data from the plain task, seed, dispatch, time.

This is the whole worker-side API: `execute(task, step) -> UnitResult`. It touches no
store and writes no results, so any backend (this process, a Ray worker) can call it.
"""

from __future__ import annotations

import os
import random
import sys
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from benchmarks.cards.schema import Card
from benchmarks.data.materialize import DataResolver
from benchmarks.encoders import EncoderSpec, parse_encoder
from benchmarks.features import FeatureCache
from benchmarks.runs.dispatch import get_runner
from benchmarks.runs.progress import StepCallback, null_step
from benchmarks.runs.units import UnitResult, UnitTask


@dataclass
class UnitContext:
    """Everything a runner may use. Runners read data only through `data`/`train_data`."""

    task: UnitTask
    card: Card
    card_path: Path | None
    encoder: EncoderSpec
    protocol: dict
    seed: int
    data: DataResolver
    train_data: DataResolver
    cache: FeatureCache
    step: StepCallback

    @cached_property
    def kit(self):
        from langkits.registry import get_kit

        return get_kit(self.card.langkit, self.card_path)

    @cached_property
    def device(self) -> str:
        """`auto` becomes `cuda` when torch sees a GPU, else `cpu`. Imports torch (call only when needed)."""
        wanted = self.task.device or "auto"
        if wanted != "auto":
            return wanted
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    def seed_torch(self) -> None:
        """Seed torch (CPU and CUDA) and apply the unit's CPU thread count."""
        import torch

        apply_threads(self.task.options.get("threads"))
        torch.manual_seed(self.seed)
        if torch.cuda.is_available():
            torch.cuda.manual_seed_all(self.seed)


def build_context(task: UnitTask, step: StepCallback = null_step) -> UnitContext:
    card = Card.model_validate(task.card)
    card_path = Path(task.card_path) if task.card_path else None
    limit = task.protocol_config.get("limit")
    data_dir = Path(task.data_dir) if task.data_dir else None
    data = DataResolver(card, card_path, suite=task.unit.suite, data_dir=data_dir, limit=limit)
    train_data = data
    if task.train_card is not None:
        train_card = Card.model_validate(task.train_card)
        train_path = Path(task.train_card_path) if task.train_card_path else None
        train_data = DataResolver(train_card, train_path, suite=task.unit.suite, data_dir=data_dir, limit=limit)
    cache = FeatureCache(Path(task.cache_dir) / "features" if task.cache_dir else None)
    return UnitContext(
        task=task,
        card=card,
        card_path=card_path,
        encoder=parse_encoder(task.encoder),
        protocol=task.protocol_config,
        seed=task.unit.seed,
        data=data,
        train_data=train_data,
        cache=cache,
        step=step,
    )


def apply_threads(threads: int | None) -> None:
    """Use `threads` CPU threads in torch (when loaded) and in later-loaded OpenMP libraries.

    Floating-point sums depend on how work is split across threads, so two runs agree to the
    last bit only with the same count: `--threads` makes the local and Ray backends match.
    """
    if not threads:
        return
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch = sys.modules.get("torch")
    if torch is not None and torch.get_num_threads() != threads:
        torch.set_num_threads(threads)


def execute(task: UnitTask, step: StepCallback = null_step) -> UnitResult:
    """Run one unit and return its result; adds `timings.total_s`, `device` and `threads` to extras."""
    start = time.perf_counter()
    random.seed(task.unit.seed)
    np.random.seed(task.unit.seed % (2**32))
    threads = task.options.get("threads")
    apply_threads(threads)
    ctx = build_context(task, step)
    runner = get_runner(ctx.card.task, ctx.protocol["name"])
    apply_threads(threads)  # runner modules may have imported torch
    if threads:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=threads):
            result = runner(ctx)
        result.extras["threads"] = threads
    else:
        result = runner(ctx)
    result.extras.setdefault("timings", {})["total_s"] = round(time.perf_counter() - start, 3)
    if "torch" in sys.modules and "device" not in result.extras:
        result.extras["device"] = ctx.task.device if ctx.task.device != "auto" else ("cuda" if sys.modules["torch"].cuda.is_available() else "cpu")
    return result
