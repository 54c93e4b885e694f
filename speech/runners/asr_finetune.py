"""`finetune` runner for ASR: CTC fine-tuning of the upstream per language, as the IndicSUPERB paper.

The paper's ASR rows come from fairseq fine-tuning of IndicWav2Vec (README: "We use the
fairseq library to train ASR models"); this protocol fine-tunes an `hf:<wav2vec2 folder>`
upstream with `Wav2Vec2ForCTC` (`speech.ctc_finetune`): per language, a character vocabulary
from the training transcripts after IndicSUPERB's normaliser, the feature encoder frozen,
AdamW at the card's learning rate, validation WER at the card's checkpoints (`eval_every`),
the best checkpoint scored with greedy decoding, WER and CER on every scored split
(test_known and test). It is a different protocol from the frozen BiLSTM-CTC `superb`
runner and reports say which one ran (`extras.asr_protocol`).

With `protocol.lm_path` (an ARPA or KenLM binary word n-gram) every scored split is also
decoded by beam search with the LM (`polyglue.speech.lm`, fairseq's `--w2l-decoder kenlm`
through flashlight), reported as `wer_lm`/`cer_lm`; the LM loads before any training, so a
broken file stops the unit at once. Without one, `extras.lm_decoding` says it was skipped.

`run_lora` is the `(asr, lora)` protocol: the same loop with LoRA adapters (through the shared
`polyglue.peft_adapters` layer) on the upstream's attention projections (`q_proj`, `v_proj`
unless `protocol.lora.target_modules` says otherwise, as the LoRA recipes' W_q and W_v), the
CTC layer trained in full and everything else, the feature encoder included, frozen. Per
language it records the parameter counts and returns the adapter and CTC layer as artifacts
named `<language>.<peft file>`; `load_trained_lora` rebuilds one language's model.

Not reproduced: fairseq's exact fine-tuning config (its schedule, masking, layerdrop and
steps are not in the IndicSUPERB repository).
"""

from __future__ import annotations

import time

from polyglue.contract import UnitResult
from polyglue.errors import UserError
from polyglue.hashing import trainable_sha256
from polyglue.peft_adapters import adapter_files
from polyglue.speech.audio import read_audio
from polyglue.speech.runners.common import (
    SAMPLE_RATE_HZ, SpeechUnit, asr_language_data, asr_scores, compute, load_lm, lm_decoder, lm_extras, mean_over_languages, no_training_transcripts,
)

#: Utterances decoded per pass when scoring (their log-probabilities are kept for the LM only that long).
SCORE_CHUNK = 32


class _LazyAudio:
    """`items[i]` reads the i-th utterance's audio (16 kHz float32) when a batch needs it."""

    def __init__(self, utts):
        self.utts = utts

    def __len__(self) -> int:
        return len(self.utts)

    def __getitem__(self, i):
        return read_audio(self.utts[i].path)


def _upstream_folder(ctx) -> str:
    path = ctx.encoder.local_path if ctx.encoder.kind == "hf" else None
    if path is None or not (path / "config.json").exists():
        raise UserError(f"ASR fine-tuning needs an hf:<local wav2vec2 folder> upstream, not '{ctx.encoder.spec}'")
    return str(path)


#: LoRA targets of a wav2vec2 upstream when the card names none (peft has no default for the model type).
WAV2VEC2_LORA_TARGETS = ["q_proj", "v_proj"]


def run_lora(ctx) -> UnitResult:
    """CTC fine-tuning of LoRA adapters and the CTC layer only (the `(asr, lora)` protocol)."""
    from polyglue.cards.schema import LoraSettings
    from polyglue.peft_adapters import PeftAdapter, peft_lib

    peft_lib("lora")

    def adapter():
        return PeftAdapter("lora", ctx.settings.lora or LoraSettings.model_validate({}), card_name=ctx.card.name,
                           encoder_label=ctx.encoder.label, default_targets=WAV2VEC2_LORA_TARGETS, head_names=["lm_head"])

    return run(ctx, adapter)


def load_trained_lora(folder, language: str, base=None):
    """One language's trained `(asr, lora)` model from the unit's artifacts folder (base weights from `base`, else the recorded upstream)."""
    import json
    import shutil
    import tempfile
    from pathlib import Path

    import peft
    import transformers

    folder = Path(folder)
    info = json.loads((folder / f"{language}.polyglue_adapter.json").read_text())
    with tempfile.TemporaryDirectory() as tmp:
        for p in folder.glob(f"{language}.*"):
            shutil.copy(p, Path(tmp) / p.name[len(language) + 1:])
        model = transformers.Wav2Vec2ForCTC.from_pretrained(str(base or info["upstream"]), **info["model_kwargs"])
        return peft.PeftModel.from_pretrained(model, tmp)


