"""The card and suite schema: one strict pydantic model per file kind.

Every check lives in these models' validators (`base`, `sources`, this module for cards,
`suite_schema` for suites), so the loader, `bench validate` and the tests run the same
code. Unknown keys are errors (`extra="forbid"`). This module is the import point for all
of them.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import BeforeValidator, Field, field_validator, model_serializer, model_validator

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
from polyglue.cards.base import MAX_NAME, NAME_PATTERN, SHA_PATTERN, VERSION_PATTERN, FieldProblems, LanguageCode, Strict
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
    config: str | None = Field(None, min_length=1)
    """Hub config this split is read from when it is not the card's own `source.hub.config`:
    GLUE's diagnostic set AX is config `ax` of `nyu-mll/glue`, predicted with the MNLI model."""
    unlabelled: Literal["refuse", "drop"] = "refuse"
    """Rows of a `labels: present` split that carry no gold label (label -1 or null, e.g. SNLI's
    pairs without an annotator majority) cannot be scored: `refuse` stops with a one-line error
    naming the row; `drop` removes them before the split is sampled or scored (list it as a
    deviation when the official scorer counts them)."""

    @model_validator(mode="after")
    def _drop_needs_labels(self):
        if self.unlabelled == "drop" and self.labels == "hidden":
            raise ValueError("`unlabelled: drop` needs `labels: present` (a hidden-label split is never scored)")
        return self

    @model_serializer(mode="wrap")
    def _omit_default_config(self, handler):
        # Cards without a per-split config or `unlabelled` dump (and hash) exactly as before the fields existed.
        data = handler(self)
        if isinstance(data, dict) and data.get("config") is None:
            data.pop("config", None)
        if isinstance(data, dict) and data.get("unlabelled") == "refuse":
            data.pop("unlabelled", None)
        return data

    @property
    def mirror_stem(self) -> str:
        """File stem of this split in a `bench fetch` mirror: `<config>-<name>` for another config's split."""
        return f"{self.config}-{self.name}" if self.config else self.name


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


class PromptSettings(Strict):
    """The `prompt` protocol: soft prompt tuning (Lester et al. 2021, through `peft`).

    `num_virtual_tokens` trainable embeddings are prepended to every input; the encoder is
    frozen and the task head trained in full.
    """

    num_virtual_tokens: int = Field(20, ge=1, le=512)
    """Virtual tokens prepended to the input (they count against `max_length`'s position budget)."""
    init: Literal["random", "text", "sample_vocab"] = "random"
    """Initial prompt: random, the embeddings of `init_text`'s tokens (repeated to length), or random vocabulary rows."""
    init_text: str | None = None
    """The text whose token embeddings start the prompt (needs `init: text`)."""

    @model_validator(mode="after")
    def _text(self):
        if (self.init == "text") != (self.init_text is not None):
            raise ValueError("init_text is set exactly when init is 'text'")
        return self


class PrefixSettings(Strict):
    """The `prefix` protocol: prefix tuning (Li & Liang 2021, through `peft`).

    Trainable key/value vectors for `num_virtual_tokens` positions in every attention layer;
    the encoder is frozen and the task head trained in full.
    """

    num_virtual_tokens: int = Field(20, ge=1, le=512)
    """Prefix length in every layer."""
    projection: bool = False
    """Reparametrise the prefix through a two-layer MLP (the paper's stabiliser; more trainable parameters)."""
    encoder_hidden_size: int | None = Field(None, ge=1)
    """Hidden size of that MLP (None: the model's hidden size)."""


UNSET_OMITTED = ("head_dim",)
"""Protocol fields left out of dumps (and so of unit keys) while None: a new optional setting must not
change every stored unit's key. Add each new optional protocol field here."""


