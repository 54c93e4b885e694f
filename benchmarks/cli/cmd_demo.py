"""`bench demo`: generate the synthetic suite, build a tiny transformer, run, print the leaderboard."""

from __future__ import annotations

import shutil
import sys
import time
from typing import Annotated

import typer

from benchmarks.cli.options import DEFAULT_RUNS_DIR, RunsDirOpt


def demo_cmd(
    runs_dir: RunsDirOpt = DEFAULT_RUNS_DIR,
    fresh: Annotated[bool, typer.Option("--fresh", help="Delete earlier demo results first.")] = False,
    speech: Annotated[bool, typer.Option("--speech/--no-speech", help="Also run the speech demo (synthetic audio, fbank and a tiny wav2vec2).")] = True,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")] = False,
) -> None:
    """Fully offline: synthetic Catalan/Greek/Chinese tasks with `bow` and a tiny random transformer,
    then synthetic speech tasks with `fbank` and a tiny random wav2vec2."""
    from benchmarks.cards.registry import Registry
    from benchmarks.demo.generate import SUITE, corpus, write_demo_suite
    from benchmarks.report.leaderboard import build, definitions, render_markdown
    from benchmarks.runs.driver import run_tasks
    from benchmarks.runs.plan import RunRequest, plan_run
    from benchmarks.runs.store import Store

    start = time.perf_counter()
    root = runs_dir / "demo"
    if fresh and root.exists():
        shutil.rmtree(root)
    cards_dir = write_demo_suite(root)
    model_dir = root / "models" / "tiny-bert"
    if not (model_dir / "config.json").exists():
        from langkits.encoders.tiny import build_tiny_bert

        build_tiny_bert(model_dir, corpus(root))
    registry = Registry.discover([cards_dir], builtin=False)
    request = RunRequest(suite=SUITE, models=["bow", f"tiny-bert=hf:{model_dir}"], protocol="probe")
    plan = plan_run(registry, request)
    store_dir = root / "results"
    summary = run_tasks(plan.tasks, store_dir, argv=sys.argv, show_progress=not quiet, suite=plan.suite)
    store = Store(store_dir)
    try:
        board = build(*definitions(registry, store, SUITE), store.units(suite=SUITE))
    finally:
        store.close()
    print(render_markdown(board))
    if speech:
        from benchmarks.demo.speech import SUITE as SPEECH_SUITE, speech_models, write_speech_demo

        speech_cards, speech_data = write_speech_demo(root)
        speech_registry = Registry.discover([speech_cards], builtin=False)
        speech_plan = plan_run(speech_registry, RunRequest(suite=SPEECH_SUITE, models=speech_models(root), data_dir=speech_data))
        speech_summary = run_tasks(speech_plan.tasks, store_dir, argv=sys.argv, show_progress=not quiet, suite=speech_plan.suite)
        store = Store(store_dir)
        try:
            print("\n" + render_markdown(build(*definitions(speech_registry, store, SPEECH_SUITE), store.units(suite=SPEECH_SUITE))))
            print("FBANK sits at chance on the mean-pooled tasks, as in SUPERB: per-utterance CMVN zeroes every utterance's mean.")
        finally:
            store.close()
        summary.done, summary.reused = summary.done + speech_summary.done, summary.reused + speech_summary.reused
        summary.failed += speech_summary.failed
    print(
        f"\nDemo finished in {time.perf_counter() - start:.0f}s: {summary.done} unit(s) run, {summary.reused} reused, "
        f"{len(summary.failed)} failed.\n"
        f"  cards        {cards_dir}/demo/  (validate with `bench validate {cards_dir}`)\n"
        f"  data         {root / 'data'}/\n"
        f"  tiny model   {model_dir}/\n"
        f"  results      {store_dir}/polyglue.sqlite, predictions in {store_dir}/predictions/\n"
        f"  report again `bench report --runs-dir {store_dir}`"
    )
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo_cmd)
