"""IndicSUPERB's ASV audio effects in numpy, equal to the `sox` program: `gain -3`, then `silence`.

The official recipe (`indic_asv/dataset.py`) runs, on every training and trial file,

    EFFECTS = [["gain", "-3.0"], ["silence", "1", "0.1", "0.1%", "-1", "0.1", "0.1%"]]

through `torchaudio.sox_effects.apply_effects_file` (libsox 14.4.2), which torchaudio 2.9
removed. This module re-implements the two effects from their definitions in sox's
`src/gain.c` and `src/silence.c` (read, not copied), on sox's own sample representation
(int32, a 16-bit sample is `s << 16`), and returns what torchaudio returned: float32
`int32 / 2**31`.

- `gain G`: each sample times `10**(G/20)`, rounded half away from zero, clipped to int32.
  After it the signal's precision is 32 bits, so `silence` masks no low bits.
- `silence 1 D T -1 D T` (D = 0.1 s, T = 0.1 % of full scale): the level of a sample is the
  RMS over a 20 ms window ending at it (`rate / 50` samples; zeros before the start), cast
  to int32; a sample is "above" when `level / (2**31 - 1) * 100 > T`. The state machine:
  *trim*: drop audio until D seconds of consecutive "above" samples, which are kept from
  their first; *copy*: keep audio until D seconds of consecutive "below" samples, which are
  dropped, and (periods -1 = restart) clear the RMS window and trim again; at the end of
  the file a pending shorter pause is kept, a pending shorter loud run is dropped.

Equality with `sox` is tested on generated audio (`tests/speech/test_sox_effects.py`). The
one place the two can differ is the RMS sum: sox keeps a running double sum (add the new
square, subtract the oldest), this module a float64 cumulative sum per segment; the two
round differently by about 1e-8 of the threshold, so a level within that of the threshold
could flip one decision.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SOX_SAMPLE_MAX = 2**31 - 1
SOX_SAMPLE_MIN = -(2**31)
INT32_SCALE = 2.0**31


@dataclass(frozen=True)
class SoxEffects:
    """`gain <gain_db>` then `silence 1 <seconds> <percent>% -1 <seconds> <percent>%` (IndicSUPERB ASV)."""

    gain_db: float = -3.0
    seconds: float = 0.1
    percent: float = 0.1

    def identity(self) -> dict:
        """What the feature-cache key records about the effects (their sox command line)."""
        return {"sox": self.command()}

    def command(self) -> list[list[str]]:
        return [["gain", f"{self.gain_db}"],
                ["silence", "1", f"{self.seconds}", f"{self.percent}%", "-1", f"{self.seconds}", f"{self.percent}%"]]

    def __call__(self, wav: np.ndarray, rate: int = 16000) -> np.ndarray:
        """float32 `(samples,)` in [-1, 1] -> the trimmed float32 waveform (possibly empty)."""
        samples = to_sox(wav)
        return from_sox(silence(gain(samples, self.gain_db), rate, self.seconds, self.percent))


def to_sox(wav: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> sox's int32 samples (16-bit PCM read by soundfile maps back exactly)."""
    scaled = np.round(np.asarray(wav, dtype=np.float64) * INT32_SCALE)
    return np.clip(scaled, SOX_SAMPLE_MIN, SOX_SAMPLE_MAX).astype(np.int64)


def from_sox(samples: np.ndarray) -> np.ndarray:
    """int32 samples -> float32 `s / 2**31`, as torchaudio's `apply_effects_file` returns them."""
    return (np.asarray(samples, dtype=np.float64) / INT32_SCALE).astype(np.float32)


def gain(samples: np.ndarray, gain_db: float) -> np.ndarray:
    """sox `gain`: `round-half-away(s * 10**(dB/20))`, clipped (`SOX_ROUND_CLIP_COUNT`)."""
    mult = np.exp(gain_db * np.log(10.0) * 0.05)  # sox's dB_to_linear
    d = samples.astype(np.float64) * mult
    out = np.where(d < 0, d - 0.5, d + 0.5)
    out = np.where(d <= SOX_SAMPLE_MIN - 0.5, SOX_SAMPLE_MIN, np.where(d >= SOX_SAMPLE_MAX + 0.5, SOX_SAMPLE_MAX, out))
    return np.trunc(out).astype(np.int64)  # C's conversion to sox_sample_t truncates toward zero


def _above(samples: np.ndarray, start: int, window: int, percent: float) -> np.ndarray:
    """Per sample from `start`: is the windowed RMS (window cleared at `start`) above the threshold?"""
    squares = samples[start:].astype(np.float64) ** 2
    csum = np.cumsum(squares)
    lagged = np.concatenate([np.zeros(window), csum[:-window]]) if len(csum) > window else np.zeros(len(csum))
    sums = csum - lagged[: len(csum)]
    level = np.floor(np.sqrt(np.clip(sums, 0.0, None) / window))  # sqrt cast to sox_sample_t
    return level / SOX_SAMPLE_MAX * 100.0 > percent


def _first_run(flags: np.ndarray, length: int, value: bool) -> int | None:
    """Index of the first run of `length` consecutive `flags == value`, or None."""
    hits = (flags == value).astype(np.int64)
    if len(hits) < length:
        return None
    csum = np.concatenate([[0], np.cumsum(hits)])
    full = np.flatnonzero(csum[length:] - csum[:-length] == length)
    return int(full[0]) if len(full) else None


def silence(samples: np.ndarray, rate: int, seconds: float, percent: float) -> np.ndarray:
    """sox `silence 1 <seconds> <percent>% -1 <seconds> <percent>%` on mono int32 samples."""
    window = int(rate // 50)
    duration = int(round(seconds * rate))  # lsx_parsesamples: seconds -> samples
    kept: list[np.ndarray] = []
    pos, n = 0, len(samples)
    while pos < n:
        above = _above(samples, pos, window, percent)  # window cleared at every (re)start
        run = _first_run(above, duration, True)
        if run is None:
            break  # still trimming at the end: the pending loud run is dropped
        start = pos + run
        # copy mode from `start`; the RMS window continues (it is not cleared between trim and copy)
        pause = _first_run(above[run + duration :], duration, False)
        if pause is None:
            kept.append(samples[start:])  # a pending pause shorter than `duration` is kept
            break
        end = start + duration + pause
        kept.append(samples[start:end])
        pos = end + duration  # the pause is dropped; restart: clear the window, trim again
    return np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
