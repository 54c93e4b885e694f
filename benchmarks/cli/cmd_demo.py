"""`bench demo`: the offline end-to-end demo (synthetic text and speech suites, built-in baselines)."""

from __future__ import annotations

import shutil
import time
from typing import Annotated

import typer

from polyglue.cli.options import DEFAULT_RUNS_DIR, RunsDirOpt


def demo_cmd(
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
    fresh: Annotated[bool, typer.Option("--fresh", help="Delete earlier demo results first.")] = False,
    speech: Annotated[bool, typer.Option("--speech/--no-speech", help="Also run the speech demo (synthetic audio, fbank and a tiny wav2vec2).")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Fully offline: synthetic Catalan/Greek/Chinese tasks with `bow` and a tiny random transformer,
    then synthetic speech tasks with `fbank` and a tiny random wav2vec2."""
    from polyglue.demo.run import run_demo

    start = time.perf_counter()
    if fresh and (runs_dir / "demo").exists():
        shutil.rmtree(runs_dir / "demo")
    result = run_demo(runs_dir, speech=speech, quiet=quiet)
    print("\n\n".join(result.reports))
    where = "\n".join(f"  {name:<12} {path}/" for name, path in result.paths.items())
    print(
        f"\nDemo finished in {time.perf_counter() - start:.0f}s: {result.done} unit(s) run, {result.reused} reused, "
        f"{len(result.failed)} failed.\n{where}\n"
        f"  {'results':<12} {result.results_dir}/polyglue.sqlite (predictions in {result.results_dir}/predictions/)\n"
        f"  validate the demo cards: bench validate {result.paths['cards']}\n"
        f"  report again:            bench report --runs-dir {result.results_dir} --format html --out demo.html"
    )
    if result.exit_code:
        raise typer.Exit(result.exit_code)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
