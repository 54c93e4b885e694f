"""`bench run`: plan the units of a suite, then execute what is not finished yet."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from polyglue.cli.options import DEFAULT_RUNS_DIR, CardsOpt, RunsDirOpt


def run_cmd(
    suite: Annotated[str, typer.Option("--suite", help="Suite to run (see `bench list suites`).")],
    model: Annotated[list[str], typer.Option("--model", help="Encoder: bow, hf:<id or path>, fbank, s3prl:<name>; repeatable; `label=spec` names the row.")],
    tasks: Annotated[Optional[str], typer.Option("--tasks", help="Comma-separated card names (default: all cards of the suite).")] = None,
    protocol: Annotated[Optional[str], typer.Option("--protocol", help="Text protocol: finetune (official recipe), probe (frozen features) or lora (low-rank adapters, peft).")] = None,
    seeds: Annotated[int, typer.Option("--seeds", help="Seeds per (card, encoder); reports show mean ± spread.")] = 1,
    data_dir: Annotated[Optional[Path], typer.Option("--data-dir", help="Local data root: suite S reads DIR/S/.")] = None,
    cards: CardsOpt = None,
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
    max_steps: Annotated[Optional[int], typer.Option("--max-steps", help="Cap on training steps per unit (quick checks).")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", help="Use a fixed random sample of at most N examples per split.")] = None,
    languages: Annotated[Optional[str], typer.Option("--languages", help="Speech: comma-separated ISO 639-1 codes to restrict to.")] = None,
    recipe: Annotated[Optional[str], typer.Option("--recipe", help="Named recipe of the protocol, e.g. hu2021-roberta-base (the LoRA paper's GLUE settings, with --protocol lora).")] = None,
    lora_r: Annotated[Optional[int], typer.Option("--lora-r", help="--protocol lora: adapter rank (card: protocol.lora.r).")] = None,
    lora_alpha: Annotated[Optional[float], typer.Option("--lora-alpha", help="--protocol lora: scale numerator, update x alpha/r (card: protocol.lora.alpha).")] = None,
    lora_dropout: Annotated[Optional[float], typer.Option("--lora-dropout", help="--protocol lora: adapter dropout (card: protocol.lora.dropout).")] = None,
    lora_targets: Annotated[Optional[str], typer.Option("--lora-targets", help="--protocol lora: comma-separated module names that get adapters (card: protocol.lora.target_modules).")] = None,
    backend: Annotated[str, typer.Option("--backend", help="local or ray.")] = "local",
    address: Annotated[Optional[str], typer.Option("--address", help="Ray cluster address (with --backend ray), e.g. auto.")] = None,
    retries: Annotated[int, typer.Option("--retries", help="Ray: times a unit whose worker died is retried before it is recorded as failed.")] = 2,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    threads: Annotated[Optional[int], typer.Option("--threads", help="CPU threads per unit (default: all cores locally, 1 per Ray worker). Equal counts give bit-identical results across backends.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Recompute units that already finished.")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Evaluate encoders on a suite. Finished units are reused; an interrupted run resumes."""
    from polyglue import api
    from polyglue.errors import UserError

    if device != "auto" and not (device == "cpu" or device.startswith("cuda")):
        raise UserError(f"--device {device}: use auto, cpu, cuda or cuda:N")
    if device.startswith("cuda") and backend == "local":
        _check_cuda(device)
    if retries < 0:
        raise UserError(f"--retries must be 0 or more (got {retries})")

    def show_skipped(plan) -> None:
        for note in plan.skipped:
            print(f"skipped: {note}", file=sys.stderr)

    summary, _, _ = api.run(
        suite, list(model), tasks=[t.strip() for t in tasks.split(",") if t.strip()] if tasks else None,
        seeds=seeds, protocol=protocol, cards=cards, data_dir=data_dir, runs_dir=runs_dir, device=device,
        threads=threads, backend=backend, backend_options={"address": address, "max_retries": retries} if backend == "ray" else {},
        force=force, show_progress=not quiet, argv=sys.argv, on_plan=show_skipped,
        max_steps=max_steps, limit=limit,
        languages=[lang.strip() for lang in languages.split(",") if lang.strip()] if languages else None,
        lora={
            "r": lora_r, "alpha": lora_alpha, "dropout": lora_dropout, "recipe": recipe,
            "target_modules": [t.strip() for t in lora_targets.split(",") if t.strip()] if lora_targets is not None else None,
        },
    )
    print(
        f"{summary.total} unit(s): {summary.done} run, {summary.reused} reused, {len(summary.failed)} failed. "
        f"Results: {runs_dir}/ (`bench report --suite {suite} --runs-dir {runs_dir}`)",
        file=sys.stderr,
    )
    for task, message, _ in summary.failed:
        print(f"failed: {task.describe()}: {message}", file=sys.stderr)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


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
