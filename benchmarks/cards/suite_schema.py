"""The suite schema: ordered cards, the aggregate as the benchmark defines it, published rows."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_serializer, model_validator

from polyglue.cards.base import MAX_NAME, NAME_PATTERN, VERSION_PATTERN, Strict
from polyglue.cards.vocab import MetricName


class Rescale(Strict):
    """Linear rescaling of a component: `low` maps to 0 and `high` to 1 (SUPERB-style)."""

    low: float
    """Value of the baseline (e.g. FBANK), in the metric's display units."""
    high: float
    """Value of the reference (e.g. the best published system), in display units."""

    @model_validator(mode="after")
    def _distinct(self):
        if self.low == self.high:
            raise ValueError("rescale.low and rescale.high must differ")
        return self


class AggregateComponent(Strict):
    """One term of the suite aggregate."""

    card: str
    metrics: list[MetricName] | None = None
    """Averaged within the card (GLUE: MRPC F1 and accuracy). Default: the card's main metric."""
    splits: list[str] | None = None
    """Averaged within the card (GLUE: MNLI matched and mismatched). Default: the card's report split."""
    rescale: Rescale | None = None


class Aggregate(Strict):
    """The suite score, declared here rather than in code."""

    name: str
    method: Literal["mean"] = "mean"
    """Unweighted mean of the components (each already averaged over its metrics and splits)."""
    components: list[AggregateComponent] | None = None
    """Default: every card of the suite, main metric on its report split."""
    scale: float = Field(1.0, gt=0)
    """Multiplier applied to a rescaled mean (SUPERB-style scores use 1000)."""
    definition: Literal["official", "polyglue"] = "official"
    """`official` when the benchmark's authors define this score; `polyglue` when this kit does."""
    description: str | None = None


class ReferenceRow(Strict):
    """A published result, shown beside measured rows with deltas."""

    model: str
    source: str
    """Where the numbers come from (paper table, README commit)."""
    split: str = "test"
    scores: dict[str, float]
    """`card` (its main metric) or `card.metric` -> value in display units (percent for most metrics)."""
    aggregate: float | None = None
    notes: str | None = None


class SubmissionFile(Strict):
    """One file of a leaderboard submission: the predictions of one hidden-label split of one card."""

    card: str
    split: str
    """The card's split role (a `labels: hidden` split, e.g. `test`, `test_mismatched`, `ax`)."""
    file: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    """The file name the leaderboard expects (e.g. `CoLA.tsv`, `afqmc_predict.json`)."""
    layout: Literal["tsv-index-prediction", "jsonl-id-label", "json-id-answer", "json-blank-choice"]
    """`tsv-index-prediction`: tab-separated with the header `index<TAB>prediction` (GLUE);
    `jsonl-id-label`: one `{"id": ..., "label": "..."}` object per line (CLUE classification, C3);
    `json-id-answer`: one JSON object mapping each question id to its answer text (CMRC2018);
    `json-blank-choice`: one JSON object mapping each `#idiomNNNNNN#` blank to the index of the
    chosen candidate (CHID)."""
    prediction: Literal["index", "label", "value", "choice"] = "label"
    """`index`: the label's position in the card's list (GLUE CoLA `0`/`1`); `label`: its name
    (MNLI `entailment`, CLUE `"1"`); `value`: the number or text as predicted (STS-B, QA answers);
    `choice`: the chosen choice's position in the example's own choice list (C3, CHID)."""
    ids: Literal["example", "position"] = "example"
    """`example`: each line's id is the example's id; `position`: its 0-based position in the split
    (C3: the Hub copy gives every question its document's id; CLUE numbers the questions in order)."""


class Submission(Strict):
    """How the benchmark's leaderboard wants hidden test predictions (`bench submit`)."""

    source: str
    """Where the layout is specified (FAQ page, official formatter script, submission guide)."""
    files: list[SubmissionFile] = Field(min_length=1)
    notes: str | None = None


class Suite(Strict):
    """A benchmark: ordered cards, an aggregate rule and published reference rows."""

    name: str = Field(pattern=NAME_PATTERN, max_length=MAX_NAME)
    version: str = Field(pattern=VERSION_PATTERN)
    title: str = Field(min_length=1)
    description: str | None = None
    cards: list[str] = Field(min_length=1)
    aggregate: Aggregate | None = None
    references: list[ReferenceRow] = Field(default_factory=list)
    seeds: int = Field(1, ge=1)
    """Seeds a run reports when `--seeds` is not given (GREEK-BERT reports mean ± sd over runs: 3)."""
    citation: str | None = None
    reference: str | None = None
    notes: str | None = None
    superseded_by: str | None = None
    submission: Submission | None = None
    """Leaderboard submission layout, for suites whose test labels are hidden (GLUE, CLUE)."""

    @model_serializer(mode="wrap")
    def _omit_no_submission(self, handler):
        # Suites without a submission block dump (and hash) exactly as before the field existed.
        data = handler(self)
        if isinstance(data, dict) and data.get("submission") is None:
            data.pop("submission", None)
        return data

    @field_validator("cards")
    @classmethod
    def _unique(cls, cards):
        dup = sorted({c for c in cards if cards.count(c) > 1})
        if dup:
            raise ValueError(f"card(s) listed twice: {', '.join(dup)}")
        return cards

    def content_hash(self) -> str:
        from polyglue.hashing import json_sha256

        return json_sha256(self.model_dump(mode="json"), ensure_ascii=True)
