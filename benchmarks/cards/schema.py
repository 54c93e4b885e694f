"""The card and suite schema: one strict pydantic model per file kind.

Every check lives here (field and model validators), so the loader, `bench validate` and
the tests run the same code. Unknown keys are errors (`extra="forbid"`).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Annotated, Literal, Union
from pathlib import PurePosixPath as Path

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from benchmarks.cards import vocab
from benchmarks.cards.vocab import (
    FieldRole,
    HeadName,
    LanguageMode,
    LayoutName,
    LocalFormat,
    MetricName,
    Modality,
    ProtocolName,
    TaskType,
)

NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
VERSION_PATTERN = r"^\d+\.\d+(\.\d+)?$"
SHA_PATTERN = re.compile(r"^[0-9a-f]{40}$")


class FieldProblems(ValueError):
    """Cross-field findings that know which field they belong to (so errors get the right line)."""

    def __init__(self, found: list[tuple[tuple, str]]):
        super().__init__("; ".join(msg for _, msg in found))
        self.found = found


class Strict(BaseModel):
    """Base of every schema model: unknown keys are rejected, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _language_code(code: str) -> str:
    """Check an ISO 639-3 code with an optional ISO 15924 script, e.g. `cat` or `ell-Grek`."""
    import pycountry

    match = re.fullmatch(r"([a-z]{3})(?:-([A-Z][a-z]{3}))?", code)
    if not match:
        raise ValueError(f"'{code}' is not an ISO 639-3 code with optional script (e.g. 'cat', 'ell-Grek', 'zho-Hans')")
    lang, script = match.groups()
    if pycountry.languages.get(alpha_3=lang) is None:
        raise ValueError(f"'{lang}' is not an ISO 639-3 language code")
    if script and pycountry.scripts.get(alpha_4=script) is None:
        raise ValueError(f"'{script}' is not an ISO 15924 script code")
    return code


LanguageCode = Annotated[str, AfterValidator(_language_code)]


# --------------------------------------------------------------------------- source


class HubSource(Strict):
    """A dataset on the Hugging Face Hub, read as parquet/jsonl data files (never a loading script)."""

    path: str = Field(pattern=r"^[\w.-]+/[\w.-]+$")
    """Repository id, `namespace/name` (e.g. `nyu-mll/glue`)."""
    config: str | None = None
    """Dataset configuration (subset), e.g. `cola`."""
    revision: str | None = None
    """40-hex commit SHA. Anything else is reported as unpinned by `bench validate`."""
    data_files: dict[str, str | list[str]] | None = None
    """Source split name -> file pattern(s) inside the repository, when the repo has no `configs:`.
    Such files are downloaded as they are and read by extension (parquet, jsonl, json incl.
    SQuAD-style, csv, tsv, conllu, conll), never through a loading script."""
    columns: list[str] | None = None
    """Column names for header-less csv/tsv data files (e.g. STS-ca's raw TSVs)."""

    @property
    def pinned(self) -> bool:
        return bool(self.revision and SHA_PATTERN.match(self.revision))


class LocalSource(Strict):
    """Files next to the card (paths are relative to the card file; absolute paths are refused)."""

    files: dict[str, str]
    """Source split name -> path or glob relative to the card's folder."""
    format: LocalFormat
    columns: list[str] | None = None
    """Column names for header-less csv/tsv files."""

    @field_validator("files")
    @classmethod
    def _relative(cls, files: dict[str, str]) -> dict[str, str]:
        for split, path in files.items():
            if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path):
                raise ValueError(f"files.{split}: '{path}' is absolute; use a path relative to the card file")
        if not files:
            raise ValueError("at least one split file is required")
        return files


MANIFEST_EXTENSIONS = (".csv", ".tsv", ".jsonl", ".txt")


