"""The card and suite schema: one strict pydantic model per file kind.

Every check lives in these models' validators (`base`, `sources`, this module for cards,
`suite_schema` for suites), so the loader, `bench validate` and the tests run the same
code. Unknown keys are errors (`extra="forbid"`). This module is the import point for all
of them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field, field_validator, model_validator

from polyglue.cards import vocab
from polyglue.cards.vocab import (
    FieldRole,
    HeadName,
    LanguageMode,
    MetricName,
    Modality,
    ProtocolName,
    TaskType,
)
from polyglue.cards.base import NAME_PATTERN, SHA_PATTERN, VERSION_PATTERN, FieldProblems, LanguageCode, Strict
from polyglue.cards.sources import HubSource, LayoutSource, LocalSource, Source
from polyglue.cards.suite_schema import Aggregate, AggregateComponent, ReferenceRow, Rescale, Suite

__all__ = [
    "NAME_PATTERN", "SHA_PATTERN", "VERSION_PATTERN", "FieldProblems", "LanguageCode", "Strict",
    "HubSource", "LayoutSource", "LocalSource", "Source",
    "SplitSpec", "SplitRef", "Splits", "LoraSettings", "ProtocolDefaults", "Card",
    "Aggregate", "AggregateComponent", "ReferenceRow", "Rescale", "Suite",
]

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


class LoraSettings(Strict):
    """The `lora` protocol's adapter (Hu et al. 2021, through the `peft` library).

    Low-rank updates B·A (rank `r`, scaled by `alpha / r`) on the named linear layers of
    the encoder; the encoder's own weights stay frozen and the task head is trained in full.
    """

    r: int = Field(8, ge=1, le=4096)
    """Rank of each update."""
    alpha: float = Field(16.0, gt=0)
    """Scale numerator: the update is multiplied by `alpha / r` (the LoRA scripts use 16 with r = 8)."""
    dropout: float = Field(0.1, ge=0, lt=1)
    """Dropout on the adapter's input."""
    target_modules: list[str] | None = None
    """Module names (or name suffixes) that get adapters; None: peft's default for the model type
    (`query`, `value` for BERT, RoBERTa, XLM-R, ELECTRA, i.e. the paper's W_q and W_v)."""
    recipe: str | None = None
    """A named recipe (`polyglue.runs.recipes.RECIPES`) that sets this block and the optimiser
    settings per card, e.g. `hu2021-roberta-base`: the LoRA paper's GLUE settings."""

    @field_validator("target_modules")
    @classmethod
    def _targets(cls, targets):
        if targets is not None and (not targets or any(not t.strip() for t in targets) or len(set(targets)) != len(targets)):
            raise ValueError("target_modules must be a non-empty list of distinct module names")
        return targets


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
    lora: LoraSettings | None = None
    """Settings of the `lora` protocol (used only by it; units of other protocols do not carry them)."""

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
        from polyglue.hashing import json_sha256

        return json_sha256(self.model_dump(mode="json"), ensure_ascii=True)
