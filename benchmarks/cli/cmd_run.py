"""`bench run`: plan the units of a suite, then execute what is not finished yet."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from polyglue.cli.options import DEFAULT_RUNS_DIR, CardsOpt, RunsDirOpt, registry


def run_cmd(
    suite: Annotated[Optional[str], typer.Option("--suite", help="Suite to run (see `bench list suites`); or `suites:` in --config.")] = None,
    model: Annotated[Optional[list[str]], typer.Option("--model", help="Encoder: bow, hf:<id or path>, fbank, s3prl:<name>; repeatable; `label=spec` names the row.")] = None,
    tasks: Annotated[Optional[str], typer.Option("--tasks", help="Comma-separated card names (default: all cards of the suite).")] = None,
    protocol: Annotated[Optional[str], typer.Option("--protocol", help="Text protocol: finetune (official recipe), probe (frozen features), lora (low-rank adapters, peft; also ASR), prompt (soft prompt tuning) or prefix (prefix tuning).")] = None,
    seeds: Annotated[Optional[int], typer.Option("--seeds", help="Seeds per (card, encoder); default: the suite's own (1 unless suite.yaml says). Reports show mean ± spread.")] = None,
    data_seeds: Annotated[Optional[str], typer.Option("--data-seeds", help="Comma-separated data-order seeds (batch order, dropout), crossed with --seeds, which then set only the head/adapter initialisation (Dodge et al. 2020); `bench report --columns seeds` decomposes the variance.")] = None,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Local data root: suite S reads DIR/S/.")] = None,
    allow_unverified_data: Annotated[bool, typer.Option("--allow-unverified-data", help="Read pinned cards' --data-dir folders that have no manifest.json (not written by `bench fetch`); their rows are marked not comparable.")] = False,
    cards: CardsOpt = None,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Cap on training steps per unit (quick checks).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Use a fixed random sample of at most N examples per split.")] = None,
    learning_rate: Annotated[Optional[float], typer.Option("--learning-rate", help="Override the cards' learning rate (rows become not comparable).")] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", help="Override the cards' batch size (rows become not comparable).")] = None,
    languages: Annotated[Optional[str], typer.Option("--languages", help="Speech: comma-separated ISO 639-1 codes to restrict to.")] = None,
    recipe: Annotated[Optional[str], typer.Option("--recipe", help="Named recipe of the protocol, e.g. hu2021-roberta-base (the LoRA paper's GLUE settings, with --protocol lora).")] = None,
    lora_r: Annotated[Optional[int], typer.Option("--lora-r", help="--protocol lora: adapter rank (card: protocol.lora.r).")] = None,
    lora_alpha: Annotated[Optional[float], typer.Option("--lora-alpha", help="--protocol lora: scale numerator, update x alpha/r (card: protocol.lora.alpha).")] = None,
    lora_dropout: Annotated[Optional[float], typer.Option("--lora-dropout", help="--protocol lora: adapter dropout (card: protocol.lora.dropout).")] = None,
    lora_targets: Annotated[Optional[str], typer.Option("--lora-targets", help="--protocol lora: comma-separated module names that get adapters (card: protocol.lora.target_modules).")] = None,
    virtual_tokens: Annotated[Optional[int], typer.Option("--virtual-tokens", help="--protocol prompt|prefix: virtual tokens (card: protocol.prompt/prefix.num_virtual_tokens).")] = None,
    prompt_init: Annotated[Optional[str], typer.Option("--prompt-init", help="--protocol prompt: random, text or sample_vocab (card: protocol.prompt.init).")] = None,
    prompt_init_text: Annotated[Optional[str], typer.Option("--prompt-init-text", help="--protocol prompt with --prompt-init text: the text whose embeddings start the prompt.")] = None,
    prefix_projection: Annotated[Optional[bool], typer.Option("--prefix-projection/--no-prefix-projection", help="--protocol prefix: reparametrise the prefix through an MLP (card: protocol.prefix.projection).")] = None,
    backend: Annotated[str, typer.Option("--backend", help="local or ray.")] = "local",
    address: Annotated[Optional[str], typer.Option("--address", help="Ray cluster address (with --backend ray), e.g. auto.")] = None,
    retries: Annotated[int, typer.Option("--retries", help="Ray: times a unit whose worker died is retried before it is recorded as failed.")] = 2,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    threads: Annotated[Optional[int], typer.Option("--threads", help="CPU threads per unit (default: all cores locally, 1 per Ray worker). Equal counts give bit-identical results across backends.")] = None,
    cache_budget: Annotated[Optional[str], typer.Option("--cache-budget", help="Cap the feature cache on disk (e.g. 500GB; default $POLYGLUE_CACHE_BUDGET, else none): least-recently-used features are evicted, what does not fit is recomputed.")] = None,
    feature_storage: Annotated[Optional[str], typer.Option("--feature-storage", help="Speech: cached features as fp16 (default) or int8 (per-channel quantised, about half the disk).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute units that already finished.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
    config: Annotated[Optional[Path], typer.Option("--config", help="A run config (YAML: suites, models, tasks, seeds, data_seeds, overrides); flags given here replace its values.")] = None,
    override: Annotated[Optional[list[str]], typer.Option("-o", "--override", help="protocol.<field>=<value>, e.g. -o protocol.learning_rate=3e-5 (repeatable); such units are marked not comparable.")] = None,
    log_to: Annotated[Optional[list[str]], typer.Option("--log-to", help="Also log every unit to mlflow, wandb or tensorboard (repeatable; optional extras).")] = None,
) -> None:
    """Evaluate encoders on a suite. Finished units are reused; an interrupted run resumes."""
    from polyglue import api
    from polyglue.errors import UserError
    from polyglue.runs.runconfig import check_overrides, load_config, parse_cli_overrides

    cfg = load_config(config) if config is not None else None
    base = config.resolve().parent if config is not None else Path.cwd()
    suites = [suite] if suite else (cfg.suites if cfg else [])
    models = list(model) if model else (cfg.models if cfg else [])
    if not suites:
        raise UserError("give --suite S (or a run config with `suites:` via --config FILE)")
    if not models:
        raise UserError("give at least one --model (e.g. --model bow), or `models:` in --config FILE")
    task_list = [t.strip() for t in tasks.split(",") if t.strip()] if tasks else (cfg.tasks if cfg else None)
    protocol = protocol or (cfg.protocol if cfg else None)
    seeds = seeds if seeds is not None else (cfg.seeds if cfg else None)  # None: the suite's own default
    if data_dir is None and cfg is not None and cfg.data_dir:
        data_dir = base / cfg.data_dir
    allow_unverified_data = allow_unverified_data or bool(cfg and cfg.allow_unverified_data)
    if runs_dir == DEFAULT_RUNS_DIR and cfg is not None and cfg.runs_dir:
        runs_dir = base / cfg.runs_dir
    limit = limit if limit is not None else (cfg.limit if cfg else None)
    max_steps = max_steps if max_steps is not None else (cfg.max_steps if cfg else None)
    language_list = sorted(l.strip() for l in languages.split(",") if l.strip()) if languages else (sorted(cfg.languages) if cfg and cfg.languages else None)
    settings = check_overrides(cfg.overrides) if cfg else {}
    settings.update(check_overrides(parse_cli_overrides(override)))
    for name, value in (("learning_rate", learning_rate), ("batch_size", batch_size)):
        if value is not None:
            settings[name] = value
    if "max_steps" in settings:  # -o protocol.max_steps=N is the same cap as --max-steps N
        max_steps = max_steps if max_steps is not None else settings.pop("max_steps")
        settings.pop("max_steps", None)
    if limit is not None and limit < 1:
        raise UserError(f"--limit must be positive (got {limit})")
    if max_steps is not None and max_steps < 1:
        raise UserError(f"--max-steps must be positive (got {max_steps})")
    if learning_rate is not None and not learning_rate > 0:
        raise UserError(f"--learning-rate must be positive (got {learning_rate})")
    if batch_size is not None and batch_size < 1:
        raise UserError(f"--batch-size must be positive (got {batch_size})")
    if device != "auto" and not (device == "cpu" or device.startswith("cuda")):
        raise UserError(f"--device {device}: use auto, cpu, cuda or cuda:N")
    from polyglue.cache_budget import budget_from_env, parse_size

    budget = parse_size(cache_budget, what="--cache-budget") if cache_budget is not None else budget_from_env()
    if feature_storage not in (None, "fp16", "int8"):
        raise UserError(f"--feature-storage {feature_storage}: use fp16 or int8")
    if device.startswith("cuda") and backend == "local":
        _check_cuda(device)
    if threads is not None and threads < 1:
        raise UserError(f"--threads must be positive (got {threads})")
    if retries < 0:
        raise UserError(f"--retries must be 0 or more (got {retries})")
    lora = {
        "r": lora_r, "alpha": lora_alpha, "dropout": lora_dropout, "recipe": recipe,
        "target_modules": [t.strip() for t in lora_targets.split(",") if t.strip()] if lora_targets is not None else None,
    }
    prompt = {"num_virtual_tokens": virtual_tokens if protocol != "prefix" else None, "init": prompt_init, "init_text": prompt_init_text}
    prefix = {"num_virtual_tokens": virtual_tokens if protocol == "prefix" else None, "projection": prefix_projection}
    data_seed_list = _int_list("--data-seeds", data_seeds) if data_seeds is not None else (cfg.data_seeds if cfg else None)
    reg = registry(cards)
    plans = []
    for name in suites:
        names = task_list
        if task_list and len(suites) > 1:  # a grid over several suites: each runs the listed cards it has
            names = [t for t in task_list if t in {e.card.name for e in reg.suite_cards(name)}] or task_list
        planned, _ = api.plan(
            name, models, tasks=names, protocol=protocol, seeds=seeds, data_seeds=data_seed_list, data_dir=data_dir, device=device,
            threads=threads, backend=backend, registry=reg, max_steps=max_steps, limit=limit, languages=language_list,
            feature_storage=feature_storage, lora=lora, prompt=prompt, prefix=prefix, allow_unverified_data=allow_unverified_data, **settings,
        )
        plans.append(planned)  # every suite is planned before any unit runs
    from polyglue.runs.comparability import override_notice

    notice = override_notice([t.comparability for plan in plans for t in plan.tasks])
    if notice:
        print(notice, file=sys.stderr)
    from polyglue.runs.protocol import lm_notice

    lm_line = lm_notice([t for plan in plans for t in plan.tasks])
    if lm_line:
        print(lm_line, file=sys.stderr)
    for plan in plans:
        for note in plan.skipped:
            print(f"skipped: {note}", file=sys.stderr)
    debug = sorted({r for plan in plans for t in plan.tasks if t.comparability.get("debug") for r in t.comparability["reasons"] if "debug" in r})
    if debug:
        print(f"warning: debug run ({'; '.join(debug)}): its units are stored apart and left out of reports (`bench report --include-debug` shows them)", file=sys.stderr)
    options = {"address": address, "max_retries": retries} if backend == "ray" else {}
    trackers = []
    if log_to:
        from polyglue.runs.trackers import open_trackers

        trackers = open_trackers([n.strip() for value in log_to for n in value.split(",") if n.strip()], runs_dir)
    exit_code = 0
    for name, plan in zip(suites, plans):
        summary = api.execute(
            plan, runs_dir, backend=backend, backend_options=options, force=force, argv=_invocation(),
            show_progress=not quiet, trackers=trackers, cache_budget=budget,
        )
        print(
            f"{summary.total} unit(s): {summary.done} run, {summary.reused} reused, {len(summary.failed)} failed. "
            f"Results: {runs_dir}/ (`bench report --suite {name} --runs-dir {runs_dir}`)",
            file=sys.stderr,
        )
        if summary.run_file is not None:
            print(f"Run file: {summary.run_file}", file=sys.stderr)
        for task, owner in summary.busy:
            print(f"left to {owner}: {task.describe()} (it holds the unit's lease; rerun later to reuse its result)", file=sys.stderr)
        for task, message, _ in summary.failed:
            print(f"failed: {task.describe()}: {message}", file=sys.stderr)
        exit_code = max(exit_code, summary.exit_code)
    if exit_code:
        raise typer.Exit(exit_code)


def _invocation() -> list[str]:
    """`bench ...` as typed (also when called in-process through `polyglue.cli.main`)."""
    from polyglue.cli import INVOCATION

    return list(INVOCATION) or ["bench", *sys.argv[1:]]


def _check_cuda(device: str) -> None:
    """Fail before planning when this machine cannot run the requested CUDA device."""
    from polyglue.errors import UserError
    from polyglue.torch_compat import prepare

    prepare()
    import torch

    if not torch.cuda.is_available():
        build = "a CPU-only build" if torch.version.cuda is None else f"CUDA {torch.version.cuda}"
        raise UserError(f"--device {device}: torch {torch.__version__} ({build}) sees no CUDA device; use --device cpu or auto")
    index = int(device.split(":", 1)[1]) if ":" in device else 0
    if index >= torch.cuda.device_count():
        raise UserError(f"--device {device}: only {torch.cuda.device_count()} CUDA device(s) visible")


def register(app: typer.Typer) -> None:
    app.command("run")(run_cmd)


def _int_list(flag: str, text: str) -> list[int]:
    from polyglue.errors import UserError

    try:
        return [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise UserError(f"{flag} {text}: give comma-separated integers, e.g. {flag} 0,1,2") from None