def _efficiency(model, items, vocab, *, normalize: bool, layer_norm: bool, device: str, counts: dict | None, throughput) -> dict:
    """Efficiency figures (`polyglue.efficiency`) of the fine-tuned model's inference path: waveform read,
    Wav2Vec2ForCTC, greedy CTC transcript, in the scoring pass's batching (8 utterances per forward for
    layer-norm models, 1 for group-norm ones). `throughput`: that pass's `(utterances, seconds)`."""
    from polyglue import efficiency
    from polyglue.speech.ctc_finetune import greedy

    def forward(utts) -> None:
        greedy(model, [read_audio(u.path) for u in utts], vocab, normalize=normalize, layer_norm=layer_norm, device=device)

    identity = efficiency.model_identity(model)
    samples: dict[str, int] = {}  # utterance id -> samples: each file is read once for its size and FLOP key

    def n_samples(u) -> int:
        if u.id not in samples:
            samples[u.id] = len(read_audio(u.path))
        return samples[u.id]

    return efficiency.measure(
        forward, items, parameters=counts or efficiency.parameter_counts(model), batch_size=8 if layer_norm else 1, device=device,
        size_of=lambda u: n_samples(u) / SAMPLE_RATE_HZ, size_name="audio_seconds_per_example",
        freeze=[model], flop_key=lambda u: (identity, n_samples(u)), throughput=throughput,
    )


