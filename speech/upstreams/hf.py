"""Hugging Face speech upstreams (Wav2Vec2, HuBERT, WavLM, ...) through `AutoModel`.

Every hidden state (`num_hidden_layers + 1`, the CNN/positional output first) in `eval()`
mode (layerdrop off). The checkpoint's own configs decide the preprocessing:
`preprocessor_config.json`'s `do_normalize` (zero mean, unit variance per utterance, done
before padding) and `config.json`'s `feat_extract_norm`: `"layer"` models are batched with
an attention mask; `"group"` models were trained without one, and their group norm mixes
padding into every frame, so they run one utterance per forward pass.
"""

from __future__ import annotations

import contextlib
import json
from typing import cast

import numpy as np

from polyglue.encoders import EncoderSpec
from polyglue.errors import UserError
from polyglue.speech.audio import SAMPLE_RATE_HZ

MAX_BATCH_SAMPLES = 16 * 16000 * 10
"""Samples per padded batch (about 16 utterances of 10 s)."""
MIN_SAMPLES = 400
"""The wav2vec2 CNN's receptive field (25 ms): shorter audio is zero-padded to one frame."""


class HFUpstream:
    """`forward(wavs)` -> `[(frames, layers, hidden)]` with frames at 20 ms (320 samples) for wav2vec2-style models."""

    frame_shift_ms = 20.0

    def __init__(self, spec: EncoderSpec, *, device: str = "cpu"):
        self.spec = spec
        self.label = spec.label
        self.device = device
        self.dtype = "float32"
        """Extraction precision: `float32` (the official code's) or `bfloat16` (autocast on a CUDA GPU that has it)."""
        self._model = None
        self._config: dict | None = None
        self._preprocessor: dict | None = None

    # ------------------------------------------------------------------ configs (no weights)

    def _target(self) -> str:
        return str(self.spec.local_path or self.spec.target)

    def config(self) -> dict:
        if self._config is None:
            path = self.spec.local_path
            if path is not None:
                config_path = path / "config.json"
                if not config_path.exists():
                    raise UserError(f"{path} has no config.json; is it a Hugging Face model folder?")
                self._config = json.loads(config_path.read_text())
            else:
                self._load()
        if self._config is None:
            raise RuntimeError(f"{self._target()}: loading the model did not yield its config")
        return self._config

    def preprocessor(self) -> dict:
        """`preprocessor_config.json`, or the Wav2Vec2FeatureExtractor defaults when a folder has none."""
        if self._preprocessor is None:
            path = self.spec.local_path
            found = path / "preprocessor_config.json" if path is not None else None
            if found is not None and found.exists():
                self._preprocessor = json.loads(found.read_text())
            elif path is None:
                self._load()
            else:
                self._preprocessor = {"do_normalize": True, "sampling_rate": SAMPLE_RATE_HZ, "defaults": True}
        if self._preprocessor is None:
            raise RuntimeError(f"{self._target()}: loading the model did not yield its preprocessor settings")
        return self._preprocessor

    @property
    def batched(self) -> bool:
        return self.config().get("feat_extract_norm", "group") == "layer"

    def identity(self) -> dict:
        pre = self.preprocessor()
        return {
            "upstream": self.spec.identity(),
            "layers": "all",
            "do_normalize": bool(pre.get("do_normalize", True)),
            "attention_mask": self.batched,
            "sample_rate_hz": SAMPLE_RATE_HZ,
            "format": 1,
            "dtype": self.dtype,
        }

    def shape(self) -> tuple[int, int]:
        config = self.config()
        return int(config["num_hidden_layers"]) + 1, int(config["hidden_size"])

    # ------------------------------------------------------------------ model

    def _load(self):
        if self._model is not None:
            return self._model
        from polyglue.torch_compat import prepare

        prepare()
        import transformers
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
        kwargs = {"revision": self.spec.revision} if self.spec.revision else {}
        if self.spec.local_path is None:
            from polyglue.data.materialize import hub_offline_reason

            reason = hub_offline_reason()
            if reason is not None:
                raise UserError(f"model '{self.spec.target}' is not a local folder and the Hub is unusable ({reason}); pass hf:<local folder>")
        try:
            model = transformers.AutoModel.from_pretrained(self._target(), **kwargs)
        except (OSError, ValueError) as exc:
            raise UserError(f"cannot load speech model '{self.spec.spec}': {str(exc).splitlines()[0]}") from None
        if self._config is None:
            self._config = model.config.to_dict()
        if self._preprocessor is None:
            try:
                extractor = transformers.AutoFeatureExtractor.from_pretrained(self._target(), **kwargs)
                self._preprocessor = {"do_normalize": bool(getattr(extractor, "do_normalize", True))}
            except (OSError, ValueError):
                self._preprocessor = {"do_normalize": True, "defaults": True}
        self._model = model.to(self.device).eval()
        return self._model

    def torch_modules(self) -> list:
        """The upstream model (loaded on first use): its parameters are the unit's frozen count."""
        return [self._load()]

    def forward(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        from polyglue.accel import autocast, to_device

        model = self._load()
        normalize = bool(self.preprocessor().get("do_normalize", True))
        prepared = [_normalize(w) if normalize else np.asarray(w, np.float32) for w in wavs]
        prepared = [np.pad(w, (0, MIN_SAMPLES - len(w))) if len(w) < MIN_SAMPLES else w for w in prepared]
        out: list[np.ndarray | None] = [None] * len(prepared)
        for batch in _batches([len(w) for w in prepared], self.batched):
            lengths = torch.tensor([len(prepared[i]) for i in batch])
            padded = torch.zeros(len(batch), int(lengths.max()))
            for row, i in enumerate(batch):
                padded[row, : len(prepared[i])] = torch.from_numpy(prepared[i])
            kwargs = {}
            if self.batched:
                kwargs["attention_mask"] = (torch.arange(padded.shape[1])[None, :] < lengths[:, None]).long().to(self.device)
            with torch.inference_mode(), (autocast(self.device) if self.dtype == "bfloat16" else contextlib.nullcontext()):
                hidden = model(to_device(padded, self.device), output_hidden_states=True, **kwargs).hidden_states
                stacked = torch.stack(hidden, dim=2).float().cpu()  # size (batch, frames, layers, hidden)
                frames = model._get_feat_extract_output_lengths(lengths)
            for row, i in enumerate(batch):
                out[i] = stacked[row, : int(frames[row])].numpy()
        return cast(list[np.ndarray], out)  # `_batches` covers every index, so no slot is left None


def _normalize(wav: np.ndarray) -> np.ndarray:
    """Zero mean, unit variance over the utterance (what Wav2Vec2FeatureExtractor does)."""
    wav = np.asarray(wav, dtype=np.float32)
    return ((wav - wav.mean()) / np.sqrt(wav.var() + 1e-7)).astype(np.float32)


def _batches(lengths: list[int], batched: bool) -> list[list[int]]:
    """Length-sorted batches under MAX_BATCH_SAMPLES of padded audio; singletons when not `batched`."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    if not batched:
        return [[i] for i in order]
    out: list[list[int]] = []
    current: list[int] = []
    for i in order:
        longest = lengths[current[0]] if current else lengths[i]
        if current and longest * (len(current) + 1) > MAX_BATCH_SAMPLES:
            out.append(current)
            current = []
        current.append(i)
    if current:
        out.append(current)
    return out


def build(spec: EncoderSpec, *, device: str = "cpu") -> HFUpstream:
    """The `hf` kind's speech factory (`polyglue.encoders.BUILTIN_KINDS`)."""
    return HFUpstream(spec, device=device)
