"""The FBANK baseline of SUPERB/IndicSUPERB: Kaldi fbank 80 + Δ + ΔΔ, per-utterance CMVN.

This matches s3prl's `fbank` upstream (`upstream/baseline/fbank.yaml`): torchaudio's
pure-Python Kaldi-compatible fbank on the float waveform (80 mel bins, 25 ms window, 10 ms
shift, log), deltas of order 2 with a 5-frame window, then mean/std normalisation over the
utterance (std + 1e-10) -> 240 dimensions, one layer.
"""

from __future__ import annotations

import numpy as np

from polyglue.speech.audio import SAMPLE_RATE_HZ

NUM_MEL_BINS = 80
FRAME_LENGTH_MS = 25.0
FRAME_SHIFT_MS = 10.0
DELTA_WINDOW_FRAMES = 5
MIN_SAMPLES = int(SAMPLE_RATE_HZ * (FRAME_LENGTH_MS + FRAME_SHIFT_MS) / 1000)  # two frames (CMVN needs a std): 560 samples


class FbankUpstream:
    """`forward([wav])` -> `[(frames, 1, 240)]`, frames = 1 + (samples - 400) // 160.

    >>> import numpy as np
    >>> FbankUpstream().forward([np.zeros(16000, np.float32) + 0.01])[0].shape
    (98, 1, 240)
    """

    label = "fbank"
    frame_shift_ms = FRAME_SHIFT_MS

    def __init__(self):
        self._deltas = None

    def identity(self) -> dict:
        return {
            "upstream": "fbank",
            "impl": "torchaudio.compliance.kaldi.fbank",
            "num_mel_bins": NUM_MEL_BINS,
            "frame_length_ms": FRAME_LENGTH_MS,
            "frame_shift_ms": FRAME_SHIFT_MS,
            "delta_order": 2,
            "delta_window_frames": DELTA_WINDOW_FRAMES,
            "cmvn": "utterance",
            "sample_rate_hz": SAMPLE_RATE_HZ,
            "format": 1,
        }

    def shape(self) -> tuple[int, int]:
        return 1, 3 * NUM_MEL_BINS

    def forward(self, wavs: list[np.ndarray]) -> list[np.ndarray]:
        from polyglue.torch_compat import prepare

        prepare()
        import torch
        from torchaudio.compliance import kaldi
        from torchaudio.transforms import ComputeDeltas

        if self._deltas is None:
            self._deltas = ComputeDeltas(win_length=DELTA_WINDOW_FRAMES)
        out = []
        with torch.inference_mode():
            for wav in wavs:
                if len(wav) < MIN_SAMPLES:
                    wav = np.pad(wav, (0, MIN_SAMPLES - len(wav)))
                x = kaldi.fbank(
                    torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32)).view(1, -1),
                    sample_frequency=SAMPLE_RATE_HZ,
                    num_mel_bins=NUM_MEL_BINS,
                    frame_length=FRAME_LENGTH_MS,
                    frame_shift=FRAME_SHIFT_MS,
                    use_log_fbank=True,
                )  # size (frames, 80)
                feats = [x]
                for _ in range(2):
                    feats.append(self._deltas(feats[-1].transpose(0, 1).unsqueeze(0)).squeeze(0).transpose(0, 1))
                x = torch.cat(feats, dim=-1)  # size (frames, 240)
                x = (x - x.mean(dim=0, keepdim=True)) / (1e-10 + x.std(dim=0, keepdim=True))
                out.append(x.unsqueeze(1).numpy().astype(np.float32))  # size (frames, 1, 240)
        return out


def build(spec, *, device: str = "cpu") -> FbankUpstream:
    """The `fbank` kind's speech factory; features are computed on the CPU whatever the device."""
    return FbankUpstream()
