"""Shared test fixtures: offline environment, a private cache, the CLI, tiny models."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["HF_DATASETS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """Every test session gets its own feature cache; nothing touches ~/.cache."""
    monkeypatch.setenv("POLYGLUE_CACHE", str(tmp_path_factory.getbasetemp() / "polyglue-cache"))
    monkeypatch.delenv("POLYGLUE_CARDS", raising=False)


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """Run `bench ARGS...` in-process through the real entry point (error boundary included)."""
    from polyglue.cli import main

    def run(*args) -> CliResult:
        capsys.readouterr()
        code = main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


TINY_CORPUS = [
    "la pel·lícula va ser excel·lent i el sopar també",
    "η ταινία ήταν υπέροχη και το δείπνο επίσης",
    "这部电影非常精彩，晚饭也很好。",
    "the film was excellent and so was the dinner",
    "el llibre era avorrit però l'hotel era agradable",
    "το βιβλίο ήταν βαρετό αλλά το ξενοδοχείο ήταν ευχάριστο",
    "这本书很无聊，但是酒店很愉快。",
] * 5


@pytest.fixture(scope="session")
def tiny_bert(tmp_path_factory) -> Path:
    """A tiny random BERT with a WordPiece vocabulary over Catalan, Greek, Chinese and English text."""
    from polyglue.langkits.encoders.tiny import build_tiny_bert

    return build_tiny_bert(tmp_path_factory.mktemp("tiny-bert"), TINY_CORPUS, vocab_size=300, hidden_size=32)
