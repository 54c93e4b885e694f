"""`superb` runner for ASR: a BiLSTM-CTC head per language over its own characters.

Transcripts are normalised as IndicSUPERB does (`polyglue.speech.text`), the character vocabulary
is built from the language's training transcripts, SpecAugment masks the features during
training, decoding is greedy, and the checkpoint and learning rate with the lowest
validation WER win. Records hold the normalised reference (`gold`) and hypothesis (`pred`).
"""

from __future__ import annotations

import time
from typing import cast

import torch
import torch.nn.functional as F
from torch import nn

from polyglue.contract import UnitResult
from polyglue.speech.corpus import Utterance
from polyglue.speech.featurizer import WeightedLayerSum
from polyglue.speech.heads.ctc import BiLSTMCTC, greedy_decode, spec_augment
from polyglue.speech.runners.common import (
    SpeechUnit, asr_language_data, asr_scores, compute, load_lm, lm_decoder, lm_extras, mean_over_languages, no_training_transcripts,
)
from polyglue.speech.text import CharVocab
from polyglue.speech.training import Batcher, fit

GRAD_CLIP = 1.0


class Recognizer(nn.Module):
    def __init__(self, layers: int, hidden: int, vocab_size: int, head_dim: int | None = None):
        super().__init__()
        self.featurizer = WeightedLayerSum(layers)
        width = {} if head_dim is None else {"project_dim": head_dim, "hidden_dim": head_dim}
        self.head = BiLSTMCTC(hidden, vocab_size, **width)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        features = self.featurizer(x)
        if generator is not None:
            features = spec_augment(features, generator)
        return self.head(features, lengths)


def _decode(model: Recognizer, batcher: Batcher, vocab: CharVocab, utts: list[Utterance], batch_size: int, beam=None):
    """Greedy transcripts, and with a beam-search decoder (`protocol.lm_path`) the LM's too (else None)."""
    out: list[str] = []
    with_lm: list[str] | None = [] if beam is not None else None
    with torch.no_grad():
        for start in range(0, len(utts), batch_size):
            x, lengths = batcher(utts[start : start + batch_size])
            log_probs = model(x, lengths)
            out += [vocab.decode(ids) for ids in greedy_decode(log_probs, lengths)]
            if with_lm is not None:
                with_lm += [beam.decode(log_probs[row, : int(lengths[row])].float().cpu().numpy()) for row in range(len(lengths))]
    return out, with_lm


def run(ctx) -> UnitResult:
    unit = SpeechUnit(ctx)
    card = unit.card
    utts = {role: [u for u in items if u.transcript is not None] for role, items in unit.data.utterances.items()}
    untranscribed = {role: len(unit.data.utterances[role]) - len(items) for role, items in utts.items()}
    if not utts.get("train"):
        raise no_training_transcripts(unit, None if unit.pooled or not unit.data.present else unit.data.present[0])
    lm = load_lm(ctx.settings)  # before features and training: an unreadable LM fails now
    decoders: dict = {}
    unit.prepare([u for items in utts.values() for u in items])
    features = unit.features
    scored = [r for r in card.splits.scored_roles() if utts.get(r)]
    per_language: dict[str, dict] = {}
    selections: dict[str, dict] = {}
    records: list[dict] = []
    measured: tuple | None = None  # (model, utterances) of the first language: its efficiency figures stand for the unit's
    for lang, train in unit.groups(utts["train"]).items():
        key = lang or "all"
        if not train:
            raise no_training_transcripts(unit, lang)
        train, valid, text, vocab, selection_split = asr_language_data(utts, lang, train, ctx.seed)
        batcher = Batcher(features, ctx.device)
        settings = unit.fit_settings(len(train), optimizer="adam", grad_clip=GRAD_CLIP)
        labels = [torch.tensor(vocab.encode(text[u.id]), dtype=torch.long) for u in train]
        generator = torch.Generator().manual_seed(ctx.data_seed)  # SpecAugment masks: a data-order draw

        def build():
            return Recognizer(features.layers, features.hidden, len(vocab), ctx.settings.head_dim).to(ctx.device)

        def loss_of(model, idx, rng):
            x, lengths = batcher([train[i] for i in idx])
            log_probs = model(x, lengths, generator)  # size (batch, frames, vocab + 1)
            targets = [labels[i] for i in idx]
            return F.ctc_loss(
                log_probs.transpose(0, 1), torch.cat(targets).to(ctx.device), lengths,
                torch.tensor([len(t) for t in targets]), blank=0, zero_infinity=True,
            )

        def validate(model):
            hyp, _ = _decode(model, batcher, vocab, valid, settings.batch_size)
            return -compute(["wer"], [text[u.id] for u in valid], hyp)["wer"]

        ctx.step(0, settings.steps * len(settings.learning_rates), f"training BiLSTM-CTC ({key})")
        result = fit(build, loss_of, len(train), validate, settings, ctx.step)
        unit.timings["train_s"] = unit.timings.get("train_s", 0.0) + result.train_s
        selections[key] = {**result.selection(), "steps": settings.steps, "vocabulary": "".join(vocab.chars),
                           "selection_split": selection_split, "layer_weights": cast(WeightedLayerSum, result.model.featurizer).layer_weights()}
        beam = lm_decoder(lm, vocab.chars, ctx.settings)
        if beam is not None:
            decoders[key] = beam
        t0 = time.perf_counter()
        for role in scored:
            items = [u for u in utts[role] if lang is None or u.language == lang]
            if not items:
                continue
            hyp, hyp_lm = _decode(cast(Recognizer, result.model), batcher, vocab, items, settings.batch_size, beam)
            measured = measured or (result.model, items)
            gold = [text[u.id] for u in items]
            per_language.setdefault(key, {})[role] = asr_scores(list(card.metrics), gold, hyp, hyp_lm)
            for n, (u, g, h) in enumerate(zip(items, gold, hyp)):
                records.append({"split": role, "id": u.id, "gold": g, "pred": h, "language": u.language,
                                **({"pred_lm": hyp_lm[n]} if hyp_lm is not None else {})})
        unit.timings["eval_s"] = unit.timings.get("eval_s", 0.0) + time.perf_counter() - t0
    result_metrics = per_language["all"] if "all" in per_language else mean_over_languages(per_language)
    extras = unit.extras(
        selection=selections,
        untranscribed=untranscribed,
        asr_protocol="superb: frozen upstream, BiLSTM-CTC head (the SUPERB-style s3prl indic_asr recipe, not the paper's fine-tuning)",
        lm_decoding=lm_extras(lm, decoders, ctx.settings),
        n_examples={role: len(items) for role, items in utts.items()},
    )
    out = UnitResult(metrics=result_metrics, predictions=records, extras=extras)
    if measured is not None:  # waveform -> upstream -> BiLSTM-CTC -> greedy path (per-language heads share the architecture)
        head, items = measured
        unit.measure_efficiency(out, head, items, head_forward=lambda model, x, lengths: greedy_decode(model(x, lengths), lengths))
    return out
