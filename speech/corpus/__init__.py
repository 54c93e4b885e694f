"""Speech corpora as plain records: utterances, verification trials, query-by-example sets.

Two readers fill them: the Kathbath layout (`kathbath.py`) and generic audio manifests
(`manifest.py`). Runners never see file layouts, only these records.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Utterance:
    """One audio file and what the corpus says about it."""

    id: str
    """Path relative to the corpus root (posix): stable, unique, carried into predictions."""
    path: Path
    language: str | None = None
    """Results key (`hi`), or None when the corpus does not say."""
    speaker: str | None = None
    gender: str | None = None
    transcript: str | None = None
    label: str | None = None
    """Class label (keyword) for tasks that have one."""


@dataclass(frozen=True)
class Trial:
    """A speaker-verification trial: 1 when both utterances come from the same speaker."""

    label: int
    enroll: Utterance
    test: Utterance

    @property
    def id(self) -> str:
        return f"{self.enroll.id}|{self.test.id}"


@dataclass
class QbeSet:
    """Spoken queries per split role, shared documents, and which (query, document) pairs match."""

    queries: dict[str, list[Utterance]]
    docs: list[Utterance]
    truth: dict[tuple[str, str], int] = field(default_factory=dict)
    """(query stem, document stem) -> 1 match / 0 no match; unlisted pairs are non-matches."""
    split_rule: str = ""
    """How queries were assigned to split roles (recorded in extras)."""


def stem(utterance: Utterance) -> str:
    """The identifier ground-truth files use: the file name without extension."""
    return Path(utterance.id).stem
