"""Closed vocabularies of the card schema, each value with the sentence that defines it.

Kept as plain data (no pydantic, no torch) so the schema, the validator, `bench schema`
and the runners all read the same lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal, TypeVar, get_args

if TYPE_CHECKING:
    import numpy as np

Modality = Literal["text", "speech"]

TaskType = Literal[
    "single-classification",
    "pair-classification",
    "regression",
    "token-classification",
    "extractive-qa",
    "multiple-choice",
    "keyword-spotting",
    "language-id",
    "speaker-id",
    "speaker-verification",
    "asr",
    "query-by-example",
]

TASK_DOCS: dict[str, str] = {
    "single-classification": "One text in, one label out (sentiment, topic, acceptability).",
    "pair-classification": "Two texts in, one label out (NLI, paraphrase, question matching).",
    "regression": "One or two texts in, one real number out (semantic similarity).",
    "token-classification": "A token sequence in, one tag per token out (NER, POS).",
    "extractive-qa": "Context and question in, an answer span of the context out.",
    "multiple-choice": "A context and candidate answers in, the index of the right one out.",
    "keyword-spotting": "An utterance in, the spoken keyword (a label) out.",
    "language-id": "An utterance in, its language out.",
    "speaker-id": "An utterance in, its speaker (from a closed set) out.",
    "speaker-verification": "Two utterances in, same speaker or not out (trial lists).",
    "asr": "An utterance in, its transcript out.",
    "query-by-example": "A spoken query and spoken documents in, which documents contain the query.",
}

TASK_MODALITY: dict[str, str] = {
    **{t: "text" for t in get_args(TaskType)[:6]},
    **{t: "speech" for t in get_args(TaskType)[6:]},
}

#: Task types whose targets are a closed label list that the card must declare.
LABELLED_TASKS = frozenset(
    {"single-classification", "pair-classification", "token-classification", "keyword-spotting", "language-id"}
)

#: Labelled tasks whose label list a layout source may leave to the data (keyword folder names).
LAYOUT_DISCOVERED_LABELS = frozenset({"keyword-spotting"})

FieldRole = Literal[
    "id",
    "text",
    "text_pair",
    "label",
    "tokens",
    "tags",
    "context",
    "question",
    "answers",
    "choices",
    "answer",
    "audio",
    "audio_pair",
    "speaker",
    "transcript",
    "language",
    "gender",
]

ROLE_DOCS: dict[str, str] = {
    "id": "Example identifier, carried into the predictions file.",
    "text": "The input text (the first text for pair tasks).",
    "text_pair": "The second input text of a pair task; a list of strings is joined.",
    "label": "The target: a label name or index, or a number for regression.",
    "tokens": "A list of tokens (token classification).",
    "tags": "A list of tags, one per token (token classification).",
    "context": "The passage an extractive answer is taken from.",
    "question": "The question of a QA or multiple-choice example.",
    "answers": "SQuAD-style answers: {text: [...], answer_start: [...]}.",
    "choices": "The candidate answers of a multiple-choice example.",
    "answer": "The right choice of a multiple-choice example: its index or its text.",
    "audio": "Path to an audio file (wav or flac), relative to the manifest file's folder.",
    "audio_pair": "The second utterance of a verification trial (a path, like `audio`).",
    "speaker": "Speaker identifier.",
    "transcript": "Reference transcript of an utterance.",
    "language": "Language of an utterance (ISO 639-1 or a folder name).",
    "gender": "Speaker gender as the corpus writes it.",
}

#: Roles a task type cannot run without.
REQUIRED_ROLES: dict[str, tuple[str, ...]] = {
    "single-classification": ("text", "label"),
    "pair-classification": ("text", "text_pair", "label"),
    "regression": ("text", "label"),
    "token-classification": ("tokens", "tags"),
    "extractive-qa": ("context", "question", "answers"),
    "multiple-choice": ("choices", "answer"),
}

#: Columns an `audio-manifest` layout needs per speech task (evaluation splits of
#: speaker verification are trial lists: `audio`, `audio_pair` and a 0/1 `label`).
MANIFEST_ROLES: dict[str, tuple[str, ...]] = {
    "keyword-spotting": ("audio", "label"),
    "language-id": ("audio", "language"),
    "speaker-id": ("audio", "speaker"),
    "speaker-verification": ("audio", "speaker", "audio_pair", "label"),
    "asr": ("audio", "transcript"),
}

LayoutName = Literal["kathbath", "audio-manifest"]

LAYOUT_DOCS: dict[str, str] = {
    "kathbath": "The Kathbath/IndicSUPERB tree under `DIR/<suite>/`: `<language>/<split>/audio/<speaker>/*.wav`, "
    "`meta_data/` trials, `ks/` and `qbe/` folders.",
    "audio-manifest": "CSV/TSV/JSONL files listing audio paths with a label, speaker, transcript or language column.",
}

LanguageMode = Literal["per-language", "pooled"]

LANGUAGE_MODE_DOCS: dict[str, str] = {
    "per-language": "One head per language; metrics per language (`wer@hi`) and their mean under the plain name.",
    "pooled": "One head over every language present (SID-multi, LID, KS); per-language values are breakdowns.",
}

MetricName = Literal[
    "accuracy",
    "f1",
    "macro_f1",
    "mcc",
    "pearson",
    "spearman",
    "pearson_spearman_mean",
    "seqeval_f1",
    "token_accuracy",
    "squad_em",
    "squad_f1",
    "eer",
    "min_dcf",
    "wer",
    "cer",
    "wer_lm",
    "cer_lm",
    "mtwv",
    "map",
]

#: Metrics shown as raw values; every other metric is shown x100, as the published tables do.
RAW_METRICS = frozenset({"mtwv", "map", "min_dcf"})

#: name -> (higher is better, definition)
METRICS: dict[str, tuple[bool, str]] = {
    "accuracy": (True, "Fraction of exact label matches."),
    "f1": (True, "Binary F1 of the positive class (the card's second label)."),
    "macro_f1": (True, "Unweighted mean of per-class F1."),
    "mcc": (True, "Matthews correlation coefficient."),
    "pearson": (True, "Pearson correlation of predictions and gold scores."),
    "spearman": (True, "Spearman rank correlation of predictions and gold scores."),
    "pearson_spearman_mean": (True, "Mean of Pearson and Spearman (CLUB's STS 'combined score')."),
    "seqeval_f1": (True, "Entity-level micro F1 over IOB chunks (seqeval)."),
    "token_accuracy": (True, "Fraction of tokens tagged right (first sub-token decides)."),
    "squad_em": (True, "SQuAD v1.1 exact match after answer normalisation."),
    "squad_f1": (True, "SQuAD v1.1 token-overlap F1 after answer normalisation."),
    "eer": (False, "Equal error rate of verification trials."),
    "min_dcf": (False, "Minimum normalised detection cost (P_target 0.01, C_miss = C_fa = 1)."),
    "wer": (False, "Word error rate (jiwer)."),
    "cer": (False, "Character error rate (jiwer)."),
    "wer_lm": (False, "Word error rate after beam search with the user's KenLM n-gram (pyctcdecode)."),
    "cer_lm": (False, "Character error rate after beam search with the user's KenLM n-gram (pyctcdecode)."),
    "mtwv": (True, "Maximum term-weighted value of query-by-example detection."),
    "map": (True, "Mean average precision of query-by-example ranking."),
}


def higher_is_better(metric: str) -> bool:
    """The metric's direction (EER, WER, CER and minDCF fall as systems improve)."""
    return METRICS[metric][0]


