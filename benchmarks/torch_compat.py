"""Quiet, deterministic defaults for the torch-side libraries; call `prepare()` before importing them.

The machine-specific torchaudio workaround (PyPI's torchaudio carries a CUDA-built C++ extension
that cannot load on CPU torch) lives in `scripts/setup.sh`, which installs the tested set from
`constraints.txt` — not in the package, which must not patch another environment's torch.
"""

from __future__ import annotations

import os

_done = False


def prepare() -> None:
    global _done
    if _done:
        return
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    _done = True
