"""CLUB QA cost: ViquiQuAD + XQuAD-ca with XQuAD-ca reusing the ViquiQuAD unit's kept model, vs training it twice.

Both sides run the two `finetune` units through the driver (`polyglue.runs.driver.run_tasks`,
what `bench run` does) on generated, format-faithful mirrors (SQuAD JSON, invented
Catalan-like sentences) with a small random BERT, the cards' recipe and `--max-steps`:

* reuse (as shipped): ViquiQuAD trains and keeps its model, XQuAD-ca loads it and only evaluates;
* baseline (before): the same plan with the tasks' `trained_model` cleared (what planning gave
  every unit before the reuse), so XQuAD-ca gets no `ctx.trained_models` handle and trains its
  own copy with the same recipe and seed.

Each side is one `run_tasks` call on a fresh runs dir, the same planned tasks otherwise.

Repeats alternate the two sides; the median ratio of wall time and of this process's CPU
seconds (steadier on a shared machine) is reported, with the XQuAD-ca metrics of
both (they must be equal: the same model). Target (issue 10): ratio <= 0.6.

    .venv/bin/python -m perf.club_qa_cost [--train 400] [--eval 100] [--max-steps 40] [--repeats 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CARDS = ["viquiquad", "xquad-ca"]


def run(data: Path, model: Path, runs_dir: Path, max_steps: int, threads: int, reuse: bool) -> tuple[float, float, dict]:
    """Run the two units in `runs_dir`; returns (wall seconds, CPU seconds of this process, xquad-ca metrics)."""
    from dataclasses import replace

    from polyglue.cli.options import registry
    from polyglue.runs.driver import run_tasks
    from polyglue.runs.plan import RunRequest, plan_run
    from polyglue.runs.store import Store

    request = RunRequest(suite="club", models=[f"small=hf:{model}"], tasks=CARDS, protocol="finetune", seeds=1,
                         data_dir=data, threads=threads, device="cpu", overrides={"max_steps": max_steps})
    plan = plan_run(registry(None), request)
    tasks = plan.tasks if reuse else [replace(t, trained_model=None) for t in plan.tasks]
    t0, c0 = time.perf_counter(), time.process_time()
    summary = run_tasks(tasks, runs_dir, show_progress=False, suite=plan.suite)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    if summary.failed:
        raise SystemExit(f"unit failed: {summary.failed[0][1]}")
    store = Store(runs_dir)
    try:
        [unit] = [u for u in store.units() if u["card"] == "xquad-ca"]
    finally:
        store.close()
    return seconds, cpu_seconds, unit["metrics"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=400, help="ViquiQuAD training questions")
    parser.add_argument("--eval", type=int, default=100, help="questions per validation / test split")
    parser.add_argument("--max-steps", type=int, default=40)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

    from polyglue.langkits.encoders.tiny import build_tiny_bert
    from tests.fixtures.text_mirrors import all_texts, write_mirror

    work = Path(tempfile.mkdtemp(prefix="polyglue-perf-clubqa-"))
    os.environ["POLYGLUE_CACHE"] = str(work / "cache")
    sizes = {"viquiquad": {"train": args.train, "validation": args.eval, "test": args.eval}, "xquad-ca": {"test": args.eval}}
    data = write_mirror(work / "data", "club", CARDS, n=sizes)
    model = build_tiny_bert(work / "bert", all_texts(), vocab_size=2000, hidden_size=args.hidden, layers=args.layers,
                            heads=max(1, args.hidden // 64), max_positions=512)
    run(data, model, work / "warm-up", 2, args.threads, reuse=True)  # imports and first kernels, not counted
    reuse_s, twice_s, metrics = [], [], {}
    cpu: dict[str, list[float]] = {"reuse": [], "twice": []}
    for k in range(args.repeats):
        sides = ["reuse", "twice"] if k % 2 == 0 else ["twice", "reuse"]
        for name in sides:
            runs_dir = work / f"{name}-{k}"
            seconds, cpu_s, metrics[name] = run(data, model, runs_dir, args.max_steps, args.threads, reuse=name == "reuse")
            cpu[name].append(cpu_s)
            (reuse_s if name == "reuse" else twice_s).append(seconds)
            shutil.rmtree(runs_dir, ignore_errors=True)
    ratio = statistics.median(r / t for r, t in zip(reuse_s, twice_s))
    print(f"CLUB QA (viquiquad + xquad-ca), {args.train} train / {args.eval} eval questions, {args.max_steps} steps, "
          f"BERT {args.layers}x{args.hidden}, {args.threads} thread(s), load average {os.getloadavg()[0]:.1f}")
    print(f"  XQuAD-ca reuses the model:   {', '.join(f'{s:.1f}' for s in reuse_s)} s")
    print(f"  XQuAD-ca trains its own:     {', '.join(f'{s:.1f}' for s in twice_s)} s")
    cpu_ratio = statistics.median(r / t for r, t in zip(cpu["reuse"], cpu["twice"]))
    print(f"  CPU seconds: {', '.join(f'{s:.1f}' for s in cpu['reuse'])} vs {', '.join(f'{s:.1f}' for s in cpu['twice'])}")
    print(f"  ratio (median): {ratio:.3f} wall, {cpu_ratio:.3f} CPU seconds (target <= 0.6)")
    print(f"  xquad-ca metrics equal: {metrics['reuse'] == metrics['twice']}  {metrics['reuse']}")
    shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
