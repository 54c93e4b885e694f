"""Session fixtures of the speech tests: one small corpus, tiny wav2vec2 folders, one full suite run."""

from __future__ import annotations

import contextlib
import io
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.fixtures.speech_data import make_kathbath, tiny_wav2vec2


@pytest.fixture(scope="session")
def kathbath_dir(tmp_path_factory) -> Path:
    """`--data-dir` holding `indicsuperb/` (hindi and tamil, KS, QbE, trials)."""
    return make_kathbath(tmp_path_factory.mktemp("speech-data"))


@pytest.fixture(scope="session")
def kathbath_root(kathbath_dir) -> Path:
    return kathbath_dir / "indicsuperb"


@pytest.fixture(scope="session")
def tiny_w2v2(tmp_path_factory) -> Path:
    """A group-norm wav2vec2 (wav2vec2-base style: no attention mask, one utterance per pass)."""
    return tiny_wav2vec2(tmp_path_factory.mktemp("tiny-w2v2"))


@pytest.fixture(scope="session")
def tiny_w2v2_layer(tmp_path_factory) -> Path:
    """A layer-norm wav2vec2 (large/XLS-R style: batched with an attention mask)."""
    return tiny_wav2vec2(tmp_path_factory.mktemp("tiny-w2v2-layer"), feat_extract_norm="layer", seed=1)


@dataclass
class SuiteRun:
    code: int
    err: str
    runs_dir: Path
    units: dict
    """(card, encoder label) -> unit row with parsed metrics and extras."""

    def predictions(self, card: str, encoder: str) -> list[dict]:
        path = self.runs_dir / self.units[(card, encoder)]["predictions_path"]
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def read_units(runs_dir: Path) -> dict:
    conn = sqlite3.connect(runs_dir / "polyglue.sqlite")
    conn.row_factory = sqlite3.Row
    out = {}
    for row in conn.execute("SELECT * FROM units"):
        item = dict(row)
        item["metrics"] = json.loads(item["metrics_json"]) if item["metrics_json"] else None
        item["extras"] = json.loads(item["extras_json"]) if item["extras_json"] else None
        out[(item["card"], item["encoder"])] = item
    conn.close()
    return out


#: The BiLSTM-CTC head (2 x 1024 units, the recipe's) dominates CPU time: ASR gets fewer steps and items.
ASR_FLAGS = ("--max-steps", "1", "--limit", "2")
OTHER_FLAGS = ("--max-steps", "2", "--limit", "3")


@pytest.fixture(scope="session")
def suite_run(tmp_path_factory, kathbath_dir, tiny_w2v2) -> SuiteRun:
    """Every IndicSUPERB card with `fbank` and a tiny wav2vec2 through `bench run` (a few steps, a few items)."""
    from polyglue.cli import main

    runs = tmp_path_factory.mktemp("speech-runs")
    err = io.StringIO()
    cards = "indicsuperb-asv,indicsuperb-sid,indicsuperb-sid-multi,indicsuperb-lid,indicsuperb-ks,indicsuperb-qbe"
    common = ["run", "--suite", "indicsuperb", "--model", "fbank", "--model", f"w2v=hf:{tiny_w2v2}",
              "--data-dir", str(kathbath_dir), "--runs-dir", str(runs), "-q"]
    # Session fixtures run before the function-scoped cache isolation of tests/conftest.py.
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stderr(err):
        mp.setenv("POLYGLUE_CACHE", str(tmp_path_factory.getbasetemp() / "polyglue-cache"))
        code = main([*common, "--tasks", "indicsuperb-asr", *ASR_FLAGS]) or main([*common, "--tasks", cards, *OTHER_FLAGS])
    return SuiteRun(code, err.getvalue(), runs, read_units(runs))
