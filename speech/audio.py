"""Audio IO with soundfile: mono float32 at 16 kHz, content hashes, clear errors.

soundfile bundles libsndfile (wav, flac, ogg, mp3) and needs neither torchcodec nor
ffmpeg. Kathbath ships m4a, which libsndfile cannot read: such files get a one-line
error with the conversion command instead of a decoder traceback.
"""

from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np

from polyglue.errors import DataError, UserError

SAMPLE_RATE_HZ = 16000
AUDIO_EXTENSIONS = (".wav", ".flac")
UNSUPPORTED_EXTENSIONS = (".m4a", ".mp4", ".aac", ".opus", ".webm")


def conversion_hint(root: Path) -> str:
    """The one-line ffmpeg command that converts a tree of m4a files to 16 kHz mono wav next to them."""
    return (
        f"find {root} -name '*.m4a' -exec sh -c 'ffmpeg -nostdin -loglevel error -y -i \"$0\" -ar 16000 -ac 1 "
        f"\"${{0%.m4a}}.wav\"' {{}} \\;"
    )


def refuse_unsupported(path: Path, root: Path | None = None) -> None:
    """Raise the conversion hint for m4a (and other containers soundfile cannot read)."""
    if path.suffix.lower() in UNSUPPORTED_EXTENSIONS:
        raise UserError(
            f"{path}: {path.suffix} audio cannot be read (wav or flac only); convert the corpus once with: "
            + conversion_hint(root or path.parent)
        )


def read_audio(path: Path, *, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Samples of one file as float32 in [-1, 1], mono (channel mean), resampled to `sample_rate_hz`.

    Returns: `(samples,)` float32. Raises `DataError` naming the file when it cannot be decoded.
    """
    import soundfile as sf

    path = Path(path)
    refuse_unsupported(path)
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError, ValueError) as exc:
        detail = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{path}: cannot decode audio ({detail})") from None
    if data.shape[0] == 0:
        raise DataError(f"{path}: the audio file holds no samples")
    wav = data.mean(axis=1) if data.shape[1] > 1 else data[:, 0]
    if rate != sample_rate_hz:
        from scipy.signal import resample_poly

        common = gcd(int(rate), int(sample_rate_hz))
        wav = resample_poly(wav, sample_rate_hz // common, int(rate) // common).astype(np.float32)
    if not np.isfinite(wav).all():
        raise DataError(f"{path}: the audio holds NaN or infinite samples")
    return np.ascontiguousarray(wav, dtype=np.float32)


def file_hash(path: Path) -> str:
    """sha256 of the file's bytes: the cache key of its features (never the file name)."""
    from polyglue.hashing import file_sha256

    try:
        return file_sha256(path)
    except OSError as exc:
        raise DataError(f"{path}: cannot read audio file ({exc.strerror})") from None


def write_wav(path: Path, samples: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
    """Write float samples in [-1, 1] as 16-bit PCM wav (fixtures and the demo)."""
    import soundfile as sf

    Path(path).parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.clip(samples, -1.0, 1.0), sample_rate_hz, subtype="PCM_16")
