"""Run the demo: the synthetic text suite, then (optionally) the synthetic speech suite.

Each part is generated into `<runs_dir>/demo/`, planned and run like any suite (results
in `<runs_dir>/demo/results/`), and reported as a Markdown leaderboard.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from polyglue.cards.registry import Registry
from polyglue.runs.driver import RunSummary, run_tasks
from polyglue.runs.plan import RunRequest, plan_run

SPEECH_NOTE = "FBANK sits at chance on the mean-pooled tasks, as in SUPERB: per-utterance CMVN zeroes every utterance's mean."


@dataclass
class DemoResult:
    root: Path
    results_dir: Path
    reports: list[str] = field(default_factory=list)
    summaries: list[RunSummary] = field(default_factory=list)
    paths: dict[str, Path] = field(default_factory=dict)

    @property
    def done(self) -> int:
        return sum(s.done for s in self.summaries)

    @property
    def reused(self) -> int:
        return sum(s.reused for s in self.summaries)

    @property
    def failed(self) -> list:
        return [f for s in self.summaries for f in s.failed]

    @property
    def exit_code(self) -> int:
        return max((s.exit_code for s in self.summaries), default=0)


def _run_suite(cards_dir: Path, request: RunRequest, results_dir: Path, quiet: bool) -> tuple[RunSummary, str]:
    from polyglue.report.leaderboard import build, definitions, render_markdown
    from polyglue.runs.store import Store

    registry = Registry.discover([cards_dir], builtin=False)
    plan = plan_run(registry, request)
    summary = run_tasks(plan.tasks, results_dir, argv=sys.argv, show_progress=not quiet, suite=plan.suite)
    store = Store(results_dir)
    try:
        board = build(*definitions(registry, store, request.suite), store.units(suite=request.suite))
    finally:
        store.close()
    return summary, render_markdown(board)


def run_demo(runs_dir: Path, *, speech: bool = True, quiet: bool = False) -> DemoResult:
    """Generate and evaluate the demo suites under `runs_dir/demo`; nothing is downloaded."""
    from polyglue.demo.generate import SUITE, corpus, write_demo_suite

    root = Path(runs_dir) / "demo"
    result = DemoResult(root=root, results_dir=root / "results")
    cards_dir = write_demo_suite(root)
    model_dir = root / "models" / "tiny-bert"
    if not (model_dir / "config.json").exists():
        from polyglue.langkits.encoders.tiny import build_tiny_bert

        build_tiny_bert(model_dir, corpus(root))
    request = RunRequest(suite=SUITE, models=["bow", f"tiny-bert=hf:{model_dir}"], protocol="probe")
    summary, report = _run_suite(cards_dir, request, result.results_dir, quiet)
    result.summaries.append(summary)
    result.reports.append(report)
    result.paths.update({"cards": cards_dir, "data": root / "data", "models": root / "models"})
    if speech:
        from polyglue.demo.speech import SUITE as SPEECH_SUITE, speech_models, write_speech_demo

        speech_cards, speech_data = write_speech_demo(root)
        request = RunRequest(suite=SPEECH_SUITE, models=speech_models(root), data_dir=speech_data)
        summary, report = _run_suite(speech_cards, request, result.results_dir, quiet)
        result.summaries.append(summary)
        result.reports.append(f"{report}\n{SPEECH_NOTE}")
    return result