class ProtocolDefaults(Strict):
    """Defaults of how a card is evaluated; CLI flags may override some of them.

    Besides the usual hyperparameters, the fields below say what official recipes vary
    (checkpoint selection, optimiser details, QA windows, joint multiple-choice decoding,
    input templates), so a card can state the recipe of the suite's own code. Defaults
    are polyglue's historical behaviour, so a card that names none of them is unchanged.
    """

    default: ProtocolName | None = None
    """Protocol used when `--protocol` is not given (task-type default when absent)."""
    official_protocol: ProtocolName | None = None
    """The protocol the published rows were produced with, when it is not `default` (IndicSUPERB ASR:
    `finetune`, the paper's fine-tuning, while `default: superb` is the fork's frozen BiLSTM-CTC).
    Only rows of this protocol can be comparable; it must have a runner for the card's task."""
    max_length: int = Field(128, ge=8, le=8192)
    """Maximum input length in sub-word tokens."""
    epochs: float = Field(3.0, gt=0)
    learning_rate: float = Field(2e-5, gt=0)
    lr_grid: list[float] | None = None
    """Learning rates tried (best on validation wins; the choice is recorded)."""
    batch_size: int = Field(32, ge=1)
    gradient_accumulation: int = Field(1, ge=1)
    warmup_ratio: float = Field(0.0, ge=0, le=1)
    """Linear warm-up over this fraction of the optimisation steps (CLUE's `run_classifier.py`: 0.1)."""
    weight_decay: float = Field(0.0, ge=0)
    """AdamW weight decay (CLUE: 0.01); biases and LayerNorm weights are exempt unless `decay_all_parameters`."""
    decay_all_parameters: bool = False
    """Decay every parameter, as a plain `torch.optim.AdamW(model.parameters())` (GREEK-BERT), instead
    of exempting biases and LayerNorm weights (Trainer, BERT, CLUE)."""
    lr_schedule: Literal["linear", "constant"] = "linear"
    """Learning rate after warm-up: `linear` decay to 0 (Trainer, BERT) or `constant` (GREEK-BERT's plain AdamW)."""
    max_grad_norm: float | None = Field(1.0, gt=0)
    """Gradient clipping norm (Trainer's default 1.0); `null` turns clipping off."""
    adam_epsilon: float = Field(1e-8, gt=0)
    """AdamW epsilon (Trainer's and BERT's default 1e-8; CLUE's TF code uses 1e-6)."""
    hidden_dropout: float | None = Field(None, ge=0, lt=1)
    """Overrides the model config's hidden (and attention) dropout; `null` keeps the checkpoint's."""
    classifier_dropout: float | None = Field(None, ge=0, lt=1)
    """Overrides the dropout before the task head; `null` keeps the checkpoint's (falls back to hidden dropout)."""
    max_steps: int | None = Field(None, ge=1)
    """Cap on optimisation steps (speech recipes count steps, not epochs)."""
    group_by_length: bool = True
    """Fine-tuning batches: of similar lengths (less padding, as Trainer's `group_by_length`), or `false`:
    uniformly shuffled, as the official recipes' samplers (Trainer's default `RandomSampler`, a shuffled
    `DataLoader`); the probe always groups."""
    selection: Literal["best", "final"] = "best"
    """Which weights are scored: `final` (the model after the last epoch, as `run_glue.py` reports) or
    `best` (the best evaluation on the selection split). With `final`, the best evaluation is still
    recorded as an extra, never as the headline."""
    selection_metric: MetricName | None = None
    """Metric that picks the checkpoint when it is not the main metric (CLUB POS: seqeval F1)."""
    patience: int | None = Field(None, ge=1)
    """Early stopping: stop after this many evaluations without improvement (needs `selection: best`)."""
    eval_every: int | Literal["epoch"] | None = None
    """Evaluation interval: `epoch` (text), or every N optimisation steps (the config's `eval_step`; ASV: its
    checkpoint interval); the last step is always evaluated. None: the task's default — every epoch for
    text protocols, 5 evenly spaced evaluations for speech heads."""
    selection_split: Literal["validation", "holdout"] = "validation"
    """`validation`, or a seeded 10% hold-out of train, so the reported validation score is never
    the one that chose the checkpoint (cards without a validation split always use the hold-out)."""
    doc_stride: int = Field(128, ge=1)
    """Extractive QA: how far apart the windows over a long context are (see `doc_stride_mode`)."""
    doc_stride_mode: Literal["overlap", "step"] = "overlap"
    """`overlap`: windows share `doc_stride` tokens (HF `run_qa.py`, capped at a quarter of
    `max_length`); `step`: each window starts `doc_stride` tokens after the previous one (Google's
    BERT `run_squad.py`, CLUE's `cmrc2018_preprocess.py`)."""
    max_query_length: int = Field(64, ge=1)
    """Extractive QA: questions are cut to this many sub-word tokens."""
    max_answer_length: int | None = Field(None, ge=1)
    """Extractive QA: longest decoded answer in sub-word tokens (`null`: the language kit's, 30 or 50 for Chinese)."""
    n_best: int = Field(20, ge=1)
    """Extractive QA: start and end candidates kept per window."""
    max_context_rule: bool = False
    """Extractive QA: a token is answered only from the window where it has the most context
    on both sides (`_check_is_max_context` of Google's BERT SQuAD code)."""
    choice_decoding: Literal["independent", "joint"] = "independent"
    """Multiple choice: argmax per question, or one assignment over all blanks of a row that share
    a candidate list, greedy on the highest logit as CHID's official `logits_matrix_to_array`."""
    input_template: Literal["default", "span-markers", "chid-official"] = "default"
    """`span-markers`: CLUEWSC2020's two spans marked inside the sentence (`_..._` and `[...]`, as CLUE's
    `run_classifier.py` WSC processor); `chid-official`: CHID as `CHID_preprocess.py` (the candidate
    first, the blank under question as `[unused1]`, other blanks as four `[MASK]`)."""
    sentence_head: Literal["pooler", "cls"] = "pooler"
    """Sentence tasks: the linear head reads BERT's pooler output (dense + tanh over `[CLS]`, Hugging
    Face's `*ForSequenceClassification`) or the raw `[CLS]` state (GREEK-BERT's own XNLI model)."""
    head: HeadName | None = None
    language_mode: LanguageMode | None = None
    """Speech cards over several languages: `per-language` heads or one `pooled` head (task default when absent)."""
    lora: LoraSettings | None = None
    """Settings of the `lora` protocol (used only by it; units of other protocols do not carry them)."""
    prompt: PromptSettings | None = None
    """Settings of the `prompt` protocol (used only by it)."""
    prefix: PrefixSettings | None = None
    """Settings of the `prefix` protocol (used only by it)."""

    # ---- speech recipe (IndicSUPERB fidelity, issue 11): the official configs' values as card defaults
    # (`eval_every` above also sets the speech heads' checkpoint interval; the best checkpoint is the one scored.)
    audio_effects: Literal["none", "indic-asv-sox"] = "none"
    """Waveform effects before the upstream: `indic-asv-sox` = sox `gain -3`, `silence 1 0.1 0.1% -1 0.1 0.1%`
    on training and trial audio (IndicSUPERB indic_asv); part of the feature-cache key."""
    min_train_seconds: float | None = Field(None, ge=0)
    """Drop training utterances not longer than this after the effects (indic_asv: 2 s = 32000 samples)."""
    crop: Literal["cached", "reencode"] = "cached"
    """Random training crops: cut from cached full-utterance features (fast), or cut from the waveform and
    re-encoded by the upstream each step, as the official code does."""
    crop_seconds: float | None = Field(None, gt=0)
    """Random-crop length of training utterances (SID/ASV 8 s, LID 12 s); None: the task default."""
    train_folder: str | None = None
    """Train on this folder under each language instead of the train split (IndicSUPERB LID: `chunk_data`)."""
    feature_dtype: Literal["float32", "bfloat16"] = "float32"
    """Precision of speech feature extraction: float32 as the official code, or bfloat16 (autocast, CUDA only);
    recorded in the feature-cache key and the unit's upstream identity."""
    head_dim: int | None = Field(None, ge=1)
    """ASR `superb`: width of the BiLSTM-CTC head's projection and LSTM (None: the recipe's 1024). Smaller
    only for CPU-sized checks (`perf/speech_storage.py --indicsuperb`); a row with it is not comparable."""

    @model_serializer(mode="wrap")
    def _omit_unset_late_fields(self, handler):
        # Fields added after units were first stored (`UNSET_OMITTED`) leave the dump, the card hash and
        # the protocol hash when unset, so existing unit keys stay valid and finished units are reused.
        data = handler(self)
        if isinstance(data, dict):
            for name in UNSET_OMITTED:
                if data.get(name) is None:
                    data.pop(name, None)
        return data
    lm_path: str | None = None
    """ASR: an ARPA or KenLM binary word n-gram for beam search (flashlight's lexicon decoder, as fairseq's
    `--w2l-decoder kenlm`; extra `lm`), reported as `wer_lm`/`cer_lm` next to greedy `wer`/`cer`. Its content
    hash, not the path, goes into the unit key."""
    lm_lexicon: str | None = None
    """ASR: the decoder's word list (`lexicon.lst`: `word<TAB>c h a r |`); default: the ARPA file's 1-grams."""
    lm_weight: float = 4.0
    """ASR LM weight: the median of the per-language `--lm-weight` values (1 to 5) in IndicWav2Vec's
    `w2v_inference/scripts/paper_results.sh`."""
    word_score: float = -2.0
    """ASR word insertion score: the median of the same script's `--word-score` values (-1 to -4)."""
    beam_width: int = Field(1024, ge=1)
    """ASR beam size with an LM (the same script's `--beam 1024`)."""
    speaker_ids: Literal["per-language", "raw"] = "per-language"
    """Pooled speaker-id classes: `<language>/<id>` (ids that repeat across languages stay apart) or the raw id
    (`indic_sid_multi`: `name.split('-')[1]`, equal ids in two languages merge)."""

    @field_validator("lr_grid")
    @classmethod
    def _grid(cls, grid):
        if grid is not None and (not grid or any(lr <= 0 for lr in grid) or len(set(grid)) != len(grid)):
            raise ValueError("lr_grid must be a non-empty list of distinct positive learning rates")
        return grid

    @field_validator("eval_every")
    @classmethod
    def _every(cls, every):
        if isinstance(every, int) and every < 1:
            raise ValueError("eval_every must be 'epoch' or a positive number of steps")
        return every

    @model_validator(mode="after")
    def _selection(self):
        if self.patience is not None and self.selection == "final":
            raise FieldProblems([(("patience",), "early-stopping patience needs `selection: best` (the final model does not stop early)")])
        return self

    def recipe_problems(self, task: str, metrics: list[str]) -> list[tuple[tuple, str]]:
        """Recipe fields that contradict the card's task type or metrics (locations under `protocol`)."""
        found: list[tuple[tuple, str]] = []
        defaults = ProtocolDefaults()
        if self.selection_metric is not None and self.selection_metric not in metrics:
            found.append((("protocol", "selection_metric"), f"'{self.selection_metric}' is not among the card's metrics {metrics}"))
        if task != "extractive-qa":
            for key in ("doc_stride", "doc_stride_mode", "max_query_length", "max_answer_length", "n_best", "max_context_rule"):
                if getattr(self, key) != getattr(defaults, key):
                    found.append((("protocol", key), f"`{key}` applies to extractive-qa cards, not to task '{task}'"))
        if self.sentence_head != "pooler" and task not in ("single-classification", "pair-classification", "regression"):
            found.append((("protocol", "sentence_head"), f"`sentence_head` applies to sentence classification and regression cards, not to task '{task}'"))
        if task != "multiple-choice" and self.choice_decoding != "independent":
            found.append((("protocol", "choice_decoding"), f"joint decoding applies to multiple-choice cards, not to task '{task}'"))
        if self.official_protocol is not None and self.official_protocol not in vocab.TASK_PROTOCOLS[task]:
            found.append((("protocol", "official_protocol"), f"no '{self.official_protocol}' runner for {task} tasks (use {' or '.join(vocab.TASK_PROTOCOLS[task])})"))
        if task != "asr":
            for key in ("lm_path", "lm_lexicon", "lm_weight", "word_score", "beam_width"):
                if getattr(self, key) != getattr(defaults, key):
                    found.append((("protocol", key), f"`{key}` applies to asr cards, not to task '{task}'"))
        allowed = {"span-markers": ("single-classification", "pair-classification"), "chid-official": ("multiple-choice",)}
        if self.input_template in allowed and task not in allowed[self.input_template]:
            found.append((("protocol", "input_template"), f"template '{self.input_template}' applies to {' or '.join(allowed[self.input_template])} cards, not to task '{task}'"))
        return found


