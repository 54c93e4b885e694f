"""Frozen Hugging Face text encoders: mean-pooled hidden states, cached on disk.

Batches are built from length-sorted inputs with dynamic padding (little compute spent on
pad tokens), run under `torch.inference_mode`, with bf16 autocast on CUDA. Features are
cached per sentence in the feature cache, keyed by the weights hash, layer, pooling,
maximum length and language kit.
"""

from __future__ import annotations

import numpy as np

from polyglue.encoders import EncoderSpec
from polyglue.errors import UserError
from polyglue.features import FeatureCache, MissingFeatures, content_key


def load_tokenizer_and_model(spec: EncoderSpec, model_cls_name: str = "AutoModel", **model_kwargs):
    """Tokenizer and model from a local folder or the Hub (offline-safe: no retry loops)."""
    from polyglue.torch_compat import prepare

    prepare()
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    target = str(spec.local_path or spec.target)
    kwargs = {"revision": spec.revision} if spec.revision else {}
    if spec.local_path is None:
        from polyglue.data.materialize import hub_offline_reason

        reason = hub_offline_reason()
        if reason is not None:
            raise UserError(f"model '{spec.target}' is not a local folder and the Hub is unusable ({reason}); pass hf:<local folder>")
    try:
        tokenizer = transformers.AutoTokenizer.from_pretrained(target, **kwargs)
        model = getattr(transformers, model_cls_name).from_pretrained(target, **kwargs, **model_kwargs)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load model '{spec.spec}': {str(exc).splitlines()[0]}") from None
    return tokenizer, model


def _hub_ready(spec: EncoderSpec) -> tuple[str, dict]:
    from polyglue.torch_compat import prepare

    prepare()
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if spec.local_path is None:
        from polyglue.data.materialize import hub_offline_reason

        reason = hub_offline_reason()
        if reason is not None:
            raise UserError(f"model '{spec.target}' is not a local folder and the Hub is unusable ({reason}); pass hf:<local folder>")
    return str(spec.local_path or spec.target), ({"revision": spec.revision} if spec.revision else {})


def model_type(spec: EncoderSpec) -> str:
    """The checkpoint's `model_type` (e.g. `bert`, `xlm-roberta`)."""
    target, kwargs = _hub_ready(spec)
    import transformers

    try:
        return transformers.AutoConfig.from_pretrained(target, **kwargs).model_type
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load model '{spec.spec}': {str(exc).splitlines()[0]}") from None


def load_tokenizer(spec: EncoderSpec, **tokenizer_kwargs):
    target, kwargs = _hub_ready(spec)
    import transformers

    try:
        return transformers.AutoTokenizer.from_pretrained(target, **kwargs, **tokenizer_kwargs)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load the tokenizer of '{spec.spec}': {str(exc).splitlines()[0]}") from None


def load_model(spec: EncoderSpec, model_cls_name: str, **model_kwargs):
    """`transformers.<model_cls_name>.from_pretrained` (a task head on the encoder, freshly initialised)."""
    target, kwargs = _hub_ready(spec)
    import transformers

    try:
        return getattr(transformers, model_cls_name).from_pretrained(target, **kwargs, **model_kwargs)
    except (OSError, ValueError) as exc:
        raise UserError(f"cannot load model '{spec.spec}' as {model_cls_name}: {str(exc).splitlines()[0]}") from None


def usable_length(requested: int, tokenizer, model) -> int:
    """The card's maximum length, capped by what the tokenizer and the position embeddings allow."""
    limit = tokenizer.model_max_length if 0 < tokenizer.model_max_length < 100_000 else None
    if limit is None:
        positions = getattr(model.config, "max_position_embeddings", None)
        limit = positions - 2 if positions else requested
    return min(requested, limit)