class LayoutSource(Strict):
    """A named on-disk corpus layout under `--data-dir DIR`, read from `DIR/<suite>/` by the speech runners."""

    name: LayoutName
    """`kathbath` (the IndicSUPERB tree) or `audio-manifest` (CSV/TSV/JSONL lists of audio files)."""
    files: dict[str, str] | None = None
    """`audio-manifest` only: source split name -> manifest file relative to `DIR/<suite>/`
    (`.csv`, `.tsv`, `.jsonl`; `.txt` for Kathbath-style `label<TAB>path1<TAB>path2` trial lists)."""

    @model_validator(mode="after")
    def _files(self):
        if self.name == "kathbath":
            if self.files is not None:
                raise ValueError("the kathbath layout finds its files itself; remove `files`")
            return self
        if not self.files:
            raise ValueError("an audio-manifest layout needs `files` (split name -> manifest path)")
        for split, path in self.files.items():
            if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path) or ".." in Path(path).parts:
                raise ValueError(f"files.{split}: '{path}' must be relative to DIR/<suite>/ (no absolute path, no '..')")
            if not path.endswith(MANIFEST_EXTENSIONS):
                raise ValueError(f"files.{split}: '{path}' is not a manifest ({', '.join(MANIFEST_EXTENSIONS)})")
        return self


class Source(Strict):
    """Where the data comes from: exactly one of `hub`, `local` or `layout`."""

    hub: HubSource | None = None
    local: LocalSource | None = None
    layout: LayoutSource | None = None

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("hub", "local", "layout") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of hub, local, layout (got {', '.join(given) or 'none'})")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("hub", "local", "layout") if getattr(self, k) is not None)

    @property
    def revision(self) -> str:
        """What identifies the data version in unit keys."""
        if self.hub:
            return self.hub.revision or "unpinned"
        return "local" if self.local else f"layout:{self.layout.name}"


# --------------------------------------------------------------------------- splits


class SplitSpec(Strict):
    """One split of the source and whether its labels can be scored."""

    name: str
    """Split name in the source (e.g. `validation_matched`)."""
    labels: Literal["present", "hidden"] = "present"
    """`hidden` for benchmark test sets whose labels are withheld (GLUE/CLUE label -1): never scored."""


# A bare string is shorthand for `{name: <string>}`; the JSON Schema accepts both forms.
SplitRef = Annotated[
    SplitSpec,
    BeforeValidator(lambda v: {"name": v} if isinstance(v, str) else v, json_schema_input_type=Union[str, SplitSpec]),
]


class Splits(Strict):
    """Split roles the runners understand, mapped to source split names."""

    train: SplitRef | None = None
    validation: SplitRef | None = None
    """Model selection (checkpoint, regularisation, learning rate) happens here, never on test."""
    test: SplitRef | None = None
    extra_eval: dict[str, SplitRef] = Field(default_factory=dict)
    """More scored splits by role name, e.g. `validation_mismatched` or `test_known`."""

    @field_validator("extra_eval")
    @classmethod
    def _extra_names(cls, extra: dict[str, SplitSpec]) -> dict[str, SplitSpec]:
        for role in extra:
            if role in ("train", "validation", "test") or not re.match(NAME_PATTERN, role):
                raise ValueError(f"'{role}' is not a valid extra split role (lower-case name, not train/validation/test)")
        return extra

    def roles(self) -> dict[str, SplitSpec]:
        """Every declared role in a stable order: train, validation, test, then extras."""
        out = {r: getattr(self, r) for r in ("train", "validation", "test") if getattr(self, r) is not None}
        out.update(self.extra_eval)
        return out

    def scored_roles(self) -> list[str]:
        """Roles that are evaluated: everything but train, minus hidden-label splits."""
        return [r for r, s in self.roles().items() if r != "train" and s.labels == "present"]


# --------------------------------------------------------------------------- protocol