def run(ctx, adapter_factory=None) -> UnitResult:
    """CTC fine-tuning (the `finetune` protocol); `adapter_factory()` gives a `PeftAdapter` that wraps each language's model."""
    import json

    import torch

    from polyglue.efficiency import add_passes, timed_pass
    from polyglue.speech.ctc_finetune import CTCSettings, ctc_log_probs, finetune, greedy, greedy_ids, load_ctc_model, steps_for

    folder = _upstream_folder(ctx)
    config = json.loads((ctx.encoder.local_path / "config.json").read_text())
    layer_norm = config.get("feat_extract_norm", "group") == "layer"
    pre = ctx.encoder.local_path / "preprocessor_config.json"
    normalize = bool(json.loads(pre.read_text()).get("do_normalize", True)) if pre.exists() else True
    unit = SpeechUnit(ctx)
    card = unit.card
    utts = {role: [u for u in items if u.transcript is not None] for role, items in unit.data.utterances.items()}
    scored = [r for r in card.splits.scored_roles() if utts.get(r)]
    s = ctx.settings
    lm = load_lm(s)  # before any training: an unreadable LM fails now, with nothing lost
    decoders: dict = {}
    per_language: dict[str, dict] = {}
    artifacts: dict[str, bytes] = {}
    lora_block: dict = {}
    selections: dict[str, dict] = {}
    records: list[dict] = []
    measured: dict | None = None  # the first language's efficiency record stands for the unit's (the others share the architecture)
    for lang, train in unit.groups(utts.get("train", [])).items():
        key = lang or "all"
        if not train:
            raise no_training_transcripts(unit, lang)
        train, valid, text, vocab, selection_split = asr_language_data(utts, lang, train, ctx.seed)
        settings = CTCSettings(
            steps=s.max_steps or steps_for(s.epochs, len(train), s.batch_size), batch_size=s.batch_size,
            learning_rate=s.learning_rate, eval_every=s.eval_every if isinstance(s.eval_every, int) else None, weight_decay=s.weight_decay, seed=ctx.data_seed,
        )
        torch.manual_seed(ctx.seed)  # the new CTC layer (and LoRA adapters) start from the init seed
        model = load_ctc_model(folder, vocab, ctx.device)
        adapter = adapter_factory() if adapter_factory is not None else None
        if adapter is not None:
            model = adapter.wrap(model)
        init_sha = trainable_sha256(model)
        beam = lm_decoder(lm, vocab.chars, s)
        if beam is not None:
            decoders[key] = beam

        def transcribe(model, items):
            """Greedy transcripts and, with an LM, beam-search ones, from one forward pass per chunk."""
            plain: list[str] = []
            with_lm: list[str] | None = [] if beam is not None else None
            for start in range(0, len(items), SCORE_CHUNK):
                log_probs = ctc_log_probs(model, [read_audio(u.path) for u in items[start : start + SCORE_CHUNK]],
                                          normalize=normalize, layer_norm=layer_norm, device=ctx.device)
                plain += [vocab.decode(greedy_ids(lp)) for lp in log_probs]
                if with_lm is not None and beam is not None:
                    with_lm += [beam.decode(lp) for lp in log_probs]
            return plain, with_lm

        def decode(model, items):
            return greedy(model, [read_audio(u.path) for u in items], vocab, normalize=normalize, layer_norm=layer_norm, device=ctx.device)

        def validate(model):
            return compute(["wer"], [text[u.id] for u in valid], decode(model, valid))["wer"]

        ctx.step(0, settings.steps, f"fine-tuning Wav2Vec2ForCTC ({key})")
        result = finetune(model, _LazyAudio(train), [vocab.encode(text[u.id]) for u in train], validate, settings,
                          normalize=normalize, layer_norm=layer_norm, device=ctx.device, step=ctx.step)
        unit.timings["train_s"] = unit.timings.get("train_s", 0.0) + result.train_s
        selections[key] = {"best_step": result.best_step, "validation_wer": result.validation_wer, "checkpoints": result.history,
                           "steps": settings.steps, "learning_rate": settings.learning_rate, "vocabulary": "".join(vocab.chars),
                           "selection_split": selection_split,
                           "seeds": {"init": ctx.seed, "data": ctx.data_seed, "trainable_init_sha256": init_sha,
                                     "first_batches": result.first_batches}}
        if adapter is not None:
            selections[key]["parameters"] = dict(adapter.counts)
            kwargs = {"vocab_size": len(vocab) + 1, "pad_token_id": 0, "ctc_zero_infinity": True, "ctc_loss_reduction": "mean"}
            files = adapter_files(result.model, {"upstream": folder, "card": card.name, "language": key, "protocol": "lora",
                                                 "model_class": "Wav2Vec2ForCTC", "model_kwargs": kwargs,
                                                 "vocabulary": "".join(vocab.chars), "parameters": adapter.counts})
            artifacts.update({f"{key}.{name}": data for name, data in files.items()})
            lora_block = {**adapter.settings.model_dump(), "head_modules": ["lm_head"],
                          "target_modules_used": adapter.targets_used(result.model)}
        t0 = time.perf_counter()
        passes: list = []
        first_items: list = []
        for role in scored:
            items = [u for u in utts[role] if lang is None or u.language == lang]
            if not items:
                continue
            (hyp, hyp_lm), timed = timed_pass(lambda: transcribe(result.model, items), len(items), ctx.device)
            passes.append(timed)
            first_items = first_items or items
            gold = [text[u.id] for u in items]
            per_language.setdefault(key, {})[role] = asr_scores(list(card.metrics), gold, hyp, hyp_lm)
            for n, (u, g, h) in enumerate(zip(items, gold, hyp)):
                records.append({"split": role, "id": u.id, "gold": g, "pred": h, "language": u.language,
                                **({"pred_lm": hyp_lm[n]} if hyp_lm is not None else {})})
        unit.timings["eval_s"] = unit.timings.get("eval_s", 0.0) + time.perf_counter() - t0
        if measured is None and first_items:
            t0 = time.perf_counter()
            # the scoring passes are the greedy path's throughput unless they also ran the LM's beam search
            measured = _efficiency(result.model, first_items, vocab, normalize=normalize, layer_norm=layer_norm, device=ctx.device,
                                   counts=dict(adapter.counts) if adapter is not None else None,
                                   throughput=add_passes(*passes) if beam is None else None)
            unit.timings["efficiency_s"] = time.perf_counter() - t0
    if not per_language:
        raise UserError(f"card '{card.name}': no transcribed utterances to train and score")
    result_metrics = per_language["all"] if "all" in per_language else mean_over_languages(per_language)
    extras = unit.extras(
        selection=selections,
        asr_protocol="finetune: Wav2Vec2ForCTC fine-tuning (the IndicSUPERB paper's protocol, via transformers, not fairseq)",
        decoding="greedy and beam search with the KenLM" if lm is not None else "greedy (no language model)",
        lm_decoding=lm_extras(lm, decoders, s),
        official_elements=["upstream fine-tuned with a CTC layer", "feature encoder frozen",
                           "character vocabulary after the IndicSUPERB normaliser", "WER/CER on test_known and test"],
        n_examples={role: len(items) for role, items in utts.items()},
    )
    if measured is not None:
        extras["efficiency"] = measured
        extras.setdefault("parameters", measured["parameters"])
    if adapter_factory is None:
        return UnitResult(metrics=result_metrics, predictions=records, extras=extras)
    extras["asr_protocol"] = "lora: LoRA adapters (peft) on the upstream's attention, CTC layer trained in full, CTC fine-tuning"
    extras["protocol"] = "lora: low-rank adapters (peft), task head trained in full"
    extras["lora"] = lora_block
    counts = [sel["parameters"] for sel in selections.values()]
    extras["parameters"] = counts[0] if len(counts) == 1 else {k: sum(c[k] for c in counts) for k in counts[0]}
    return UnitResult(metrics=result_metrics, predictions=records, extras=extras, artifacts=artifacts)
