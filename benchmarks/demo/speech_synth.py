"""Synthetic speech-like audio with structure a head can learn (demo and test corpora).

Nothing here is recorded speech. A *speaker* is a pitch (Hz), a vocal-tract scale that
shifts every formant, and a spectral tilt (timbre); a *language* is a rhythm (segment
length in ms, pause length, amplitude envelope) and a formant palette; a *character* of a
transcript is a pair of formants (a vowel-like segment), so a keyword is a fixed spectral
pattern in time. Audio is harmonics of the pitch shaped by those formants, plus faint
noise, at 16 kHz.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE_HZ = 16000
MAX_HARMONIC_HZ = 4000.0
FORMANT_BANDWIDTH_HZ = 120.0


def _rng(*parts) -> np.random.Generator:
    seed = int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "little")
    return np.random.default_rng(seed)


@dataclass(frozen=True)
class Speaker:
    id: str
    gender: str
    pitch_hz: float
    tract_scale: float
    """Multiplies every formant frequency (shorter tracts: higher formants)."""
    tilt_db_per_khz: float

    @classmethod
    def make(cls, speaker_id: str, gender: str, seed: int = 0) -> "Speaker":
        rng = _rng("speaker", speaker_id, seed)
        low, high = (95.0, 150.0) if gender == "m" else (170.0, 260.0)
        return cls(speaker_id, gender, float(rng.uniform(low, high)), float(rng.uniform(0.85, 1.18)), float(rng.uniform(-9.0, -2.0)))


@dataclass(frozen=True)
class Language:
    key: str
    segment_ms: float
    pause_ms: float
    attack: float
    """Share of a segment spent rising (a rhythm cue: percussive vs smooth)."""
    formants: dict[str, tuple[float, float]]
    """Character -> (F1, F2) in Hz."""

    @classmethod
    def make(cls, key: str, alphabet: str, seed: int = 0) -> "Language":
        rng = _rng("language", key, seed)
        # Each language's vowels sit in its own band of F2 (an accent-like colour), on top of its rhythm.
        centre = float(rng.uniform(1100, 2300))
        formants = {ch: (float(rng.uniform(280, 900)), float(rng.uniform(centre - 250, centre + 250))) for ch in alphabet}
        return cls(key, float(rng.uniform(70, 150)), float(rng.uniform(40, 140)), float(rng.uniform(0.05, 0.45)), formants)


def segment(speaker: Speaker, f1: float, f2: float, duration_ms: float, attack: float, rng: np.random.Generator) -> np.ndarray:
    """One vowel-like segment: harmonics of the speaker's pitch under two formant peaks -> `(samples,)`."""
    n = max(1, int(SAMPLE_RATE_HZ * duration_ms / 1000))
    t = np.arange(n) / SAMPLE_RATE_HZ
    pitch = speaker.pitch_hz * (1 + 0.02 * np.sin(2 * np.pi * 5 * t + rng.uniform(0, 2 * np.pi)))
    phase = 2 * np.pi * np.cumsum(pitch) / SAMPLE_RATE_HZ
    formants = (f1 * speaker.tract_scale, f2 * speaker.tract_scale)
    out = np.zeros(n)
    for k in range(1, int(MAX_HARMONIC_HZ // speaker.pitch_hz) + 1):
        freq = k * speaker.pitch_hz
        envelope = sum(np.exp(-0.5 * ((freq - f) / FORMANT_BANDWIDTH_HZ) ** 2) for f in formants) + 0.05
        gain = envelope * 10 ** (speaker.tilt_db_per_khz * freq / 1000 / 20)
        out += gain * np.sin(k * phase)
    rise = max(1, int(attack * n))
    shape = np.ones(n)
    shape[:rise] = np.linspace(0, 1, rise)
    shape[-max(1, n // 5):] *= np.linspace(1, 0, max(1, n // 5))
    return out * shape


def speak(text: str, speaker: Speaker, language: Language, rng: np.random.Generator) -> np.ndarray:
    """Audio of `text`: one segment per character, pauses between words, faint noise -> float32 in [-1, 1]."""
    pieces = [np.zeros(int(SAMPLE_RATE_HZ * 0.05))]
    for word in text.split():
        for ch in word:
            f1, f2 = language.formants[ch]
            duration = language.segment_ms * rng.uniform(0.85, 1.15)
            pieces.append(segment(speaker, f1, f2, duration, language.attack, rng))
        pieces.append(np.zeros(int(SAMPLE_RATE_HZ * language.pause_ms * rng.uniform(0.8, 1.2) / 1000)))
    audio = np.concatenate(pieces)
    audio = audio / (np.abs(audio).max() + 1e-9) * 0.5
    audio += rng.normal(0, 0.003, len(audio))
    return audio.astype(np.float32)


def random_text(alphabet: str, rng: np.random.Generator, words: tuple[int, int] = (2, 4), letters: tuple[int, int] = (2, 4)) -> str:
    """Invented words from an alphabet (no real sentences)."""
    out = []
    for _ in range(int(rng.integers(words[0], words[1] + 1))):
        out.append("".join(rng.choice(list(alphabet)) for _ in range(int(rng.integers(letters[0], letters[1] + 1)))))
    return " ".join(out)
