"""Optional adapter for s3prl upstreams (`pip install 'polyglue[s3prl]'`), imported lazily.

`s3prl:<name>` (e.g. `s3prl:fbank`) or `s3prl:<name>@<local path>` for the upstreams that
load a local checkpoint (`hf_wav2vec2_custom@/models/w2v2`, `wav2vec2_local@/ckpt.pt`).
Named hub checkpoints download at construction and so fail offline.

s3prl 0.4.18 still calls `torchaudio.set_audio_backend` and imports
`torchaudio.sox_effects`, both gone from torchaudio >= 2.9 (s3prl issue #575): two shims,
applied just before the import, make it load. One utterance per forward pass, so padding
never leaks into features.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import numpy as np

from polyglue.encoders import EncoderSpec, cache_root, folder_hash
from polyglue.errors import UserError
from polyglue.features import content_key
from polyglue.speech.audio import SAMPLE_RATE_HZ


def _apply_shims() -> None:
    from polyglue.torch_compat import prepare

    prepare()
    import torchaudio

    if not hasattr(torchaudio, "set_audio_backend"):
        torchaudio.set_audio_backend = lambda *args, **kwargs: None
    try:
        import torchaudio.sox_effects  # noqa: F401
    except ImportError:
        module = types.ModuleType("torchaudio.sox_effects")

        def _removed(*args, **kwargs):
            raise NotImplementedError("torchaudio.sox_effects was removed in torchaudio 2.9")

        module.apply_effects_tensor = module.apply_effects_file = _removed  # type: ignore[attr-defined]
        sys.modules["torchaudio.sox_effects"] = module
        torchaudio.sox_effects = module


class S3prlUpstream:
    """`forward(wavs)` -> `[(frames, layers, hidden)]` from `S3PRLUpstream(name, path_or_url)`."""

    def __init__(self, spec: EncoderSpec, *, device: str = "cpu"):
        self.spec = spec
        self.label = spec.label
        self.device = device
        name, _, path = (spec.target or "").partition("@")
        self.name, self.path = name, (Path(path).expanduser() if path else None)
        if self.path is not None and not self.path.exists():
            raise UserError(f"s3prl upstream '{name}': checkpoint {self.path} does not exist")
        self._model = None

    def _weights_id(self) -> str | None:
        if self.path is None:
            return None
        return folder_hash(self.path)

    def identity(self) -> dict:
        return {"upstream": f"s3prl:{self.name}", "weights": self._weights_id(), "sample_rate_hz": SAMPLE_RATE_HZ, "format": 1}

    def _memo(self) -> Path:
        return cache_root() / "speech-shapes" / f"{content_key(self.identity())[:24]}.json"

    def shape(self) -> tuple[int, int]:
        """From a memo of an earlier run when there is one (building an s3prl upstream runs the model)."""
        memo = self._memo()
        if memo.exists():
            layers, hidden, shift = json.loads(memo.read_text())
            self._shift = shift
            return layers, hidden
        model = self._load()
        return model.num_layers, model.hidden_sizes[0]

    @property
    def frame_shift_ms(self) -> float:
        if getattr(self, "_shift", None) is None:
            self.shape()
        return self._shift

    def _load(self):
        if self._model is not None:
            return self._model
        _apply_shims()
        try:
            from s3prl.nn import S3PRLUpstream
        except ImportError as exc:
            raise UserError(f"s3prl upstreams need the optional extra: pip install 'polyglue[s3prl]' ({exc})") from None
        if self.name not in S3PRLUpstream.available_names():
            raise UserError(f"unknown s3prl upstream '{self.name}' (see s3prl.nn.S3PRLUpstream.available_names())")
        try:
            model = S3PRLUpstream(self.name, path_or_url=str(self.path) if self.path else None)
        except (OSError, ConnectionError) as exc:
            raise UserError(f"s3prl upstream '{self.name}' could not be built offline ({str(exc).splitlines()[0]}); "
                            "use s3prl:<name>@<local checkpoint>") from None
        if len(set(model.hidden_sizes)) != 1 or len(set(model.downsample_rates)) != 1:
            raise UserError(f"s3prl upstream '{self.name}' has layers of different sizes or rates; it cannot be weighted-summed")
        self._model = model.to(self.device).eval()
        self._shift = 1000.0 * model.downsample_rates[0] / SAMPLE_RATE_HZ
        memo = self._memo()
        memo.parent.mkdir(parents=True, exist_ok=True)
        memo.write_text(json.dumps([model.num_layers, model.hidden_sizes[0], self._shift]))
        return self._model

    def torch_modules(self) -> list:
        """The upstream model (loaded on first use): its parameters are the unit's frozen count."""
        return [self._load()]

    def forward(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        import torch

        model = self._load()
        out = []
        with torch.inference_mode():
            for wav in wavs:
                x = torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)).view(1, -1).to(self.device)
                hidden, lengths = model(x, torch.tensor([x.shape[1]], device=self.device))
                frames = int(lengths[0][0])
                out.append(torch.stack([h[0, :frames] for h in hidden], dim=1).float().cpu().numpy())
        return out


def build(spec: EncoderSpec, *, device: str = "cpu") -> S3prlUpstream:
    """The `s3prl` kind's speech factory."""
    return S3prlUpstream(spec, device=device)
