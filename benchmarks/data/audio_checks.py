"""Audio facts for `--check-data`: durations read from file headers, and which durations are outliers.

soundfile reads the header only (no decoding), so checking a split costs one small read per clip.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np

from polyglue.cards.problems import display_path

#: Audio whose log-duration is this many robust standard deviations from the median is an outlier.
OUTLIER_ROBUST_Z = 3.5
#: Audio shorter than this is reported whatever the rest looks like (seconds).
MIN_AUDIO_S = 0.1


class AudioError(Exception):
    """A clip that cannot be read; the message says which and why."""


def duration_s(value, base_dirs: list[Path]) -> float | None:
    """Duration in seconds (frames / sample rate, read from the header); None for paths inside a Hub repo."""
    import soundfile as sf

    if isinstance(value, dict):
        if value.get("bytes") is not None:
            source = io.BytesIO(value["bytes"])
        elif value.get("path"):
            value = value["path"]
            source = None
        else:
            raise AudioError("no bytes and no path")
        if source is not None:
            return _header_seconds(sf, source, "embedded audio")
    if not isinstance(value, str) or not value:
        raise AudioError(f"{value!r} is not an audio path")
    candidates = [Path(value)] if Path(value).is_absolute() else [d / value for d in base_dirs]
    for path in candidates:
        if path.exists():
            return _header_seconds(sf, path, path.name)
    if not base_dirs:
        return None
    raise AudioError(f"{value} not found (looked in {', '.join(display_path(d) for d in base_dirs)})")


def _header_seconds(sf, source, name: str) -> float:
    try:
        info = sf.info(source)
    except (RuntimeError, sf.LibsndfileError) as exc:
        raise AudioError(f"{name}: {exc}") from None
    if info.samplerate <= 0 or info.frames <= 0:
        raise AudioError(f"{name}: no samples")
    return info.frames / info.samplerate


def duration_outliers(durations_s: list[float]) -> list[int]:
    """Indices of durations far from the rest: robust z-score of log duration above `OUTLIER_ROBUST_Z`
    (median and MAD, scaled by 1.4826 to match a normal's standard deviation), or shorter than `MIN_AUDIO_S`.

    >>> duration_outliers([3.0, 3.2, 2.9, 3.1, 3.0, 40.0, 0.05])
    [5, 6]
    """
    if not durations_s:
        return []
    logs = np.log(np.asarray(durations_s, dtype=np.float64))
    median = np.median(logs)
    mad = 1.4826 * np.median(np.abs(logs - median))
    out = []
    for i, (d, x) in enumerate(zip(durations_s, logs)):
        far = mad > 0 and abs(x - median) / mad > OUTLIER_ROBUST_Z
        if far or d < MIN_AUDIO_S or not math.isfinite(x):
            out.append(i)
    return out
