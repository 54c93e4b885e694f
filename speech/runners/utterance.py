"""`superb` runner for utterance classification: keyword spotting, language ID, speaker ID.

Weighted layer sum + mean pooling + linear layers (recipes below, from the IndicSUPERB
configs), trained on cached features with random crops, the learning rate and checkpoint
chosen on validation accuracy. Speaker ID trains one head per language (SID) unless the
card pools them (`language_mode: pooled`, SID-multi, where speakers are `<lang>/<id>`);
language ID and keyword spotting pool every language present, and a language ID head only
knows the languages that have training data.
"""

from __future__ import annotations

import time
from typing import cast
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from polyglue.errors import DataError, UserError
from polyglue.contract import UnitResult
from polyglue.speech.corpus import Utterance
from polyglue.speech.featurizer import WeightedLayerSum
from polyglue.speech.heads.utterance import MeanPoolClassifier
from polyglue.speech.runners.common import SpeechUnit, better_score, compute, holdout, mean_over_languages, with_breakdown
from polyglue.speech.training import Batcher, fit


@dataclass(frozen=True)
class Recipe:
    projector_dim: int | None
    hidden_dims: tuple[int, ...]
    crop_seconds: float | None
    """Random crop of training utterances (evaluation always sees the whole utterance)."""
    grad_clip: float = 1.0


RECIPES = {
    "keyword-spotting": Recipe(projector_dim=256, hidden_dims=(), crop_seconds=None),
    "language-id": Recipe(projector_dim=None, hidden_dims=(128,), crop_seconds=12.0),
    "speaker-id": Recipe(projector_dim=8, hidden_dims=(), crop_seconds=8.0),
}


class Classifier(nn.Module):
    def __init__(self, layers: int, hidden: int, num_classes: int, recipe: Recipe):
        super().__init__()
        self.featurizer = WeightedLayerSum(layers)
        self.head = MeanPoolClassifier(hidden, num_classes, projector_dim=recipe.projector_dim, hidden_dims=recipe.hidden_dims)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.head(self.featurizer(x), lengths)


def target(utt: Utterance, task: str, pooled: bool, raw_ids: bool = False) -> str | None:
    """The class of an utterance; pooled speaker ids are `<lang>/<id>` unless `raw_ids` (indic_sid_multi)."""
    if task == "keyword-spotting":
        return utt.label
    if task == "language-id":
        return utt.language
    if utt.speaker is None:
        return None
    return f"{utt.language}/{utt.speaker}" if pooled and utt.language and not raw_ids else utt.speaker


def _classes(unit: SpeechUnit, train: list[Utterance]) -> list[str]:
    card, task = unit.card, unit.card.task
    seen = sorted({label for u in train if (label := target(u, task, unit.pooled, unit.ctx.settings.speaker_ids == "raw")) is not None})
    if task == "speaker-id" or card.labels is None:
        return seen
    unknown = [label for label in seen if label not in card.labels]
    if unknown:
        raise DataError(f"card '{card.name}': train data has label(s) {', '.join(unknown)} not in the card's labels ({', '.join(card.labels)})")
    return [label for label in card.labels if label in seen]


def _predict(model: Classifier, batcher: Batcher, utts: list[Utterance], batch_size: int) -> np.ndarray:
    out = []
    with torch.no_grad():
        for start in range(0, len(utts), batch_size):
            x, lengths = batcher(utts[start : start + batch_size])
            out.append(model(x, lengths).argmax(-1).cpu().numpy())
    return np.concatenate(out) if out else np.zeros(0, dtype=int)


