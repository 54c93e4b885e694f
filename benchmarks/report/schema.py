"""The versioned JSON schema of `bench report --format json` and `bench compare --format json`.

One pydantic model per object; the JSON Schema in `docs/report-schema-v1.json` is generated
from these models (`python -m polyglue.report.schema > docs/report-schema-v1.json`) and a
test keeps the two in step. Every document is built through these models, so what the
schema says is what the files hold.

Versioning: `schema_version` is `MAJOR.MINOR`. Adding an optional field bumps MINOR;
renaming, removing or changing the meaning of a field bumps MAJOR (and the file name).
"""

from __future__ import annotations

import json
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION: Final = "1.1"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class Stat(_Model):
    """A number measured over seeds, in display units (percent unless the metric is raw)."""

    mean: float | None
    std: float | None
    """Sample standard deviation over seeds (n - 1); null for one seed."""
    ci95: tuple[float, float] | None
    """95% confidence interval of the mean, Student t with n - 1 degrees of freedom; null for one seed."""
    n: int
    """Number of seeds."""
    values: list[float]
    """Per-seed values, in the order of `seeds`."""
    seeds: list[int]
    seed_invariant: bool | None = None
    """True when every seed gave the same value: the seed cannot change this result (no spread to report)."""
    bootstrap_se: float | None = None
    """Single-seed values: per-example bootstrap standard error (`bench report --bootstrap-se N`); else null."""


class Component(_Model):
    """One term of the suite aggregate, as the suite card declares it."""

    card: str
    metrics: list[str]
    splits: list[str]
    rescale: tuple[float, float] | None = None
    """(low, high) in display units: low maps to 0, high to 1 before `scale` is applied."""


class AggregateDef(_Model):
    name: str
    definition: Literal["official", "polyglue"]
    """`official`: the benchmark authors' score; `polyglue`: this kit's own (e.g. a plain mean)."""
    description: str | None
    scale: float
    components: list[Component]


class CardInfo(_Model):
    name: str
    title: str
    version: str
    content_hash: str
    """First 16 hex digits of the validated card's SHA-256 (what unit keys use)."""
    task: str
    languages: list[str]
    main_metric: str
    report_split: str
    higher_is_better: bool
    display: Literal["percent", "raw"]
    dataset_revisions: list[str]
    """Dataset revisions of the units shown (hub commit, `local` or `layout:<name>`)."""
    recipe: str | None = None
    """The official source the card's protocol values follow (repository, file, commit)."""
    deviations: list[str] = Field(default_factory=list)
    """Documented, unavoidable departures from the official recipe, shown with the card's rows."""


class MeasuredRow(_Model):
    model: str
    """Row label (the `--model` label)."""
    protocol: str
    encoder_identities: list[str]
    """What the label stood for when the units ran (weights hash or hub revision)."""
    seeds: list[int]
    cells: dict[str, Stat]
    """Card name -> its main metric on its report split."""
    aggregate: Stat
    unit_keys: list[str]
    superseded_units: int = 0
    comparable: bool = True
    """False when the row ran something other than the card's recipe; it then has no delta."""
    debug: bool = False
    """A smoke-test row (`--limit`, `--max-steps`), present only with `--include-debug`."""
    reasons: list[str] = Field(default_factory=list)
    """Why the row is not comparable (empty when it is)."""


class ReferenceRowOut(_Model):
    model: str
    source: str
    split: str
    notes: str | None
    cells: dict[str, float | None]
    aggregate: float | None
    aggregate_source: Literal["published", "computed"] | None


class DeltaRow(_Model):
    model: str
    protocol: str
    reference: str
    source: str
    cells: dict[str, float | None]
    """Measured mean minus published value, display units."""
    aggregate: float | None
    split_mismatch: list[str]
    """Cards where the measured split is not the reference row's split."""