def display_kind(metric: str) -> str:
    """`raw` or `percent`: how reports print the metric (the published tables' convention)."""
    return "raw" if metric in RAW_METRICS else "percent"


_Shown = TypeVar("_Shown", float, "np.ndarray")
"""A single value or an array of them (bootstrap replicates): the rule applies elementwise."""


def display_value(metric: str, value: _Shown) -> _Shown:
    """Fractions become percentages, as the published tables print them (MTWV, MAP, minDCF stay raw)."""
    return value if metric in RAW_METRICS else 100.0 * value


def format_value(metric: str, value: float) -> str:
    """One number as reports and progress lines print it: 4 decimals raw, 2 as a percentage."""
    return f"{value:.4f}" if metric in RAW_METRICS else f"{100.0 * value:.2f}"

#: Metrics that make sense for each task type (the validator rejects others).
TASK_METRICS: dict[str, frozenset[str]] = {
    "single-classification": frozenset({"accuracy", "f1", "macro_f1", "mcc"}),
    "pair-classification": frozenset({"accuracy", "f1", "macro_f1", "mcc"}),
    "regression": frozenset({"pearson", "spearman", "pearson_spearman_mean"}),
    "token-classification": frozenset({"seqeval_f1", "token_accuracy", "macro_f1"}),
    "extractive-qa": frozenset({"squad_em", "squad_f1"}),
    "multiple-choice": frozenset({"accuracy"}),
    "keyword-spotting": frozenset({"accuracy", "macro_f1"}),
    "language-id": frozenset({"accuracy", "macro_f1"}),
    "speaker-id": frozenset({"accuracy", "macro_f1"}),
    "speaker-verification": frozenset({"eer", "min_dcf"}),
    "asr": frozenset({"wer", "cer"}),  # wer_lm/cer_lm are added by the runner when the user gives an LM
    "query-by-example": frozenset({"mtwv", "map"}),
}

