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
    """The upstream for a `--model` spec, built by its kind's speech factory (imported lazily)."""
    from polyglue.plugins import resolve_target

    factory = spec.info.speech_factory
    if factory is None:
        raise UserError(f"'{spec.label}' is not a speech upstream (use fbank, hf:<wav2vec2/HuBERT/WavLM folder> or s3prl:<name>)")
    return resolve_target(factory)(spec, device=device)