class Environment(_Model):
    """An environment stamp stored with the runs, and how many shown units it produced."""

    units: int
    python: str | None = None
    platform: str | None = None
    packages: dict[str, str] = Field(default_factory=dict)
    polyglue_git: str | None = None
    cpu: str | None = None
    devices: list[str] = Field(default_factory=list)


class SuiteLeaderboard(_Model):
    name: str
    version: str
    title: str
    aggregate: AggregateDef
    cards: list[CardInfo]
    rows: list[MeasuredRow]
    references: list[ReferenceRowOut]
    deltas: list[DeltaRow]
    seeds: list[int]
    stale_units: int
    debug_units_hidden: int = 0
    """Debug units of this suite left out of the rows (`bench report --include-debug` shows them)."""
    """Stored units of older card or suite versions, left out."""
    environments: list[Environment]


class Generator(_Model):
    polyglue: str
    python: str
    generated_at: str
    """UTC, ISO 8601."""


class LeaderboardDocument(_Model):
    """`bench report --format json`."""

    schema_: Literal["polyglue.report.leaderboard"] = Field("polyglue.report.leaderboard", alias="schema")
    schema_version: Literal["1.1"] = SCHEMA_VERSION
    generator: Generator
    suites: list[SuiteLeaderboard]


class McNemar(_Model):
    """McNemar's test on one seed: `b` = A right and B wrong, `c` = A wrong and B right."""

    seed: int
    b: int
    c: int
    statistic: float | None
    """Chi-square with continuity correction; null for the exact test."""
    p_value: float
    method: Literal["exact", "chi2"]


class Difference(_Model):
    """A − B on one card (its main metric on its report split) or on the aggregate, display units."""

    name: str
    metric: str
    split: str
    seeds: list[int]
    """Seeds present for both models (examples are paired by split, id and seed)."""
    n_examples: int
    a: float
    b: float
    delta: float
    ci95: tuple[float, float]
    """Percentile interval of the bootstrap distribution of the delta."""
    p_value: float
    """Two-sided paired-bootstrap p-value."""
    p_adjusted: float
    """After the family-wise correction over cards (equal to `p_value` for the aggregate)."""
    significant: bool
    better: Literal["a", "b", "tie"]
    mcnemar: list[McNemar] | None = None
    mcnemar_p_max: float | None = None
    """Largest per-seed McNemar p-value: significant in every seed when below alpha."""
    stored_a: float | None = None
    stored_b: float | None = None
    """The stored metric (seed mean) for comparison with the replayed `a`/`b`."""


class Skipped(_Model):
    name: str
    reason: str


class ComparisonDocument(_Model):
    """`bench compare --format json`."""

    schema_: Literal["polyglue.report.comparison"] = Field("polyglue.report.comparison", alias="schema")
    schema_version: Literal["1.1"] = SCHEMA_VERSION
    generator: Generator
    suite: str
    suite_version: str
    model_a: str
    model_b: str
    protocol_a: str
    protocol_b: str
    n_bootstrap: int
    alpha: float
    correction: Literal["holm", "none"]
    rng_seed: int
    cards: list[Difference]
    aggregate: Difference | None
    aggregate_name: str
    skipped: list[Skipped]
    """Cards (and the aggregate) that could not be compared, with the reason."""
    notes: list[str] = Field(default_factory=list)
    """Warnings, e.g. a replayed metric that does not match the stored one."""
    environments: list[Environment]


def json_schema() -> dict:
    """The JSON Schema of both document kinds (`oneOf` on the `schema` field)."""
    from typing import Annotated, Union

    from pydantic import TypeAdapter

    doc = Annotated[Union[LeaderboardDocument, ComparisonDocument], Field(discriminator="schema_")]
    schema = TypeAdapter(doc).json_schema(by_alias=True)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"polyglue report documents, schema version {SCHEMA_VERSION}"
    return schema


if __name__ == "__main__":  # pragma: no cover
    print(json.dumps(json_schema(), indent=2, sort_keys=True))
