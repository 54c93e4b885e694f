"""Make torch-side imports work on this project's CPU stack.

PyPI's torchaudio 2.11.0 is a CUDA build: its C++ extension cannot load on CPU torch, and
transformers imports torchaudio whenever it is installed. `scripts/setup.sh` deletes the
extension; this runtime fallback covers environments set up another way. Call
`prepare()` before importing transformers or torchaudio.
"""

from __future__ import annotations

import os
import sys

_done = False


def prepare() -> None:
    global _done
    if _done:
        return
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        import torchaudio  # noqa: F401
    except OSError:
        utils = sys.modules.get("torchaudio._extension.utils")
        if utils is None:
            raise
        utils._load_lib = lambda lib: False  # pure-Python parts (kaldi fbank, resample) keep working
        for name in [m for m in sys.modules if m == "torchaudio" or m.startswith("torchaudio.")]:
            if name != "torchaudio._extension.utils":
                del sys.modules[name]
        import torchaudio  # noqa: F401
    except ImportError:
        pass
    _done = True
