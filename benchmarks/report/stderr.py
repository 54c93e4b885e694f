"""Per-example bootstrap standard error for single-run cells (lm-evaluation-harness's `_stderr`).

A row measured with one seed has no spread over seeds, but its number still has sampling
uncertainty: the examples of the test set are a sample. Resampling the stored per-example
predictions (with replacement, `n` times) and recomputing the card's main metric gives a
standard error in display units. Only cells with exactly one seed, a metric the replay code
can recompute, and stored predictions get one; every other cell keeps `bootstrap_se = None`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from polyglue.errors import DataError
from polyglue.report.aggregate import display
from polyglue.report.replay import MetricReplay, PairedSplit, load_records, replayable


def attach_bootstrap_se(board, runs_dir: Path, n: int = 200, rng_seed: int = 0) -> int:
    """Fill `bootstrap_se` of every single-seed cell of `board`; returns how many cells got one."""
    rng = np.random.default_rng(rng_seed)
    filled = 0
    for row in board.rows:
        for unit in row.units:
            card = board.card_defs.get(unit["card"])
            if card is None:
                continue
            stats = row.cells[card.name]
            if stats.n != 1 or not replayable(card.main_metric) or card.main_metric.startswith("squad"):
                continue
            try:
                records = load_records(runs_dir, unit)
                paired = PairedSplit(card, card.report_split, {("row", unit["seed"]): records})
            except (DataError, StopIteration):
                continue
            if len(paired) < 2:
                continue
            replay = MetricReplay(card, card.main_metric, paired.gold, paired.preds[("row", unit["seed"])], paired.language)
            size = len(paired)
            values = [display(card.main_metric, replay.on(rng.integers(0, size, size))) for _ in range(n)]
            stats.bootstrap_se = float(np.std(values, ddof=1))
            filled += 1
    return filled
