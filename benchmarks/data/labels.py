"""Label resolution by name.

Index orders differ between suites (GLUE MNLI is entailment/neutral/contradiction, CLUE
CMNLI neutral/entailment/contradiction), so a label is always resolved to the card's
label *name*: string values are looked up by name; integer values are first named by the
source's own ClassLabel list when the data declares one, else by the card's list, which
records the source's index order. Model classes are positions in the card's list.
"""

from __future__ import annotations

import numbers

import numpy as np

from polyglue.errors import DataError

HIDDEN = -1


class LabelSpace:
    """The card's label names and the mapping of raw data values onto their positions."""

    def __init__(self, names: list[str], source_names: list[str] | None = None, label_map: dict[str, str] | None = None):
        self.names = list(names)
        self.index = {n: i for i, n in enumerate(self.names)}
        self.source_names = list(source_names) if source_names else None
        self.label_map = dict(label_map or {})
        """The card's `label_map`: a source label name -> the card's name (an integer is first named
        by the source's ClassLabel list, then mapped; GLUE-X scores MRPC rows with an RTE model:
        `equivalent` -> `entailment`)."""
        for source, target in self.label_map.items():
            if target in self.index and source not in self.index:
                self.index[source] = self.index[target]

    def __len__(self) -> int:
        return len(self.names)

    def _one(self, value, where: str, allow_hidden: bool) -> int:
        if isinstance(value, str):
            if value in self.index:
                return self.index[value]
            stripped = value.strip()
            if stripped.lstrip("-").isdigit():
                return self._one(int(stripped), where, allow_hidden)
            raise DataError(f"{where}: label {_clip(value)} is not among the card's labels [{', '.join(self.names)}]")
        if isinstance(value, bool) or value is None or not isinstance(value, numbers.Integral):
            if value is None and allow_hidden:
                return HIDDEN
            kind = "a float" if isinstance(value, float) else type(value).__name__
            raise DataError(f"{where}: label {_clip(value)} ({kind}) is neither a label name nor an integer index")
        value = int(value)
        if value < 0:
            if allow_hidden:
                return HIDDEN
            raise DataError(f"{where}: label {value} marks a hidden label, but this split is declared `labels: present`")
        if self.source_names is not None:
            if value >= len(self.source_names):
                raise DataError(f"{where}: label index {value} is outside the source's {len(self.source_names)} classes")
            name = self.source_names[value]
            if name not in self.index:
                raise DataError(f"{where}: source label '{name}' (index {value}) is not among the card's labels [{', '.join(self.names)}]")
            return self.index[name]
        if value >= len(self.names):
            raise DataError(f"{where}: label index {value} is outside the card's {len(self.names)} labels [{', '.join(self.names)}]")
        return value

    def encode(self, values: list, origin: str, *, allow_hidden: bool = False) -> np.ndarray:
        """Card positions for `values`; hidden labels (-1/None) become -1 only when allowed."""
        return np.array(
            [self._one(v, f"{origin}: row {i + 1}", allow_hidden) for i, v in enumerate(values)], dtype=np.int64
        )

    def encode_sequences(self, sequences: list[list], origin: str) -> list[np.ndarray]:
        """Tag sequences (token classification) resolved the same way, row by row."""
        out = []
        for i, seq in enumerate(sequences):
            where = f"{origin}: row {i + 1}"
            out.append(np.array([self._one(v, where, False) for v in seq], dtype=np.int64))
        return out


def encode_regression(values: list, origin: str, *, allow_hidden: bool = False) -> np.ndarray:
    """Float targets; a non-numeric value is a one-line DataError naming the row."""
    out = np.empty(len(values), dtype=np.float64)
    for i, v in enumerate(values):
        try:
            out[i] = float(v)
        except (TypeError, ValueError):
            if allow_hidden and v is None:
                out[i] = np.nan
                continue
            raise DataError(f"{origin}: row {i + 1}: regression target {_clip(v)} is not a number") from None
        if not np.isfinite(out[i]):
            raise DataError(f"{origin}: row {i + 1}: regression target {_clip(v)} is not a finite number")
    return out


def _clip(value, limit: int = 60) -> str:
    """A short repr of a value read from a data file (error messages quote little of a file)."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"