ProtocolName = Literal["probe", "finetune", "lora", "prompt", "prefix", "superb", "qbe"]

_SENTENCE_TASKS = ("single-classification", "pair-classification", "regression")
TASK_PROTOCOLS: dict[str, tuple[str, ...]] = {
    # prompt tuning only where peft's prompt learning fits the task; prefix where peft has the task type
    **{task: ("probe", "finetune", "lora", "prompt", "prefix") for task in _SENTENCE_TASKS},
    "token-classification": ("probe", "finetune", "lora", "prefix"),
    "extractive-qa": ("probe", "finetune", "lora", "prefix"),
    "multiple-choice": ("probe", "finetune", "lora"),
    "keyword-spotting": ("superb",),
    "language-id": ("superb",),
    "speaker-id": ("superb",),
    "speaker-verification": ("superb",),
    "asr": ("superb", "finetune", "lora"),
    "query-by-example": ("qbe",),
}

HeadName = Literal[
    "logistic",
    "ridge",
    "linear",
    "mean-pool-linear",
    "xvector",
    "indic_asv",
    "bilstm-ctc",
    "dtw",
]

HEAD_DOCS: dict[str, str] = {
    "logistic": "Logistic regression on frozen features, regularisation chosen on validation.",
    "ridge": "Ridge regression on frozen features, regularisation chosen on validation.",
    "linear": "A linear layer on top of the encoder (fine-tuning heads, AutoModelFor*).",
    "mean-pool-linear": "Mean pooling over true lengths, then a linear classifier (SUPERB KS/SID/LID).",
    "xvector": "x-vector TDNN + statistics pooling, AM-softmax training (SUPERB ASV).",
    "indic_asv": "IndicSUPERB's indic_asv model: 5 TDNN without batch norm, statistics pooling, two Linear+ReLU (embedding from the first), AM-softmax.",
    "bilstm-ctc": "2-layer BiLSTM with a CTC output layer (SUPERB ASR).",
    "dtw": "No trained head: subsequence DTW over frame features (QbE).",
}

PROTOCOL_DOCS: dict[str, str] = {
    "probe": "Frozen encoder, cached features, linear/logistic head chosen on validation.",
    "finetune": "The suite's official recipe: full fine-tuning, best checkpoint on validation.",
    "superb": "Frozen speech upstream, cached per-layer features, weighted layer sum + task head.",
    "qbe": "No training: subsequence DTW per layer, best layer chosen on validation.",
}

#: Licences a card may declare; anything else is "other:<url>".
License = Literal[
    "apache-2.0",
    "mit",
    "bsd-2-clause",
    "bsd-3-clause",
    "cc0-1.0",
    "cc-by-3.0",
    "cc-by-4.0",
    "cc-by-sa-3.0",
    "cc-by-sa-4.0",
    "cc-by-nc-2.0",
    "cc-by-nc-3.0",
    "cc-by-nc-4.0",
    "cc-by-nc-sa-3.0",
    "cc-by-nc-sa-4.0",
    "cc-by-nc-nd-4.0",
    "gpl-3.0",
    "lgpl-3.0",
    "odc-by",
    "pddl",
    "not-specified",
]

LICENSE_DOCS = {
    "not-specified": "Checked: the source states no licence. Say so in `notes`.",
}

LocalFormat = Literal["jsonl", "json", "csv", "tsv", "parquet", "conllu", "conll"]

SplitRole = Literal["train", "validation", "test"]


def names(literal) -> tuple[str, ...]:
    """The allowed values of a Literal type, in declaration order."""
    return get_args(literal)
