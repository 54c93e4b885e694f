"""Entry-point plugins: a small package installed for real (pip) adds an encoder kind, a runner and a
language kit; `bench list models` shows them with their package; a card runs with them; a plugin
that fails to import is named without breaking other commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.fixtures.core_suite import write_suite

PLUGIN = '''
import numpy as np
from polyglue.contract import RunContext, UnitResult
from polyglue.encoders import EncoderKind
from polyglue.langkits.kits import LangKit

KIND = EncoderKind("lengths", "text: sentence length features (a test plugin)", frozenset({"text"}),
                   text_factory="polyglue_lengths:build")


class Lengths:
    def encode(self, texts):
        return np.array([[len(t), t.count(" ")] for t in texts], dtype=np.float32)


def build(spec, ctx):
    return Lengths()


def majority(ctx: RunContext) -> UnitResult:
    """Predict the most frequent training label (a test protocol)."""
    from polyglue import metrics
    from polyglue.langkits import inputs

    train = inputs.targets(ctx.card, ctx.train_data.split("train"))
    top = int(np.bincount(train).argmax())
    out = {}
    for role in ctx.card.splits.scored_roles():
        gold = inputs.targets(ctx.card, ctx.data.split(role))
        out[role] = metrics.compute(ctx.card.metrics, gold, np.full(len(gold), top))
    return UnitResult(metrics=out, extras={"majority": ctx.card.labels[top], "kit": type(ctx.kit).__name__})


RUNNERS = {("single-classification", "majority"): majority}


class ShoutKit(LangKit):
    name = "shout"
'''

PYPROJECT = '''
[build-system]
requires = ["setuptools>=69"]
build-backend = "setuptools.build_meta"

[project]
name = "polyglue-lengths"
version = "0.3.0"

[tool.setuptools]
py-modules = ["polyglue_lengths", "polyglue_broken"]

[project.entry-points."polyglue.encoders"]
lengths = "polyglue_lengths:KIND"
broken = "polyglue_broken:KIND"

[project.entry-points."polyglue.runners"]
lengths = "polyglue_lengths:RUNNERS"

[project.entry-points."polyglue.langkits"]
shout = "polyglue_lengths:ShoutKit"
'''


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The plugin installed by pip into its own site folder (put on PYTHONPATH of the test's `bench`)."""
    tmp = tmp_path_factory.mktemp("plugin")
    src = tmp / "src"
    src.mkdir()
    (src / "pyproject.toml").write_text(PYPROJECT)
    (src / "polyglue_lengths.py").write_text(PLUGIN)
    (src / "polyglue_broken.py").write_text("raise ImportError('this plugin is broken on purpose')\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-compile", "-q",
         "--disable-pip-version-check", "--target", str(tmp / "site"), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return tmp / "site"


def bench(site, *args, cwd):
    code = "import sys; from polyglue.cli import main; sys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_list_models_shows_the_plugin_kind_with_its_package_and_names_the_broken_one(site, tmp_path):
    proc = bench(site, "list", "models", "--format", "json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    rows = {r["model"]: r for r in json.loads(proc.stdout)}
    assert rows["lengths"]["package"] == "polyglue-lengths 0.3.0"
    assert rows["bow"]["package"] == "polyglue"
    assert "encoder plugin 'broken' cannot be used" in proc.stderr and "broken on purpose" in proc.stderr
    other = bench(site, "list", "suites", cwd=tmp_path)
    assert other.returncode == 0 and "glue" in other.stdout


def test_a_card_runs_with_the_plugin_encoder_runner_and_kit(site, tmp_path):
    root = write_suite(tmp_path, n_cards=1, sizes=(40, 20, 20))
    card = root / "core" / "core-sent0.yaml"
    card.write_text(card.read_text().replace("protocol:\n  default: probe", "protocol:\n  default: probe\nlangkit: shout"))
    assert bench(site, "validate", root, cwd=tmp_path).returncode == 0
    runs = tmp_path / "runs"
    proc = bench(site, "run", "--suite", "core", "--cards", root, "--tasks", "core-sent0", "--model", "lengths",
                 "--runs-dir", runs, "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = bench(site, "run", "--suite", "core", "--cards", root, "--tasks", "core-sent0", "--model", "bow",
                 "--protocol", "majority", "--runs-dir", runs, "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    import sqlite3

    with sqlite3.connect(runs / "polyglue.sqlite") as db:
        rows = {(enc, proto): json.loads(extras) for enc, proto, extras in db.execute("SELECT encoder, protocol, extras_json FROM units")}
    assert set(rows) == {("lengths", "probe"), ("bow", "majority")}
    assert rows[("bow", "majority")]["kit"] == "ShoutKit"
    assert rows[("bow", "majority")]["comparability"]["comparable"] is False  # not the card's own protocol


def test_a_kind_from_a_broken_plugin_is_one_line(site, tmp_path):
    root = write_suite(tmp_path, n_cards=1, sizes=(40, 20, 20))
    proc = bench(site, "run", "--suite", "core", "--cards", root, "--model", "broken", "--runs-dir", tmp_path / "r", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "plugin that cannot be used" in proc.stderr
