"""The seeded selection hold-out, one definition for every runner.

When a card has no validation split (or the recipe selects on a part of train), a fixed
share of the training examples, drawn with the unit's seed, is held out for model selection,
so the reported validation score is never the one that chose the checkpoint.
"""

from __future__ import annotations

import numpy as np

HOLDOUT_FRACTION = 0.1
"""Share of train held out for selection (at least one example)."""


def holdout(n: int, seed: int, fraction: float = HOLDOUT_FRACTION) -> tuple[np.ndarray, np.ndarray]:
    """`(fit, select)` index arrays: a seeded partition of `range(n)`; `select` has `max(1, ⌊n·fraction⌋)` items."""
    order = np.random.default_rng(seed).permutation(n)
    cut = max(1, int(n * fraction))
    return order[cut:], order[:cut]
