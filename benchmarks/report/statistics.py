"""Uncertainty over seeds: mean, sample standard deviation and a Student-t 95% confidence interval.

Seeds are few (3 to 5 is usual), so the interval uses the t distribution with n - 1 degrees
of freedom rather than a normal approximation; with one seed there is no interval at all
(reported as missing, never as zero width).

When every seed gave the same value (a deterministic head on cached features: the seed
changes nothing), the spread is not certainty but absence of seed variance; the value is
rendered `92.41 (seed-invariant)` instead of `92.41 ± 0.00`, and `seed_invariant` says so in
JSON.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

CONFIDENCE = 0.95


def t_half_width(values: list[float], confidence: float = CONFIDENCE) -> float | None:
    """Half-width of the two-sided Student-t interval of the mean; None for fewer than two values.

    >>> round(t_half_width([1.0, 2.0, 3.0]), 4)  # sd 1, t(0.975, 2) = 4.3027, / sqrt(3)
    2.4841
    """
    n = len(values)
    if n < 2:
        return None
    from scipy.stats import t

    return float(t.ppf(0.5 + confidence / 2, n - 1) * statistics.stdev(values) / math.sqrt(n))


@dataclass
class SeedStats:
    """Per-seed values of one number (display units) and what they say together."""

    values: list[float] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    bootstrap_se: float | None = None
    """Per-example bootstrap standard error of a single-seed value (`bench report --bootstrap-se N`)."""

    def add(self, seed: int, value: float) -> None:
        self.seeds.append(seed)
        self.values.append(value)

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation (n - 1); None for a single seed."""
        return statistics.stdev(self.values) if self.n > 1 else None

    @property
    def ci95_half(self) -> float | None:
        return t_half_width(self.values)

    @property
    def ci95(self) -> tuple[float, float] | None:
        half, mean = self.ci95_half, self.mean
        return None if half is None or mean is None else (mean - half, mean + half)

    @property
    def seed_invariant(self) -> bool | None:
        """True when two or more seeds all gave exactly the same value; None for fewer than two."""
        if self.n < 2:
            return None
        return max(self.values) == min(self.values)

    def render(self, digits: int = 2, spread: str = "ci") -> str:
        """`mean ± half-width` (spread `ci`) or `mean ± std` (spread `std`); a dash when empty."""
        if not self.values:
            return "–"
        text = f"{self.mean:.{digits}f}"
        if self.seed_invariant:
            return text + " (seed-invariant)"
        if self.n == 1 and self.bootstrap_se is not None:
            return text + f" (SE {self.bootstrap_se:.{digits}f})"
        extra = self.ci95_half if spread == "ci" else self.std
        if extra is not None:
            text += f" ± {extra:.{digits}f}"
        return text

    def as_dict(self) -> dict:
        ci = self.ci95
        return {
            "mean": self.mean,
            "std": self.std,
            "ci95": list(ci) if ci else None,
            "n": self.n,
            "values": list(self.values),
            "seeds": list(self.seeds),
            "seed_invariant": self.seed_invariant,
            "bootstrap_se": self.bootstrap_se,
        }