def length_sorted_batches(lengths: list[int], batch_size: int) -> list[list[int]]:
    """Indices grouped into batches of similar length (longest first), so padding stays small."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


class HFTextEncoder:
    """Mean-pooled last-layer features of a frozen model; `encode(texts)` -> (n, hidden) float32."""

    def __init__(self, spec: EncoderSpec, *, max_length: int, kit_name: str, device: str, cache: FeatureCache, batch_size: int = 32, step=None):
        self.spec = spec
        self.step = step
        self.max_length = max_length
        self.kit_name = kit_name
        self.device = device
        self.cache = cache
        self.batch_size = batch_size
        self._model = None

    def _load(self):
        if self._model is None:
            import torch

            self.tokenizer, model = load_tokenizer_and_model(self.spec)
            self.max_length = usable_length(self.max_length, self.tokenizer, model)
            self._model = model.to(self.device).eval()
            self._torch = torch
        return self._model

    def identity(self) -> dict:
        return {
            "encoder": self.spec.identity(),
            "pooling": "mean",
            "layer": "last",
            "max_length": self.max_length,
            "langkit": self.kit_name,
        }

    def _forward(self, features: list[dict]) -> np.ndarray:
        """Mean-pooled last hidden states, (batch, hidden) float32, of pre-tokenised features."""
        from polyglue.accel import autocast, to_device
        from polyglue.langkits.batching import collate
        from polyglue.langkits.tasks.base import model_inputs

        model, torch = self._load(), self._torch
        pad_id = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        batch = to_device(model_inputs(collate(features, pad_id)), self.device)
        with torch.inference_mode(), autocast(self.device):
            hidden = model(**batch).last_hidden_state.float()  # (batch, tokens, hidden)
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)  # (batch, tokens, 1)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)  # (batch, hidden)
        return pooled.cpu().numpy()

    def encode_uncached(self, texts: list[str]) -> np.ndarray:
        """(n_texts, hidden) features computed now, one padded batch, bypassing the cache: the
        inference path a deployed probe runs (efficiency figures time this, not cache reads)."""
        self._load()
        enc = self.tokenizer(list(texts), truncation=True, max_length=self.max_length)
        names = [n for n in ("input_ids", "token_type_ids") if n in enc]
        return self._forward([{n: enc[n][i] for n in names} for i in range(len(texts))])

    def torch_modules(self) -> list:
        """The torch modules of the inference path (their parameters are the encoder's count)."""
        return [self._load()]

    def encode(self, texts: list[str]) -> np.ndarray:
        """(n_texts, hidden) float32 features; only texts missing from the cache are encoded.

        Texts are tokenised once, in one batched call; batches are length-sorted and padded
        to their own longest input.
        """
        model = self._load()
        dim = model.config.hidden_size
        ns = self.cache.namespace(self.identity(), dim)
        keys = [content_key(t) for t in texts]
        missing = ns.missing(keys)
        if missing:
            wanted = set(missing)
            items = list({k: t for k, t in zip(keys, texts) if k in wanted}.items())
            enc = self.tokenizer([t for _, t in items], truncation=True, max_length=self.max_length)
            names = [n for n in ("input_ids", "token_type_ids") if n in enc]
            features = [{n: enc[n][i] for n in names} for i in range(len(items))]
            step = self.step
            if step:
                step(0, len(items), f"encoding {len(items)} texts with {self.spec.label}")
            with ns.writer() as writer:
                for idx in length_sorted_batches([len(f["input_ids"]) for f in features], self.batch_size):
                    for i, vec in zip(idx, self._forward([features[i] for i in idx])):
                        writer.add(items[i][0], vec)
                    if step:
                        step(len(idx))
        if not keys:
            return np.zeros((0, dim), np.float32)
        out = np.zeros((len(keys), dim), np.float32)
        lost = []
        for i, k in enumerate(keys):
            try:
                out[i] = ns.get(k)[0]
            except MissingFeatures:  # over a cache budget, or evicted meanwhile: recompute, not fail
                lost.append(i)
        if lost:
            enc = self.tokenizer([texts[i] for i in lost], truncation=True, max_length=self.max_length)
            names = [n for n in ("input_ids", "token_type_ids") if n in enc]
            features = [{n: enc[n][j] for n in names} for j in range(len(lost))]
            for idx in length_sorted_batches([len(f["input_ids"]) for f in features], self.batch_size):
                vecs = self._forward([features[j] for j in idx])
                for j, vec in zip(idx, vecs):
                    out[lost[j]] = ns.encode(vec)[0][0]  # as it would read back from the cache
        return out


def build(spec: EncoderSpec, ctx) -> HFTextEncoder:
    """The `hf` kind's text factory: mean-pooled frozen features, cached."""
    ctx.seed_torch()
    return HFTextEncoder(
        spec, max_length=ctx.settings.max_length, kit_name=ctx.card.langkit, device=ctx.device,
        cache=ctx.cache, batch_size=ctx.settings.batch_size, step=ctx.step,
    )
