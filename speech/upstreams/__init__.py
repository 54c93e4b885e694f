"""Speech upstreams: `fbank`, `hf:<path>`, `s3prl:<name>`, behind one small interface.

An upstream maps 16 kHz waveforms to every hidden state it has, one array per utterance
of shape `(frames, layers, hidden)`. Features never depend on which other utterances
share a batch, so a cached utterance is the same whatever run computed it.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from polyglue.encoders import EncoderSpec
from polyglue.errors import UserError


class Upstream(Protocol):
    """What the feature cache needs from an upstream."""

    label: str

    def identity(self) -> dict:
        """Everything that determines the features except the audio (weights hash, preprocessing)."""

    def shape(self) -> tuple[int, int]:
        """`(layers, hidden)` without a forward pass (cheap: configs, not weights)."""

    @property
    def frame_shift_ms(self) -> float:
        """Time between output frames, in ms (10 for fbank, 20 for wav2vec2)."""

    def forward(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        """`wavs`: `(samples,)` float32 at 16 kHz each -> `(frames, layers, hidden)` float32 each."""


def build_upstream(spec: EncoderSpec, device: str = "cpu") -> Upstream:
    """The upstream for a `--model` spec; imports torch-side code lazily."""
    if spec.kind == "fbank":
        from polyglue.speech.upstreams.fbank import FbankUpstream

        return FbankUpstream()
    if spec.kind == "hf":
        from polyglue.speech.upstreams.hf import HFUpstream

        return HFUpstream(spec, device=device)
    if spec.kind == "s3prl":
        from polyglue.speech.upstreams.s3prl_upstream import S3prlUpstream

        return S3prlUpstream(spec, device=device)
    raise UserError(f"'{spec.label}' is not a speech upstream (use fbank, hf:<wav2vec2/HuBERT/WavLM folder> or s3prl:<name>)")
