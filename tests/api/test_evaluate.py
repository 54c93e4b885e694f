"""`polyglue.evaluate`: in-memory models give exactly the numbers of `bench run` on the same saved model,
objects that implement the encoder protocol run, and those that do not get one line."""

from __future__ import annotations

import sys
import subprocess

import numpy as np
import pytest

import polyglue
from polyglue.errors import UserError
from tests.conftest import REPO
from tests.fixtures.core_suite import write_suite


@pytest.fixture(scope="module")
def suite_root(tmp_path_factory):
    return write_suite(tmp_path_factory.mktemp("api"), n_cards=1, sizes=(60, 30, 30))


def _load(path):
    from transformers import AutoModel, AutoTokenizer

    return AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def _headline(results):
    return {(u["card"], u["protocol"], split, m): v for u in results.units for split, ms in u["metrics"].items() for m, v in ms.items()}


def test_an_in_memory_transformer_gives_exactly_the_numbers_of_bench_run_on_the_saved_model(suite_root, tiny_bert, tmp_path, cli):
    model, tokenizer = _load(tiny_bert)
    saved = tmp_path / "saved"
    model.save_pretrained(saved)
    tokenizer.save_pretrained(saved)
    common = dict(cards=[suite_root], tasks=["core-sent0"], protocol="finetune", max_steps=4)
    in_memory = polyglue.evaluate("core", {"tiny": (model, tokenizer)}, runs_dir=tmp_path / "api", **common)
    assert [u["status"] for u in in_memory.units] == ["done"]

    res = cli("run", "--suite", "core", "--model", f"tiny=hf:{saved}", "--cards", suite_root, "--tasks", "core-sent0",
              "--protocol", "finetune", "--max-steps", "4", "--runs-dir", tmp_path / "cli", "-q")
    assert res.code == 0, res.err
    from polyglue.runs.store import Store

    store = Store(tmp_path / "cli")
    try:
        (unit,) = store.units()
    finally:
        store.close()
    cli_numbers = {("core-sent0", "finetune", s, m): v for s, ms in unit["metrics"].items() for m, v in ms.items()}
    assert _headline(in_memory) == cli_numbers
    assert in_memory.units[0]["comparability"]["debug"] is True  # max_steps is a debug cap

    again = polyglue.evaluate("core", {"tiny": (model, tokenizer)}, runs_dir=tmp_path / "api", **common)
    assert _headline(again) == _headline(in_memory)  # resumed: same unit key, nothing recomputed
    frame = again.to_pandas()
    assert set(frame["split"]) == {"validation", "test"} and (frame["model"] == "tiny").all()
    assert again.to_dict()["leaderboard"]["rows"] == []  # a debug unit (max_steps) is never a leaderboard result


class MeanChars:
    """A text encoder object: character statistics as sentence vectors (no weights, an identity)."""

    def identity(self):
        return {"kind": "mean-chars", "version": 1}

    def encode(self, texts):
        return np.array([[len(t), sum(c.isupper() for c in t), t.count(" ")] for t in texts], dtype=np.float32)


def test_an_object_with_encode_runs_sentence_cards_and_matches_a_rerun(suite_root, tmp_path):
    first = polyglue.evaluate("core", {"chars": MeanChars()}, cards=[suite_root], runs_dir=tmp_path)
    assert {u["status"] for u in first.units} == {"done"}
    assert {u["protocol"] for u in first.units} == {"probe"}
    second = polyglue.evaluate("core", {"chars": MeanChars()}, cards=[suite_root], runs_dir=tmp_path)
    assert _headline(first) == _headline(second)
    (row,) = second.to_dict()["leaderboard"]["rows"]  # the numbers `bench report` prints
    unit = next(u for u in second.units if u["card"] == "core-sent0")
    assert row["model"] == "chars" and row["cells"]["core-sent0"]["mean"] == pytest.approx(100 * unit["metrics"]["test"]["accuracy"])


class NoEncode:
    def transform(self, texts):
        return texts


def test_an_object_without_the_protocol_gets_one_line_naming_the_missing_method(suite_root, tmp_path):
    with pytest.raises(UserError, match=r"NoEncode does not implement an encoder protocol: missing method encode\(texts\)"):
        polyglue.evaluate("core", {"x": NoEncode()}, cards=[suite_root], runs_dir=tmp_path)


class HalfSpeech:
    frame_shift_ms = 20.0

    def forward(self, wavs):
        return []


def test_a_half_speech_object_names_its_missing_method(suite_root, tmp_path):
    with pytest.raises(UserError, match=r"missing shape\(\)"):
        polyglue.evaluate("core", {"x": HalfSpeech()}, cards=[suite_root], runs_dir=tmp_path)


def test_unknown_settings_are_refused_with_the_allowed_names(suite_root, tmp_path):
    with pytest.raises(UserError, match="learning_rat. is not an overridable setting"):
        polyglue.evaluate("core", "bow", cards=[suite_root], runs_dir=tmp_path, learning_rat=1e-3)


def test_import_polyglue_alone_imports_no_torch():
    code = "import sys, polyglue; polyglue.__version__; print(sorted(m for m in ('torch', 'transformers', 'datasets') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "[]", out.stderr
