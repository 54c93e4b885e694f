"""Cached encoder states for the frozen probes of token, QA and multiple-choice tasks.

A frozen probe (`polyglue.langkits.protocols.finetune.run_frozen`) trains only the head of
an `AutoModelFor*` model; its encoder (`model.base_model`, in eval mode: no dropout)
returns the same states for the same input every epoch. `attach(model, ...)` replaces the
encoder's forward with a lookup in the feature cache, so the encoder runs once per input
(the first time it is seen, which is the first epoch or the first validation pass) and
every later epoch, validation pass and prediction reads its states from disk. The head
(dropout, classifier, QA span layer) still runs, with its gradients, on every batch.

Keys follow the cache's rules: the namespace holds the encoder's identity (weights hash or
revision) and the compute precision; each row is keyed by its token ids and segment ids,
which already encode the tokenizer, its settings, the truncation and the input text. Rows
are stored at their real length (padding is on the right and masked, so real positions do
not depend on how much padding a batch has) plus, when the encoder has a pooler, one more
row with the pooled state. Rebuilt batches carry zero vectors at padded positions in
every epoch: padded positions never reach a token-classification loss (labels -100) or a
multiple-choice logit (the pooler reads the first token), and for QA they get the span
layer's bias, the same in every epoch.

A row that is missing (never stored, or evicted by a cache budget) is computed again with
the real encoder, so the cache never changes what can run.
"""

from __future__ import annotations

import time
import types

import numpy as np

from polyglue.features import FeatureCache, MissingFeatures, content_key


def _row_key(ids: np.ndarray, segments: np.ndarray | None) -> str:
    return content_key(ids.astype(np.int64).tobytes(), b"" if segments is None else segments.astype(np.int64).tobytes())


class TokenStateCache:
    """The encoder-state lookup installed on one model; `stats` counts rows read and computed."""

    def __init__(self, model, cache: FeatureCache, identity: dict):
        import torch

        self.model = model
        self.encoder = model.base_model
        self._forward = self.encoder.forward
        self.hidden = int(model.config.hidden_size)
        self.pooler = getattr(self.encoder, "pooler", None) is not None
        self.ns = cache.namespace({"token_states": identity, "pooler": self.pooler}, self.hidden)
        self.stats = {"rows_read": 0, "rows_computed": 0, "encoder_calls": 0, "encoder_s": 0.0}
        self._torch = torch

    def install(self) -> "TokenStateCache":
        cache = self

        def forward(encoder, input_ids=None, attention_mask=None, token_type_ids=None, *args, **kwargs):
            unusual = args or any(kwargs.get(k) is not None for k in ("inputs_embeds", "position_ids", "head_mask")) or kwargs.get("output_hidden_states") or kwargs.get("output_attentions")
            if input_ids is None or attention_mask is None or unusual:
                return cache._forward(input_ids, attention_mask, token_type_ids, *args, **kwargs)
            return cache.lookup(input_ids, attention_mask, token_type_ids, kwargs)

        self.encoder.forward = types.MethodType(forward, self.encoder)
        return self

    def remove(self) -> None:
        self.encoder.__dict__.pop("forward", None)

    def lookup(self, input_ids, attention_mask, token_type_ids, kwargs):
        ids = input_ids.detach().cpu().numpy()
        mask = attention_mask.detach().cpu().numpy().astype(bool)
        segs = token_type_ids.detach().cpu().numpy() if token_type_ids is not None else None
        lengths = mask.sum(axis=1)
        if not all(mask[b, : lengths[b]].all() for b in range(len(ids))):  # not right-padded: no cache
            return self._forward(input_ids, attention_mask, token_type_ids, **kwargs)
        keys = [_row_key(ids[b, : lengths[b]], None if segs is None else segs[b, : lengths[b]]) for b in range(len(ids))]
        blocks: list[np.ndarray | None] = []
        for key in keys:
            try:
                blocks.append(self.ns.read(key))
            except MissingFeatures:
                blocks.append(None)
        missing = [b for b, block in enumerate(blocks) if block is None]
        if missing:
            fresh = self._compute(input_ids[missing], attention_mask[missing], None if token_type_ids is None else token_type_ids[missing], lengths[missing], kwargs)
            with self.ns.writer() as writer:
                for b, block in zip(missing, fresh):
                    writer.add(keys[b], block)
                    blocks[b] = self.ns.encode(block)[0]  # as it reads back, whether or not it was stored
            self.stats["rows_computed"] += len(missing)
        self.stats["rows_read"] += len(ids) - len(missing)
        return self._assemble(blocks, lengths, ids.shape[1], input_ids.device)

    def _compute(self, input_ids, attention_mask, token_type_ids, lengths, kwargs) -> list[np.ndarray]:
        t0 = time.perf_counter()
        with self._torch.no_grad():
            out = self._forward(input_ids, attention_mask, token_type_ids, **kwargs)
        states = out[0].float().cpu().numpy()  # (rows, tokens, hidden)
        pooled = out[1].float().cpu().numpy() if self.pooler and len(out) > 1 else None  # (rows, hidden)
        self.stats["encoder_calls"] += 1
        self.stats["encoder_s"] += time.perf_counter() - t0
        blocks = []
        for r, n in enumerate(lengths):
            block = states[r, :n]
            if pooled is not None:
                block = np.concatenate([block, pooled[r][None, :]], axis=0)
            blocks.append(block)
        return blocks

    def _assemble(self, blocks: list[np.ndarray], lengths: np.ndarray, width: int, device):
        from transformers.modeling_outputs import BaseModelOutput, BaseModelOutputWithPooling

        torch = self._torch
        states = np.zeros((len(blocks), width, self.hidden), dtype=np.float32)
        pooled = np.zeros((len(blocks), self.hidden), dtype=np.float32) if self.pooler else None
        for b, (block, n) in enumerate(zip(blocks, lengths)):
            states[b, :n] = block[:n]
            if pooled is not None:
                pooled[b] = block[n]
        dtype = next(self.encoder.parameters()).dtype
        last = torch.from_numpy(states).to(device=device, dtype=dtype)
        if self.pooler:
            return BaseModelOutputWithPooling(last_hidden_state=last, pooler_output=torch.from_numpy(pooled).to(device=device, dtype=dtype))
        return BaseModelOutput(last_hidden_state=last)


def attach(model, cache: FeatureCache, encoder_identity: dict, device: str) -> TokenStateCache:
    """Serve `model.base_model`'s states from the cache from now on (the model must be frozen)."""
    precision = "bf16-autocast" if str(device).startswith("cuda") else "fp32"
    return TokenStateCache(model, cache, {"encoder": encoder_identity, "precision": precision}).install()