def _train_group(unit: SpeechUnit, train: list[Utterance], evals: dict[str, list[Utterance]]):
    """Fit one head on `train`; returns (model, classes, selection extras)."""
    card, task, recipe = unit.card, unit.card.task, RECIPES[unit.card.task]
    classes = _classes(unit, train)
    if len(classes) < 2:
        what = "language(s) with training data" if task == "language-id" else "class(es) in the training data"
        raise UserError(f"card '{card.name}': {len(classes)} {what} ({', '.join(classes) or 'none'}); a classifier needs at least 2")
    index = {c: i for i, c in enumerate(classes)}
    train = [u for u in train if target(u, task, unit.pooled, unit.ctx.settings.speaker_ids == "raw") in index]
    valid = [u for u in evals.get("validation", []) if target(u, task, unit.pooled, unit.ctx.settings.speaker_ids == "raw") in index]
    selection_split = "validation"
    if not valid:
        fit_idx, sel_idx = holdout(len(train), unit.ctx.seed)
        valid, train = [train[i] for i in sel_idx], [train[i] for i in fit_idx]
        selection_split = "train hold-out (10%)"
    features = unit.features
    train_batcher = unit.train_batcher(unit.ctx.settings.crop_seconds or recipe.crop_seconds)
    eval_batcher = Batcher(features, unit.ctx.device)
    # `train` keeps only utterances whose target is in `index` (filtered above), so none is None here.
    targets = torch.tensor([index[cast(str, target(u, task, unit.pooled, unit.ctx.settings.speaker_ids == "raw"))] for u in train])
    settings = unit.fit_settings(len(train), optimizer="adam", grad_clip=recipe.grad_clip)
    main = card.main_metric
    valid_gold = [target(u, task, unit.pooled, unit.ctx.settings.speaker_ids == "raw") for u in valid]

    def build():
        return Classifier(features.layers, features.hidden, len(classes), recipe).to(unit.ctx.device)

    def loss_of(model, idx, rng):
        x, lengths = train_batcher([train[i] for i in idx], rng)
        return F.cross_entropy(model(x, lengths), targets[idx].to(unit.ctx.device))

    def validate(model):
        pred = [classes[i] for i in _predict(model, eval_batcher, valid, settings.batch_size)]
        return better_score(main, compute([main], valid_gold, pred)[main])

    unit.ctx.step(0, settings.steps * len(settings.learning_rates), f"training {task} head")
    result = fit(build, loss_of, len(train), validate, settings, unit.ctx.step)
    unit.timings["train_s"] = unit.timings.get("train_s", 0.0) + result.train_s
    selection = {**result.selection(), "selection_split": selection_split, "steps": settings.steps,
                 "classes": len(classes), "layer_weights": cast(WeightedLayerSum, result.model.featurizer).layer_weights()}
    return result.model, classes, eval_batcher, settings.batch_size, selection


def run(ctx) -> UnitResult:
    unit = SpeechUnit(ctx)
    card, task = unit.card, unit.card.task
    utts = unit.data.utterances
    unit.prepare([u for items in utts.values() for u in items])
    scored = [r for r in card.splits.scored_roles() if utts.get(r)]
    per_language: dict[str, dict] = {}
    records: list[dict] = []
    selections: dict[str, dict] = {}
    unseen: dict[str, int] = {}
    measured: tuple | None = None
    for lang, train in unit.groups(utts.get("train", [])).items():
        evals = {role: [u for u in utts.get(role, []) if unit.pooled or lang is None or u.language == lang] for role in card.splits.roles() if role != "train"}
        if not train:
            continue
        model, classes, batcher, batch_size, selection = _train_group(unit, train, evals)
        selections[lang or "all"] = selection
        t0 = time.perf_counter()
        for role in scored:
            items = evals.get(role, [])
            if not items:
                continue
            pred = _predict(model, batcher, items, batch_size)
            measured = measured or (model, items)
            gold = [target(u, task, unit.pooled, unit.ctx.settings.speaker_ids == "raw") for u in items]
            unseen[role] = unseen.get(role, 0) + sum(g not in classes for g in gold)
            role_records = [
                {"split": role, "id": u.id, "gold": g, "pred": classes[p], "language": u.language}
                for u, g, p in zip(items, gold, pred)
            ]
            records += role_records
            if lang is not None:
                per_language.setdefault(lang, {})[role] = compute(card.metrics, gold, [r["pred"] for r in role_records])
        unit.timings["eval_s"] = unit.timings.get("eval_s", 0.0) + time.perf_counter() - t0
    if per_language:
        result_metrics = mean_over_languages(per_language)
    else:
        result_metrics = {role: with_breakdown(card.metrics, [r for r in records if r["split"] == role]) for role in scored}
    extras = unit.extras(
        selection=selections,
        unseen_targets=unseen,
        n_examples={role: len(items) for role, items in utts.items()},
    )
    result = UnitResult(metrics=result_metrics, predictions=records, extras=extras)
    if measured is not None:  # one head stands for all (per-language heads share the architecture)
        unit.measure_efficiency(result, *measured)
    return result
