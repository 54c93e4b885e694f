"""Language kits by name. Pure data, read by `bench validate` (which must not import torch).

A value is `module:Class`; the class is imported only when a run needs it.
"""

from __future__ import annotations

import importlib

KITS: dict[str, str] = {
    "default": "langkits.kits:LangKit",
    "cat": "langkits.kits:CatalanKit",
    "ell-greekbert": "langkits.kits:GreekBertKit",
    "zho": "langkits.kits:ChineseKit",
}


def kit_names() -> set[str]:
    return set(KITS)


def get_kit(name: str):
    """Instantiate the kit registered under `name`."""
    from benchmarks.errors import UserError

    if name not in KITS:
        raise UserError(f"unknown language kit '{name}' (known: {', '.join(sorted(KITS))})")
    module, _, attr = KITS[name].partition(":")
    return getattr(importlib.import_module(module), attr)()
