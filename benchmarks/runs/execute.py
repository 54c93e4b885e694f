"""Execute one unit: rebuild its card and data from the plain task, seed, dispatch, time.

This is the whole worker-side API: `execute(task, step) -> UnitResult`. It touches no
store and writes no results, so any backend (this process, a Ray worker) can call it.
The runner sees only the contract (`polyglue.contract.RunContext`), never the task.
"""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

import numpy as np

from polyglue.cards.schema import Card
from polyglue.contract import ProtocolSettings, RunContext, StepCallback, UnitResult, apply_threads, null_step
from polyglue.data.materialize import DataResolver
from polyglue.encoders import parse_encoder
from polyglue.features import FeatureCache
from polyglue.runs.dispatch import get_runner
from polyglue.runs.units import UnitTask


def build_context(task: UnitTask, step: StepCallback = null_step) -> RunContext:
    """The runner's view of a planned unit: typed settings, data access, cache, device, threads."""
    card = Card.model_validate(task.card)
    card_path = Path(task.card_path) if task.card_path else None
    settings = ProtocolSettings.model_validate(task.protocol_config)
    data_dir = Path(task.data_dir) if task.data_dir else None
    data = DataResolver(card, card_path, suite=task.unit.suite, data_dir=data_dir, limit=settings.limit)
    train_data = data
    if task.train_card is not None:
        train_card = Card.model_validate(task.train_card)
        train_path = Path(task.train_card_path) if task.train_card_path else None
        train_data = DataResolver(train_card, train_path, suite=task.unit.suite, data_dir=data_dir, limit=settings.limit)
    cache = FeatureCache(Path(task.cache_dir) / "features" if task.cache_dir else None, budget=task.options.get("cache_budget"))

    trained_models = None
    if task.trained_model is not None and task.options.get("runs_dir"):
        from polyglue.runs.models import KeptModels

        trained_models = KeptModels(Path(task.options["runs_dir"]), task.trained_model)

    def load_kit():
        from polyglue.langkits.registry import get_kit

        return get_kit(card.langkit, card_path)

    return RunContext(
        suite=task.unit.suite,
        card=card,
        card_path=card_path,
        encoder=parse_encoder(task.encoder),
        settings=settings,
        seed=task.unit.seed,
        data=data,
        train_data=train_data,
        cache=cache,
        data_dir=data_dir,
        requested_device=task.device or "auto",
        threads=task.options.get("threads"),
        step=step,
        kit_loader=load_kit,
        trained_models=trained_models,
    )


def execute(task: UnitTask, step: StepCallback = null_step) -> UnitResult:
    """Run one unit and return its result; adds `timings.total_s`, `device` and `threads` to extras."""
    start = time.perf_counter()
    random.seed(task.unit.seed)
    np.random.seed(task.unit.seed % (2**32))
    threads = task.options.get("threads")
    apply_threads(threads)
    ctx = build_context(task, step)
    runner = get_runner(ctx.card.task, ctx.settings.name)
    apply_threads(threads)  # runner modules may have imported torch
    if threads:
        from threadpoolctl import threadpool_limits

        with threadpool_limits(limits=threads):
            result = runner(ctx)
        result.extras["threads"] = threads
    else:
        result = runner(ctx)
    result.extras.setdefault("timings", {})["total_s"] = round(time.perf_counter() - start, 3)
    if ctx.data.dropped_unlabelled:  # rows a card's `unlabelled: drop` left out of scoring: the reports say so
        result.extras["dropped_unlabelled"] = dict(ctx.data.dropped_unlabelled)
    if "torch" in sys.modules and "device" not in result.extras:
        result.extras["device"] = ctx.device
    return result
