"""Which runner evaluates a (task type, protocol) pair.

Values are `module:function` strings imported only when a unit runs, so planning,
listing and validating never import torch. A runner takes a `UnitContext` and returns a
`UnitResult` (`polyglue.runs.units`).
"""

from __future__ import annotations

import importlib
from typing import Callable

from polyglue.errors import UserError

RUNNERS: dict[tuple[str, str], str] = {
    ("single-classification", "probe"): "polyglue.langkits.protocols.probe:run",
    ("pair-classification", "probe"): "polyglue.langkits.protocols.probe:run",
    ("regression", "probe"): "polyglue.langkits.protocols.probe:run",
    ("token-classification", "probe"): "polyglue.langkits.protocols.structured:run",
    ("extractive-qa", "probe"): "polyglue.langkits.protocols.structured:run",
    ("multiple-choice", "probe"): "polyglue.langkits.protocols.structured:run",
    **{
        (task, "finetune"): "polyglue.langkits.protocols.finetune:run"
        for task in (
            "single-classification", "pair-classification", "regression",
            "token-classification", "extractive-qa", "multiple-choice",
        )
    },
    ("keyword-spotting", "superb"): "polyglue.speech.runners.utterance:run",
    ("language-id", "superb"): "polyglue.speech.runners.utterance:run",
    ("speaker-id", "superb"): "polyglue.speech.runners.utterance:run",
    ("speaker-verification", "superb"): "polyglue.speech.runners.asv:run",
    ("asr", "superb"): "polyglue.speech.runners.asr:run",
    ("asr", "finetune"): "polyglue.speech.runners.asr_finetune:run",
    ("query-by-example", "qbe"): "polyglue.speech.runners.qbe:run",
}


def has_runner(task: str, protocol: str) -> bool:
    return (task, protocol) in RUNNERS


def get_runner(task: str, protocol: str) -> Callable:
    target = RUNNERS.get((task, protocol))
    if target is None:
        available = sorted(p for t, p in RUNNERS if t == task)
        hint = f" (available: {', '.join(available)})" if available else ""
        raise UserError(f"no '{protocol}' runner for {task} tasks{hint}")
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)
