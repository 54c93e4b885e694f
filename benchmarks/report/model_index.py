"""`model-index` metadata for a Hugging Face model card (`bench report --format model-index`).

The Hub's leaderboards and paper pages read a model's results from the YAML block at the top
of its README (`model-index: [{name, results: [{task, dataset, metrics, source}]}]`). This
module builds one `huggingface_hub.EvalResult` per (card, metric) of one leaderboard row —
the card's metrics on its report split, mean over seeds, in display units — and lets
`huggingface_hub` itself turn them into the `model-index` list, so the block is exactly what
the Hub's own parser (`huggingface_hub.metadata_load` + `model_index_to_eval_results`) reads.

Only units that ran the card's official recipe are exported (`extras["comparability"]`);
`include_not_comparable` exports the others too, with the reasons in the source name.
"""

from __future__ import annotations

from importlib import metadata

from polyglue.cards import vocab
from polyglue.errors import UserError
from polyglue.report.aggregate import display

#: polyglue task type -> Hugging Face task id (the Hub's `pipeline_tag` names); the rest keep their own name.
HF_TASKS = {
    "single-classification": "text-classification",
    "pair-classification": "text-classification",
    "regression": "text-classification",
    "token-classification": "token-classification",
    "extractive-qa": "question-answering",
    "multiple-choice": "multiple-choice",
    "keyword-spotting": "audio-classification",
    "language-id": "audio-classification",
    "speaker-id": "audio-classification",
    "asr": "automatic-speech-recognition",
}


def _version() -> str:
    try:
        return metadata.version("polyglue")
    except metadata.PackageNotFoundError:  # pragma: no cover - source tree
        return "unknown"


def pick_row(board, model: str, protocol: str | None):
    """The leaderboard row of `model` (and `protocol` when the model has several)."""
    rows = [r for r in board.rows if r.encoder == model and (protocol is None or r.protocol == protocol)]
    if not rows:
        known = sorted({r.encoder for r in board.rows})
        raise UserError(f"--model {model}: no row in suite '{board.suite}' (rows: {', '.join(known) or 'none'})")
    if len(rows) > 1:
        raise UserError(f"--model {model} has rows for protocols {', '.join(r.protocol for r in rows)} in '{board.suite}': add --protocol")
    return rows[0]


def eval_results(board, row, *, include_not_comparable: bool = False, source_url: str | None = None):
    """(EvalResults of one row, names of cards left out with the reason)."""
    from huggingface_hub import EvalResult

    version = _version()
    url = source_url or (board.suite_def.reference if board.suite_def and board.suite_def.reference else None)
    if url is None:
        raise UserError(f"suite '{board.suite}' has no `reference` URL: pass --source-url (where these results can be read)")
    results, left_out = [], []
    for name in board.cards:
        card = board.card_defs[name]
        units = [u for u in row.units if u["card"] == name]
        if not units:
            left_out.append(f"{name} (no finished unit)")
            continue
        reasons = []
        for unit in units:
            record = (unit.get("extras") or {}).get("comparability") or {}
            reasons += [r for r in record.get("reasons", []) if r not in reasons]
        if reasons and not include_not_comparable:
            left_out.append(f"{name} (not comparable: {'; '.join(reasons)})")
            continue
        split = card.report_split
        source_split = card.splits.roles()[split].name
        seeds = sorted({u["seed"] for u in units})
        source = f"polyglue {version} ({board.suite} v{board.version}, {row.protocol}, {len(seeds)} seed(s))"
        if reasons:
            source += f" NOT COMPARABLE: {'; '.join(reasons)}"
        hub = card.source.hub
        for metric in [card.main_metric] + [m for m in card.metrics if m != card.main_metric]:
            values = [u["metrics"].get(split, {}).get(metric) for u in units]
            values = [display(metric, v) for v in values if v is not None]
            if not values:
                continue
            results.append(EvalResult(
                task_type=HF_TASKS.get(card.task, card.task),
                dataset_type=hub.path if hub else f"polyglue/{board.suite}/{name}",
                dataset_name=card.title,
                dataset_config=hub.config if hub else None,
                dataset_split=source_split,
                dataset_revision=card.source.revision,
                metric_type=metric,
                metric_value=round(sum(values) / len(values), 4),
                metric_name=f"{metric} ({'raw' if metric in vocab.RAW_METRICS else '%'}, mean of {len(values)} seed(s))",
                source_name=source,
                source_url=url,
            ))
    return results, left_out


def model_index_yaml(board, model: str, *, protocol: str | None = None, include_not_comparable: bool = False,
                     source_url: str | None = None) -> tuple[str, list[str]]:
    """(the `---`-delimited YAML metadata block, cards left out with reasons)."""
    import yaml
    from huggingface_hub.repocard_data import eval_results_to_model_index

    row = pick_row(board, model, protocol)
    results, left_out = eval_results(board, row, include_not_comparable=include_not_comparable, source_url=source_url)
    if not results:
        hint = "" if include_not_comparable else " (--include-not-comparable exports the others too)"
        raise UserError(f"--model {model}: nothing to export from '{board.suite}': {'; '.join(left_out)}{hint}")
    block = {"model-index": eval_results_to_model_index(model, results)}
    text = yaml.safe_dump(block, sort_keys=False, allow_unicode=True, width=1000)
    return f"---\n{text}---\n", left_out
