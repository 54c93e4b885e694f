"""Units: the atom of scheduling, caching and resuming.

A unit is one (suite@version, card@version + content hash, dataset revision, encoder
identity, protocol config, seed). Its key is a hash of exactly those, so a changed card,
a re-pinned revision, other weights or another learning rate make a new unit, while a
renamed display label does not. Everything here is plain data so a unit can cross process
boundaries (Ray workers) unchanged.
"""

from __future__ import annotations

from polyglue.hashing import json_sha256
from dataclasses import asdict, dataclass, field


def stable_hash(obj) -> str:
    return json_sha256(obj)


@dataclass(frozen=True)
class Unit:
    """Identity of one unit of work."""

    suite: str
    suite_version: str
    card: str
    card_version: str
    card_hash: str
    dataset_revision: str
    encoder_identity: str
    protocol: str
    protocol_hash: str
    seed: int

    @property
    def key(self) -> str:
        return stable_hash(asdict(self))[:32]


@dataclass(frozen=True)
class UnitTask:
    """A unit plus what a worker needs to execute it (none of this changes the unit key)."""

    unit: Unit
    encoder: str
    """The `--model` value as given (`label=` prefix included); parsed again by the worker."""
    card: dict
    card_path: str | None
    protocol_config: dict
    train_card: dict | None = None
    train_card_path: str | None = None
    data_dir: str | None = None
    cache_dir: str | None = None
    device: str = "auto"
    options: dict = field(default_factory=dict)
    """Run-time options that do not change results (e.g. `languages` filters are in protocol_config instead)."""
    comparability: dict = field(default_factory=lambda: {"comparable": True, "debug": False, "reasons": [], "overrides": []})
    """Whether the unit is the card's official recipe (`polyglue.runs.comparability.assess`)."""
    trained_model: str | None = None
    """Key of the unit whose trained model this unit keeps (its own key: a `train_from` card's source)
    or evaluates (a `train_from` unit: its source unit's key); see `polyglue.runs.models`."""

    @property
    def key(self) -> str:
        return self.unit.key

    @property
    def label(self) -> str:
        """The row name in reports: the `label=` prefix, else the spec itself."""
        head = self.encoder.split(":", 1)[0]
        return self.encoder.split("=", 1)[0] if "=" in head else self.encoder

    def encoder_slug(self) -> str:
        import re

        return re.sub(r"[^A-Za-z0-9_.-]+", "_", self.label).strip("_")[:60] or "encoder"

    def describe(self) -> str:
        return f"{self.unit.suite}/{self.unit.card} · {self.label} · {self.unit.protocol} · seed {self.unit.seed}"
