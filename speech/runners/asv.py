"""`superb` runner for speaker verification: x-vector + AM-softmax per language, cosine trials.

Per language present: train the head on the training speakers (8 s random crops), score
the validation trials at the card's checkpoints (`eval_every`) and keep the checkpoint (and
learning rate) with the lowest EER, then score every trial list by the cosine of the two
embeddings. Records carry the trial label in `gold` and the cosine in `score`; `pred` is the
decision at the validation EER threshold (None without validation trials).

Head `indic_asv` is IndicSUPERB's model (`speech.heads.indic_asv`); with
`audio_effects: indic-asv-sox` every training and trial file goes through the official sox
effects first (`speech.effects`), and `min_train_seconds` drops training utterances that
are not longer than that after trimming (the official `length > min_sec`). Speaker classes
are every training speaker (the official `speaker_num` counts speaker folders, also those
whose utterances were all dropped). Head `xvector` is the earlier TDNN+BN variant.
"""

from __future__ import annotations

import time
from typing import cast

import numpy as np
import torch
from torch import nn

from polyglue import metrics
from polyglue.errors import DataError, UserError
from polyglue.contract import UnitResult
from polyglue.speech.corpus import Trial, Utterance
from polyglue.speech.featurizer import WeightedLayerSum
from polyglue.speech.heads.indic_asv import IndicAMSoftmax, IndicASV
from polyglue.speech.heads.xvector import AMSoftmaxLoss, XVector, cosine_scores
from polyglue.speech.runners.common import SpeechUnit, mean_over_languages
from polyglue.speech.training import Batcher, fit

CROP_SECONDS = 8.0
GRAD_CLIP = 1000.0


