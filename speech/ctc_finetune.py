"""CTC fine-tuning of a wav2vec2-style upstream with transformers' `Wav2Vec2ForCTC` (the paper's ASR protocol).

IndicSUPERB's README trains its ASR numbers by fairseq fine-tuning of IndicWav2Vec; this is
the same protocol with Hugging Face's model class: the pretrained encoder plus a new linear
CTC layer over the language's characters, the convolutional feature encoder frozen (fairseq's
`feature_grad_mult: 0.0`), AdamW, validation WER at the card's checkpoints with the best one
kept, greedy decoding (argmax, merge repeats, drop blanks).

Audio is read at 16 kHz, normalised per utterance when the checkpoint's extractor says
`do_normalize`, zero-padded per batch; an attention mask is passed only to layer-norm
(`feat_extract_norm: layer`) models, as for feature extraction.
"""

from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from polyglue.speech.text import CharVocab


@dataclass(frozen=True)
class CTCSettings:
    steps: int
    batch_size: int
    learning_rate: float
    eval_every: int | None = None
    evaluations: int = 5
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    seed: int = 0
    """Data-order seed: batch order and dropout (the caller seeds the CTC layer's initialisation)."""


@dataclass
class CTCResult:
    model: torch.nn.Module
    best_step: int
    validation_wer: float | None
    history: list[dict] = field(default_factory=list)
    train_s: float = 0.0
    first_batches: list[list[int]] = field(default_factory=list)


def load_ctc_model(folder: str, vocab: CharVocab, device: str = "cpu"):
    """`Wav2Vec2ForCTC` from a pretrained folder with a fresh CTC layer: blank = id 0 (= `pad_token_id`)."""
    from polyglue.torch_compat import prepare

    prepare()
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    previous = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialized lm_head" is expected
    try:
        model = transformers.Wav2Vec2ForCTC.from_pretrained(
            folder, vocab_size=len(vocab) + 1, pad_token_id=0, ctc_zero_infinity=True, ctc_loss_reduction="mean",
        )
    finally:
        hf_logging.set_verbosity(previous)
    model.freeze_feature_encoder()
    return model.to(device)  # type: ignore[arg-type]  # transformers types .to() as taking a model


def _batch(wavs: list[np.ndarray], normalize: bool, layer_norm: bool, device: str):
    prepared = [((w - w.mean()) / np.sqrt(w.var() + 1e-7)).astype(np.float32) if normalize else w.astype(np.float32) for w in wavs]
    lengths = torch.tensor([len(w) for w in prepared])
    x = torch.zeros(len(prepared), int(lengths.max()))
    for row, w in enumerate(prepared):
        x[row, : len(w)] = torch.from_numpy(w)
    mask = (torch.arange(x.shape[1])[None, :] < lengths[:, None]).long().to(device) if layer_norm else None
    return x.to(device), mask, lengths


def ctc_log_probs(model, wavs: list[np.ndarray], *, normalize: bool, layer_norm: bool, device: str, batch_size: int = 8) -> list[np.ndarray]:
    """Per utterance, the CTC log-probabilities over (blank + characters), size (frames, vocab + 1).

    One utterance per pass for group-norm models, so padding never changes them.
    """
    model.eval()
    out = []
    step = batch_size if layer_norm else 1
    with torch.inference_mode():
        for start in range(0, len(wavs), step):
            chunk = wavs[start : start + step]
            x, mask, lengths = _batch(chunk, normalize, layer_norm, device)
            log_probs = torch.log_softmax(model(x, attention_mask=mask).logits.float(), dim=-1)  # size (batch, frames, vocab + 1)
            frames = model._get_feat_extract_output_lengths(lengths)
            out += [log_probs[row, : int(frames[row])].cpu().numpy() for row in range(len(chunk))]
    return out


def greedy_ids(log_probs: np.ndarray) -> list[int]:
    """Greedy CTC path of one utterance: argmax per frame, repeats merged, blanks (id 0) dropped."""
    ids = log_probs.argmax(-1).tolist()
    return [i for k, i in enumerate(ids) if i != 0 and (k == 0 or i != ids[k - 1])]


def greedy(model, wavs: list[np.ndarray], vocab: CharVocab, *, normalize: bool, layer_norm: bool, device: str, batch_size: int = 8) -> list[str]:
    """Greedy CTC transcripts."""
    return [vocab.decode(greedy_ids(lp)) for lp in ctc_log_probs(model, wavs, normalize=normalize, layer_norm=layer_norm, device=device, batch_size=batch_size)]


def finetune(model, train_wavs, train_ids: list[list[int]], validate: Callable[[torch.nn.Module], float] | None,
             settings: CTCSettings, *, normalize: bool, layer_norm: bool, device: str, step: Callable | None = None) -> CTCResult:
    """Fine-tune `model` on (waveform, label ids) pairs; `validate(model)` returns a WER (lower is better).

    `train_wavs[i]` is read per batch, so a lazy sequence (audio read from disk on access) keeps
    memory at one batch.
    """
    from polyglue.speech.training import RECORDED_BATCHES, checkpoints, epoch_batches

    start = time.perf_counter()
    torch.manual_seed(settings.seed)
    rng = np.random.default_rng(settings.seed)
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=settings.learning_rate, weight_decay=settings.weight_decay)
    points = set(checkpoints(settings.steps, settings.evaluations, settings.eval_every))
    batches = epoch_batches(len(train_wavs), min(settings.batch_size, len(train_wavs)), rng)
    best: tuple[float, int, dict] | None = None
    history: list[dict] = []
    first_batches: list[list[int]] = []
    for number in range(1, settings.steps + 1):
        model.train()
        idx = next(batches)
        if len(first_batches) < RECORDED_BATCHES:
            first_batches.append([int(i) for i in idx])
        x, mask, _ = _batch([train_wavs[i] for i in idx], normalize, layer_norm, device)
        width = max(len(train_ids[i]) for i in idx)
        labels = torch.full((len(idx), width), -100, dtype=torch.long)  # -100: ignored (HF convention)
        for row, i in enumerate(idx):
            labels[row, : len(train_ids[i])] = torch.tensor(train_ids[i], dtype=torch.long)
        loss = model(x, attention_mask=mask, labels=labels.to(device)).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if settings.grad_clip:
            torch.nn.utils.clip_grad_norm_(params, settings.grad_clip)
        optimizer.step()
        if step:
            step(1)
        if number in points and validate is not None:
            wer = float(validate(model))
            history.append({"step": number, "wer": round(wer, 4), "loss": round(float(loss.detach()), 4)})
            if best is None or wer < best[0]:
                best = (wer, number, copy.deepcopy(model.state_dict()))
    model.eval()
    if best is None:
        return CTCResult(model, settings.steps, None, history, time.perf_counter() - start, first_batches)
    wer, number, state = best
    model.load_state_dict(state)
    return CTCResult(model, number, wer, history, time.perf_counter() - start, first_batches)


def steps_for(epochs: float, n_train: int, batch_size: int) -> int:
    return max(1, math.ceil(epochs * math.ceil(n_train / batch_size)))