class ProtocolDefaults(Strict):
    """Defaults of how a card is evaluated; CLI flags may override some of them."""

    default: ProtocolName | None = None
    """Protocol used when `--protocol` is not given (task-type default when absent)."""
    max_length: int = Field(128, ge=8, le=8192)
    """Maximum input length in sub-word tokens."""
    epochs: float = Field(3.0, gt=0)
    learning_rate: float = Field(2e-5, gt=0)
    lr_grid: list[float] | None = None
    """Learning rates tried (best on validation wins; the choice is recorded)."""
    batch_size: int = Field(32, ge=1)
    gradient_accumulation: int = Field(1, ge=1)
    warmup_ratio: float = Field(0.0, ge=0, le=1)
    weight_decay: float = Field(0.0, ge=0)
    max_steps: int | None = Field(None, ge=1)
    """Cap on optimisation steps (speech recipes count steps, not epochs)."""
    head: HeadName | None = None
    language_mode: LanguageMode | None = None
    """Speech cards over several languages: `per-language` heads or one `pooled` head (task default when absent)."""

    @field_validator("lr_grid")
    @classmethod
    def _grid(cls, grid):
        if grid is not None and (not grid or any(lr <= 0 for lr in grid) or len(set(grid)) != len(grid)):
            raise ValueError("lr_grid must be a non-empty list of distinct positive learning rates")
        return grid


# --------------------------------------------------------------------------- card


def _license(value: str) -> str:
    allowed = vocab.names(vocab.License)
    if value in allowed or re.fullmatch(r"other:https?://\S+", value):
        return value
    raise ValueError(f"'{value}' is not a known licence; use one of {', '.join(allowed)}, or 'other:<url>'")


