"""The Python API: `polyglue.evaluate(suite, models)` from a notebook or a training loop.

The `bench run` command is a thin layer over `plan` and `execute` below; `evaluate` runs the same units and
returns `Results`, built by the same leaderboard code `bench report` prints, so a notebook and
the CLI never disagree on a number.

>>> import polyglue
>>> results = polyglue.evaluate("glue", {"baseline": "bow"}, tasks=["sst2"], data_dir="data")  # doctest: +SKIP
>>> results.to_pandas()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyglue.errors import UserError

#: Run-level settings `evaluate(**overrides)` takes besides the card protocol settings.
RUN_OVERRIDES = ("max_steps", "limit", "languages", "feature_storage", "lora", "prompt", "prefix")
DEFAULT_RUNS_DIR = Path("runs")


@dataclass
class Results:
    """What `evaluate` returns: the suite's leaderboard and every unit's metrics.

    `leaderboard` is the JSON report's suite leaderboard (`polyglue.report.schema.SuiteLeaderboard`),
    the numbers `bench report` prints; `units` holds one dict per unit this call planned (card,
    model, protocol, seed, status, metrics per split, comparability).
    """

    suite: str
    leaderboard: Any
    units: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)
    runs_dir: Path | None = None
    _markdown: str = ""

    def to_dict(self) -> dict:
        """Plain JSON-ready data: `{"suite", "leaderboard", "units", "failed"}`."""
        return {
            "suite": self.suite,
            "leaderboard": self.leaderboard.model_dump(mode="json") if self.leaderboard is not None else None,
            "units": self.units,
            "failed": self.failed,
        }

    def to_pandas(self):
        """One row per (unit, split, metric): card, model, protocol, seed, split, metric, value, comparable."""
        import pandas as pd

        rows = [
            {
                "card": u["card"], "model": u["model"], "protocol": u["protocol"], "seed": u["seed"],
                "split": split, "metric": metric, "value": value,
                "comparable": u["comparability"].get("comparable", True), "debug": u["comparability"].get("debug", False),
                "unit_key": u["key"],
            }
            for u in self.units
            for split, values in (u["metrics"] or {}).items()
            for metric, value in values.items()
        ]
        return pd.DataFrame(rows, columns=["card", "model", "protocol", "seed", "split", "metric", "value", "comparable", "debug", "unit_key"])

    def __repr__(self) -> str:
        return f"Results(suite={self.suite!r}, units={len(self.units)}, failed={len(self.failed)})"

    def _repr_markdown_(self) -> str:  # Jupyter shows the leaderboard
        return self._markdown


def model_specs(models: Any) -> list[str]:
    """`--model` spec strings from what `evaluate` accepts: a spec, a list of specs, or {label: model}."""
    from polyglue.objects import model_spec

    if isinstance(models, str):
        return [models]
    if isinstance(models, Mapping):
        if not models:
            raise UserError("models: give at least one model, e.g. {'baseline': 'bow'}")
        return [model_spec(str(label), model) for label, model in models.items()]
    if isinstance(models, Sequence) and all(isinstance(m, str) for m in models):
        return list(models)
    raise UserError("models: a spec string ('bow', 'hf:...'), a list of them, or a dict {row label: model or spec}")


def _lora_override(value, kind: str = "lora") -> dict | None:
    """`lora={"r": 16, ...}` (the `lora` protocol's settings, `polyglue.cards.schema.LoraSettings`), likewise
    `prompt={...}` and `prefix={...}`; None values dropped."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        example = {"lora": "{'r': 16, 'target_modules': ['query', 'value']}"}.get(kind, "{'num_virtual_tokens': 20}")
        raise UserError(f"{kind}: a dict of {kind} settings, e.g. {example}")
    picked = {str(k): v for k, v in value.items() if v is not None}
    return picked or None


def plan(
    suite: str,
    models: Any,
    *,
    tasks: Sequence[str] | None = None,
    seeds: int | None = None,
    protocol: str | None = None,
    cards: Sequence[str | Path] | None = None,
    data_dir: str | Path | None = None,
    device: str = "auto",
    threads: int | None = None,
    data_seeds: Sequence[int] | None = None,
    backend: str = "local",
    registry=None,
    allow_unverified_data: bool = False,
    **overrides,
):
    """Plan one suite's units (nothing runs yet); returns `(Plan, Registry)`.

    `overrides`: `max_steps`, `limit`, `languages`, or any card protocol setting
    (`learning_rate=3e-5`); every override makes the rows not comparable, debug caps make them debug.
    `allow_unverified_data`: read a pinned card's `data_dir` folder that has no `manifest.json` (not
    written by `bench fetch`); refused without it, marked not comparable with it.
    `data_seeds`: data-order seeds crossed with the `seeds` init seeds (Dodge et al. 2020's grid).
    """
    from polyglue.cards.registry import Registry
    from polyglue.runs.plan import RunRequest, plan_run
    from polyglue.runs.runconfig import check_overrides

    run_settings = {k: overrides.pop(k) for k in RUN_OVERRIDES if k in overrides}
    try:
        settings = check_overrides({f"protocol.{k}": v for k, v in overrides.items()})
    except ValueError as exc:
        raise UserError(f"{exc}; evaluate() takes {', '.join(RUN_OVERRIDES)} and the card protocol settings (`bench schema card`)") from None
    for name in ("max_steps", "limit"):
        if run_settings.get(name) is not None and int(run_settings[name]) < 1:
            raise UserError(f"{name} must be positive (got {run_settings[name]})")
    if threads is not None and threads < 1:
        raise UserError(f"threads must be positive (got {threads})")
    specs = model_specs(models)
    if backend != "local" and any("object:" in s for s in specs):
        raise UserError("in-memory encoder objects run on the local backend only (pass spec strings or transformers models for Ray)")
    if registry is None:
        registry = Registry.discover([Path(c) for c in cards or []])
    languages = run_settings.get("languages")
    request = RunRequest(
        suite=suite,
        models=specs,
        tasks=list(tasks) if tasks else None,
        protocol=protocol,
        seeds=seeds,
        data_seeds=[int(d) for d in data_seeds] if data_seeds is not None else None,
        data_dir=Path(data_dir) if data_dir is not None else None,
        device=device,
        threads=threads,
        allow_unverified_data=allow_unverified_data,
        overrides={
            **settings,
            "max_steps": run_settings["max_steps"] if run_settings.get("max_steps") is not None else settings.get("max_steps"),
            "limit": run_settings.get("limit"),
            "languages": sorted(languages) if languages else None,
            "feature_storage": run_settings.get("feature_storage"),
            "lora": _lora_override(run_settings.get("lora")),
            "prompt": _lora_override(run_settings.get("prompt"), "prompt"),
            "prefix": _lora_override(run_settings.get("prefix"), "prefix"),
        },
    )
    return plan_run(registry, request), registry


def execute(
    planned,
    runs_dir: str | Path | None = None,
    *,
    backend: str = "local",
    backend_options: dict | None = None,
    force: bool = False,
    show_progress: bool = False,
    argv: list[str] | None = None,
    trackers: list | None = None,
    cache_budget: int | None = None,
):
    """Run a plan's units (reusing finished ones unless `force`); returns the driver's `RunSummary`.

    `cache_budget` (bytes) caps the feature cache on disk; it changes where features live, never results.
    """
    from polyglue.runs.driver import run_tasks

    if cache_budget is not None:
        for task in planned.tasks:
            task.options["cache_budget"] = cache_budget
    return run_tasks(
        planned.tasks, Path(runs_dir) if runs_dir is not None else DEFAULT_RUNS_DIR, backend=backend,
        backend_options=backend_options, force=force, argv=argv or [], show_progress=show_progress,
        suite=planned.suite, trackers=trackers,
    )


def evaluate(
    suite: str,
    models: Any,
    tasks: Sequence[str] | None = None,
    seeds: int | None = None,
    protocol: str | None = None,
    cards: Sequence[str | Path] | None = None,
    data_dir: str | Path | None = None,
    runs_dir: str | Path | None = None,
    device: str = "auto",
    allow_unverified_data: bool = False,
    data_seeds: Sequence[int] | None = None,
    **overrides,
) -> Results:
    """Evaluate `models` on `suite`; finished units are reused, so a second call resumes.

    Args:
        suite: a suite name (`bench list suites`).
        models: `{row label: model}` where a model is a spec string (`"hf:<id or path>"`, `"bow"`,
            `"fbank"`, `"s3prl:<name>"`), a transformers model with its tokenizer or feature
            extractor (`(model, tokenizer)`), or an object implementing an encoder protocol
            (`polyglue.objects`); a spec string or a list of spec strings also works.
        tasks: card names to run (default: every card of the suite).
        seeds: seeds per (card, model); default: the suite's own (`seeds:` in suite.yaml, else 1).
        data_seeds: data-order seeds, crossed with the seeds (which then drive only the head/adapter
            initialisation): an init × data grid, as Dodge et al. (2020) separate the two.
        protocol: `finetune`, `probe`, or a plugin's protocol (default: each card's own).
        cards: extra card directories. data_dir: the local data root (suite S reads DIR/S/).
        runs_dir: where results live (default `./runs`). device: `auto`, `cpu`, `cuda`, `cuda:N`.
        allow_unverified_data: read a pinned card's `data_dir/<suite>/<card>/` folder that has no
            `manifest.json` (a copy `bench fetch` did not write); refused without it, and its rows are
            marked not comparable with it.
        **overrides: `max_steps`, `limit`, `languages` (debug caps make rows debug and not comparable),
            any card protocol setting (`learning_rate=3e-5`: the rows are marked not comparable),
            `lora` (with `protocol="lora"`: a dict of `r`, `alpha`, `dropout`, `target_modules`, `recipe`),
            `prompt` (with `protocol="prompt"`: `num_virtual_tokens`, `init`, `init_text`), `prefix` (with
            `protocol="prefix"`: `num_virtual_tokens`, `projection`, `encoder_hidden_size`),
            and `backend`, `threads`, `force`, `show_progress`.

    Returns:
        `Results`: `.leaderboard`, `.units`, `.to_pandas()`, `.to_dict()`.
    """
    run_options = {k: overrides.pop(k) for k in ("force", "show_progress", "backend_options", "cache_budget") if k in overrides}
    backend = overrides.pop("backend", "local")
    threads = overrides.pop("threads", None)
    planned, registry = plan(
        suite, models, tasks=tasks, seeds=seeds, protocol=protocol, cards=cards, data_dir=data_dir,
        device=device, threads=threads, backend=backend, allow_unverified_data=allow_unverified_data,
        data_seeds=data_seeds, **overrides,
    )
    summary = execute(planned, runs_dir, backend=backend, **run_options)
    return collect(Path(runs_dir) if runs_dir is not None else DEFAULT_RUNS_DIR, registry, suite, planned.tasks, summary)


def collect(runs_dir: Path, registry, suite: str, tasks, summary) -> Results:
    """Results of the planned `tasks` from the store, with the suite's leaderboard as `bench report` builds it."""
    from polyglue.report import formats
    from polyglue.report.leaderboard import build, definitions
    from polyglue.runs.store import Store

    store = Store(runs_dir)
    try:
        stored = {u["key"]: u for u in store.units(status=None)}
        board = build(*definitions(registry, store, suite), store.units())
    finally:
        store.close()
    units = []
    for task in tasks:
        row = stored.get(task.key, {})
        units.append(
            {
                "key": task.key, "card": task.unit.card, "model": task.label, "protocol": task.unit.protocol,
                "seed": task.unit.seed, "status": row.get("status", "missing"), "metrics": row.get("metrics") or {},
                "comparability": task.comparability, "encoder_identity": task.unit.encoder_identity,
            }
        )
    failed = [{"unit": t.describe(), "message": message, "kind": kind} for t, message, kind in summary.failed]
    return Results(
        suite=suite, leaderboard=formats.suite_leaderboard(board), units=units, failed=failed, runs_dir=runs_dir,
        _markdown=formats.leaderboard_markdown(board),
    )