# --------------------------------------------------------------------------- card


def _license(value: str) -> str:
    allowed = vocab.names(vocab.License)
    if value in allowed or re.fullmatch(r"other:https?://\S+", value):
        return value
    raise ValueError(f"'{value}' is not a known licence; use one of {', '.join(allowed)}, or 'other:<url>'")


class Card(Strict):
    """A dataset card: one task of one benchmark, fully declared."""

    name: str = Field(pattern=NAME_PATTERN, max_length=MAX_NAME)
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
    label_map: dict[str, str] | None = None
    """Source label name (integers are named by the source's ClassLabel list first) -> one of `labels`, for data labelled in another
    task's terms (GLUE-X scores MRPC rows with an RTE model: `equivalent: entailment`). Absent
    from the dump (and the hash) when not given."""
    metrics: list[MetricName] = Field(min_length=1)
    main_metric: MetricName
    protocol: ProtocolDefaults = Field(default_factory=ProtocolDefaults)
    deviations: list[str] = Field(default_factory=list)
    """Documented, unavoidable departures from the official code or data (one sentence each, e.g. a
    substitute data set); every report shows them with the card's rows."""
    recipe: str | None = None
    """Where the protocol values come from: the official repository, file (and commit) they follow."""
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

    @model_serializer(mode="wrap")
    def _omit_unset_label_map(self, handler):
        # Cards without a `label_map` dump (and hash) exactly as before the field existed.
        data = handler(self)
        if isinstance(data, dict) and data.get("label_map") is None:
            data.pop("label_map", None)
        return data

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
        if self.label_map is not None:
            unknown = sorted({t for t in self.label_map.values() if t not in (self.labels or [])})
            if unknown:
                found.append((("label_map",), f"maps onto {', '.join(unknown)}, not among the card's labels {self.labels}"))
            clash = sorted(k for k, t in self.label_map.items() if k in (self.labels or []) and k != t)
            if clash:
                found.append((("label_map",), f"source label(s) {', '.join(clash)} are card labels too: a map between card labels is ambiguous"))
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
        if self.source.hub is None:
            for role, spec in self.splits.roles().items():
                if spec.config is not None:
                    loc = ("splits", "extra_eval", role) if role in self.splits.extra_eval else ("splits", role)
                    found.append((loc, f"split '{role}' names a hub config ('{spec.config}'), but the card's source is not a hub dataset"))
        found += self.protocol.recipe_problems(self.task, list(self.metrics))
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