class SpeakerEmbedder(nn.Module):
    def __init__(self, layers: int, hidden: int, num_speakers: int):
        super().__init__()
        self.featurizer = WeightedLayerSum(layers)
        self.xvector = XVector(hidden)
        self.loss = AMSoftmaxLoss(512, num_speakers)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.xvector(self.featurizer(x), lengths)

    def embed(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self(x, lengths)


class IndicSpeakerEmbedder(nn.Module):
    """Featurizer + IndicSUPERB's `indic_asv` model and AM-softmax; `embed` is its `inference` path."""

    def __init__(self, layers: int, hidden: int, num_speakers: int):
        super().__init__()
        self.featurizer = WeightedLayerSum(layers)
        self.model = IndicASV(hidden)
        self.loss = IndicAMSoftmax(512, num_speakers, s=30.0, m=0.4)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model(self.featurizer(x), lengths)

    def embed(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.model.embed(self.featurizer(x), lengths)

#: Official elements each head follows (recorded in extras).
FOLLOWED = {
    "indic_asv": ["indic_asv/model.py XVector (5 TDNN, batch_norm False) + SP + UtteranceExtractor, embedding = linear1+ReLU",
                  "AMSoftmaxLoss s 30 m 0.4", "AdamW (torch default weight decay 0.01 via the card)", "gradient clip 1000",
                  "cosine scoring of L2-normalised embeddings, no score normalisation"],
}


def _embed(model: SpeakerEmbedder, batcher: Batcher, utts: list[Utterance], batch_size: int) -> dict[str, torch.Tensor]:
    out = {}
    with torch.no_grad():
        for start in range(0, len(utts), batch_size):
            chunk = utts[start : start + batch_size]
            x, lengths = batcher(chunk)
            for utt, emb in zip(chunk, model.embed(x, lengths).cpu()):
                out[utt.id] = emb
    return out


def _unique(trials: list[Trial]) -> list[Utterance]:
    return list({u.id: u for t in trials for u in (t.enroll, t.test)}.values())


def _score(model, batcher, trials: list[Trial], batch_size: int) -> np.ndarray:
    emb = _embed(model, batcher, _unique(trials), batch_size)
    enroll = torch.stack([emb[t.enroll.id] for t in trials])
    test = torch.stack([emb[t.test.id] for t in trials])
    return cosine_scores(enroll, test).numpy()


def _unscorable(trials: list[Trial]) -> str | None:
    """Why a trial list cannot give an EER (it needs both kinds of trial), or None."""
    labels = {t.label for t in trials}
    if labels == {0, 1}:
        return None
    return "all trials are " + ("same-speaker" if labels == {1} else "different-speaker")


def eer_threshold(gold, scores) -> float:
    """The score threshold where false accepts and false rejects are closest (for decisions)."""
    from sklearn.metrics import roc_curve

    fpr, tpr, thresholds = roc_curve(np.asarray(gold, dtype=int), np.asarray(scores, dtype=float))
    i = int(np.argmin(np.abs(fpr - (1 - tpr))))
    return float(thresholds[i])


def run(ctx) -> UnitResult:
    unit = SpeechUnit(ctx)
    card = unit.card
    head = card.protocol.head or "xvector"
    train_all = unit.data.utterances.get("train", [])
    trials = unit.data.trials
    unit.prepare(train_all + [u for role_trials in trials.values() for u in _unique(role_trials)])
    features = unit.features
    effects_extra = _check_effects(unit, trials)
    dropped: dict[str, int] = {}
    scored = [r for r in card.splits.scored_roles() if trials.get(r)]
    per_language: dict[str, dict] = {}
    selections: dict[str, dict] = {}
    records: list[dict] = []
    unscorable: dict[str, str] = {}
    measured: tuple[nn.Module, list[Utterance]] | None = None
    for lang, train in unit.groups(train_all).items():
        key = lang or "all"
        group_trials = {role: [t for t in trials.get(role, []) if lang is None or t.enroll.language == lang] for role in trials}
        train = [u for u in train if u.speaker is not None]
        speaker_of = {u.id: f"{u.language}/{u.speaker}" if lang is None and u.language else u.speaker for u in train}
        speakers = sorted(set(speaker_of.values()))
        train = _long_enough(unit, train, dropped, key)
        if len(speakers) < 2:
            raise UserError(f"card '{card.name}' ({key}): speaker verification needs at least 2 training speakers (found {len(speakers)})")
        index = {s: i for i, s in enumerate(speakers)}
        targets = torch.tensor([index[speaker_of[u.id]] for u in train])
        if not train:
            raise UserError(f"card '{card.name}' ({key}): no training utterance is longer than min_train_seconds "
                            f"({ctx.settings.min_train_seconds} s) after the audio effects")
        train_batcher = unit.train_batcher(ctx.settings.crop_seconds or CROP_SECONDS)
        eval_batcher = Batcher(features, ctx.device)
        settings = unit.fit_settings(len(train), optimizer="adamw", grad_clip=GRAD_CLIP)
        valid = group_trials.get("validation") or []
        if valid and (why := _unscorable(valid)):
            unscorable[f"validation@{key}"] = why
            valid = []

        embedder = IndicSpeakerEmbedder if head == "indic_asv" else SpeakerEmbedder

        def build():
            return embedder(features.layers, features.hidden, len(speakers)).to(ctx.device)

        def loss_of(model, idx, rng):
            x, lengths = train_batcher([train[i] for i in idx], rng)
            return model.loss(model(x, lengths), targets[idx].to(ctx.device))

        def validate(model):
            return -metrics.eer([t.label for t in valid], _score(model, eval_batcher, valid, settings.batch_size))

        ctx.step(0, settings.steps * len(settings.learning_rates), f"training x-vector ({key})")
        result = fit(build, loss_of, len(train), validate if valid else None,
                     settings if valid else _single_lr(settings), ctx.step)
        unit.timings["train_s"] = unit.timings.get("train_s", 0.0) + result.train_s
        model = result.model
        threshold = None
        if valid:
            threshold = eer_threshold([t.label for t in valid], _score(model, eval_batcher, valid, settings.batch_size))
        selections[key] = {**result.selection(), "steps": settings.steps, "speakers": len(speakers), "threshold": threshold,
                           "selection_split": "validation" if valid else "none (final step)",
                           "layer_weights": cast(WeightedLayerSum, model.featurizer).layer_weights()}
        t0 = time.perf_counter()
        for role in scored:
            role_trials = group_trials.get(role) or []
            if not role_trials:
                continue
            if why := _unscorable(role_trials):
                unscorable[f"{role}@{key}"] = why
                continue
            scores = _score(model, eval_batcher, role_trials, settings.batch_size)
            measured = measured or (model, _unique(role_trials))
            gold = [t.label for t in role_trials]
            per_language.setdefault(key, {})[role] = metrics.compute(card.metrics, gold, scores)
            for trial, score in zip(role_trials, scores):
                records.append({
                    "split": role, "id": trial.id, "gold": trial.label, "score": round(float(score), 6),
                    "pred": None if threshold is None else int(score >= threshold), "language": trial.enroll.language,
                })
        unit.timings["eval_s"] = unit.timings.get("eval_s", 0.0) + time.perf_counter() - t0
    result_metrics = per_language["all"] if "all" in per_language else mean_over_languages(per_language)
    extras = unit.extras(
        selection=selections,
        unscorable=unscorable,
        head=head,
        official_elements=FOLLOWED.get(head, []),
        audio_effects=effects_extra,
        min_train_seconds={"seconds": ctx.settings.min_train_seconds, "dropped": dropped},
        n_examples={"train": len(train_all), **{role: len(t) for role, t in trials.items()}},
    )
    out = UnitResult(metrics=result_metrics, predictions=records, extras=extras)
    if measured is not None:  # one example = one utterance's embedding (a trial compares two of them)
        model, items = measured
        unit.measure_efficiency(out, model, items, head_forward=lambda m, x, lengths: cast(SpeakerEmbedder, m).embed(x, lengths))
    return out


def _single_lr(settings):
    """Without validation trials nothing can choose among learning rates: the first one is used."""
    from dataclasses import replace

    return replace(settings, learning_rates=settings.learning_rates[:1])


def _check_effects(unit: SpeechUnit, trials: dict[str, list[Trial]]) -> dict:
    """With audio effects: every trial file must keep some audio (else one line naming it)."""
    effects = unit.features.effects
    if effects is None:
        return {"name": "none"}
    for role_trials in trials.values():
        for utt in _unique(role_trials):
            if unit.features.samples_after_effects(utt) == 0:
                raise DataError(f"{utt.path}: the audio effects ({' '.join(' '.join(e) for e in effects.command())}) "
                                "trim this trial file to nothing")
    return {"name": unit.ctx.settings.audio_effects, "sox": effects.command(), "applied_to": "training and trial audio"}


def _long_enough(unit: SpeechUnit, train: list[Utterance], dropped: dict[str, int], key: str) -> list[Utterance]:
    """Training utterances longer than `min_train_seconds` after the effects (official: `length > min_sec`)."""
    seconds = unit.ctx.settings.min_train_seconds
    features = unit.features
    if seconds is None and features.effects is None:
        return train
    limit = int(round((seconds or 0.0) * 16000))
    kept = [u for u in train if features.samples_after_effects(u) > limit]
    dropped[key] = len(train) - len(kept)
    return kept