class Card(Strict):
    """A dataset card: one task of one benchmark, fully declared."""

    name: str = Field(pattern=NAME_PATTERN)
    """Unique card name across every card directory (lower-case, digits, `-`, `_`)."""
    version: str = Field(pattern=VERSION_PATTERN)
    """Bump on any change; never edit a published card in place."""
    title: str = Field(min_length=1)
    languages: list[LanguageCode] = Field(min_length=1)
    """ISO 639-3 codes, optionally with an ISO 15924 script: `cat`, `ell-Grek`, `zho-Hans`."""
    modality: Modality
    task: TaskType
    source: Source
    splits: Splits
    fields: dict[str, FieldRole] = Field(default_factory=dict)
    """Source column -> role. Speech layouts may leave it empty."""
    labels: list[str] | None = None
    """Label names in the source's own index order. Data may carry names or indices."""
    metrics: list[MetricName] = Field(min_length=1)
    main_metric: MetricName
    protocol: ProtocolDefaults = Field(default_factory=ProtocolDefaults)
    langkit: str = "default"
    """Language kit (normalisation, pre-tokenisation, QA answer normalisation) by registered name."""
    train_from: str | None = None
    """Zero-shot transfer: train on this other card's train split (e.g. XQuAD-ca from ViquiQuAD)."""
    license: str
    """A licence id from the closed list, or `other:<url>`."""
    citation: str = Field(min_length=1)
    reference: str | None = None
    """URL of the dataset or paper."""
    notes: str | None = None
    superseded_by: str | None = None

    _check_license = field_validator("license")(lambda cls, v: _license(v))

    @field_validator("labels")
    @classmethod
    def _labels(cls, labels):
        if labels is None:
            return labels
        if not labels:
            raise ValueError("label list is empty")
        seen = set()
        for label in labels:
            if label in seen:
                raise ValueError(f"label '{label}' is repeated")
            seen.add(label)
        return labels

    @field_validator("metrics")
    @classmethod
    def _unique_metrics(cls, metrics):
        if len(set(metrics)) != len(metrics):
            raise ValueError("metrics are repeated")
        return metrics

    @field_validator("fields")
    @classmethod
    def _unique_roles(cls, fields):
        seen: dict[str, str] = {}
        for column, role in fields.items():
            if role in seen:
                raise ValueError(f"role '{role}' is given to both '{seen[role]}' and '{column}'")
            seen[role] = column
        return fields

    @model_validator(mode="after")
    def _consistent(self):
        found: list[tuple[tuple, str]] = []
        if self.main_metric not in self.metrics:
            found.append((("main_metric",), f"'{self.main_metric}' is not among metrics {self.metrics}"))
        wrong = [m for m in self.metrics if m not in vocab.TASK_METRICS[self.task]]
        if wrong:
            allowed = ", ".join(sorted(vocab.TASK_METRICS[self.task]))
            found.append((("metrics",), f"{', '.join(wrong)} do(es) not apply to task '{self.task}' (allowed: {allowed})"))
        if vocab.TASK_MODALITY[self.task] != self.modality:
            found.append((("modality",), f"task '{self.task}' is {vocab.TASK_MODALITY[self.task]}, not '{self.modality}'"))
        discovered = self.source.layout is not None and self.task in vocab.LAYOUT_DISCOVERED_LABELS
        if self.task in vocab.LABELLED_TASKS and self.labels is None and not discovered:
            found.append((("labels",), f"task '{self.task}' needs a `labels` list (names in the source's index order)"))
        if self.task == "regression" and self.labels is not None:
            found.append((("labels",), "a regression card has no `labels`"))
        layout = self.source.layout
        if layout is None or layout.name == "audio-manifest":
            table = vocab.REQUIRED_ROLES if layout is None else vocab.MANIFEST_ROLES
            roles = set(self.fields.values())
            missing = [r for r in table.get(self.task, ()) if r not in roles]
            if missing:
                found.append((("fields",), f"task '{self.task}' needs column(s) with role(s) {', '.join(missing)}"))
            if layout is not None and self.task not in vocab.MANIFEST_ROLES:
                found.append((("source", "layout", "name"), f"task '{self.task}' has no audio-manifest reader (use the kathbath layout)"))
        if layout is not None and layout.name == "audio-manifest":
            for role, spec in self.splits.roles().items():
                if spec.name not in layout.files:
                    loc = ("splits", "extra_eval", role) if role in self.splits.extra_eval else ("splits", role)
                    found.append((loc, f"source split '{spec.name}' is not in source.layout.files ({', '.join(layout.files)})"))
        if self.splits.train is None and self.train_from is None and self.protocol.default != "qbe":
            found.append((("splits",), "a `train` split is required (or `train_from` for zero-shot transfer)"))
        if not self.splits.scored_roles():
            found.append((("splits",), "no split with labels to score (every evaluation split is hidden)"))
        if self.source.local is not None:
            files = self.source.local.files
            for role, spec in self.splits.roles().items():
                if spec.name not in files:
                    loc = ("splits", "extra_eval", role) if role in self.splits.extra_eval else ("splits", role)
                    found.append((loc, f"source split '{spec.name}' is not in source.local.files ({', '.join(files)})"))
        if found:
            raise FieldProblems(found)
        return self

    # ----------------------------------------------------------------- derived views

    @property
    def report_split(self) -> str:
        """The split the leaderboard shows: test when its labels are public, else validation."""
        test = self.splits.test
        if test is not None and test.labels == "present":
            return "test"
        scored = self.splits.scored_roles()
        return "validation" if "validation" in scored else scored[0]

    def role_column(self, role: str) -> str | None:
        """Source column that carries `role`, if any."""
        return next((c for c, r in self.fields.items() if r == role), None)

    def content_hash(self) -> str:
        """Hash of the validated content (comments and key order do not matter)."""
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()


# --------------------------------------------------------------------------- suite


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


class Suite(Strict):
    """A benchmark: ordered cards, an aggregate rule and published reference rows."""

    name: str = Field(pattern=NAME_PATTERN)
    version: str = Field(pattern=VERSION_PATTERN)
    title: str = Field(min_length=1)
    description: str | None = None
    cards: list[str] = Field(min_length=1)
    aggregate: Aggregate | None = None
    references: list[ReferenceRow] = Field(default_factory=list)
    citation: str | None = None
    reference: str | None = None
    notes: str | None = None
    superseded_by: str | None = None

    @field_validator("cards")
    @classmethod
    def _unique(cls, cards):
        dup = sorted({c for c in cards if cards.count(c) > 1})
        if dup:
            raise ValueError(f"card(s) listed twice: {', '.join(dup)}")
        return cards

    def content_hash(self) -> str:
        return hashlib.sha256(json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()).hexdigest()
