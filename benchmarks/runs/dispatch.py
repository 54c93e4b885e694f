"""Which runner evaluates a (task type, protocol) pair: the built-in table plus plugins'.

Values are `module:function` strings imported only when a unit runs, so planning,
listing and validating never import torch. A runner takes a `polyglue.contract.RunContext`
and returns a `polyglue.contract.UnitResult`. Plugins add pairs through the
`polyglue.runners` entry point group (`polyglue.plugins`); a built-in pair cannot be replaced.
"""

from __future__ import annotations

from typing import Callable

from polyglue.contract import Runner
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
    **{
        (task, "lora"): "polyglue.langkits.protocols.lora:run"
        for task in (
            "single-classification", "pair-classification", "regression",
            "token-classification", "extractive-qa", "multiple-choice",
        )
    },
    # Prompt and prefix tuning where peft's prompt learning fits the task (the matrix and why:
    # `polyglue.langkits.protocols.lora.SUPPORT`, docs/text-suites.md).
    **{(task, "prompt"): "polyglue.langkits.protocols.lora:run_prompt" for task in ("single-classification", "pair-classification", "regression")},
    **{
        (task, "prefix"): "polyglue.langkits.protocols.lora:run_prefix"
        for task in ("single-classification", "pair-classification", "regression", "token-classification", "extractive-qa")
    },
    ("keyword-spotting", "superb"): "polyglue.speech.runners.utterance:run",
    ("language-id", "superb"): "polyglue.speech.runners.utterance:run",
    ("speaker-id", "superb"): "polyglue.speech.runners.utterance:run",
    ("speaker-verification", "superb"): "polyglue.speech.runners.asv:run",
    ("asr", "superb"): "polyglue.speech.runners.asr:run",
    ("asr", "finetune"): "polyglue.speech.runners.asr_finetune:run",
    ("asr", "lora"): "polyglue.speech.runners.asr_finetune:run_lora",
    ("query-by-example", "qbe"): "polyglue.speech.runners.qbe:run",
}


def all_runners() -> dict[tuple[str, str], tuple[str | Callable, str]]:
    """(task, protocol) -> (runner or its `module:function` name, package that provides it)."""
    from polyglue import plugins

    out: dict[tuple[str, str], tuple[str | Callable, str]] = {key: (target, "polyglue") for key, target in RUNNERS.items()}
    for item in plugins.load("polyglue.runners"):
        if item.error is None and isinstance(item.obj, dict):
            for key, target in item.obj.items():
                if isinstance(key, tuple) and len(key) == 2 and key not in out:
                    out[key] = (target, item.package)
    return out


def protocols_for(task: str) -> list[str]:
    return sorted(p for t, p in all_runners() if t == task)


def has_runner(task: str, protocol: str) -> bool:
    return (task, protocol) in RUNNERS or (task, protocol) in all_runners()


def get_runner(task: str, protocol: str) -> Runner:
    found = RUNNERS.get((task, protocol)) or all_runners().get((task, protocol), (None, ""))[0]
    if found is None:
        available = protocols_for(task)
        hint = f" (available: {', '.join(available)})" if available else ""
        raise UserError(f"no '{protocol}' runner for {task} tasks{hint}")
    from polyglue.plugins import resolve_target

    return resolve_target(found)
