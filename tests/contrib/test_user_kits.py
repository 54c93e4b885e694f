"""User language kits next to card folders: discovery, static checks, loading, and unit keys."""

from __future__ import annotations

import json

import pytest

from polyglue.cards.registry import Registry
from polyglue.errors import UserError
from polyglue.runs.plan import RunRequest, plan_run
from polyglue.langkits.registry import find_user_kit, get_kit
from tests.fixtures.contrib_data import local_source, nli_card, nli_rows, suite_body, write_jsonl, write_yaml

KIT = """from polyglue.langkits.kits import LangKit


class Kit(LangKit):
    name = "{name}"
    articles = ("{article}",)

    def normalize(self, text):
        {body}
"""


def _kit(folder, name="eus", article="bat", body="return text.upper()"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{name}.py").write_text(KIT.format(name=name, article=article, body=body), encoding="utf-8")


@pytest.fixture
def cards(tmp_path):
    root = tmp_path / "cards"
    for split, (n, seed) in {"train": (30, 1), "validation": (12, 2), "test": (12, 3)}.items():
        write_jsonl(root / "s" / "data" / f"{split}.jsonl", nli_rows(n, seed, start=seed * 100))
    write_yaml(root / "s" / "c.yaml", nli_card("c", local_source(), langkit="eus", protocol={"default": "probe"}))
    write_yaml(root / "s" / "suite.yaml", suite_body("s", ["c"]))
    _kit(root / "langkits")
    return root


def test_a_kit_in_the_card_directory_is_found_and_loaded(cards):
    kit = get_kit("eus", cards / "s" / "c.yaml")
    assert kit.normalize("kaixo") == "KAIXO"
    assert kit.answer_normalize("bat etxe") == "etxe"  # the kit's own article list


def test_a_kit_in_the_suite_folder_wins_over_the_shared_one(cards):
    _kit(cards / "s" / "langkits", article="hau", body="return text[::-1]")
    assert find_user_kit("eus", cards / "s" / "c.yaml") == cards / "s" / "langkits" / "eus.py"
    assert get_kit("eus", cards / "s" / "c.yaml").normalize("abc") == "cba"


def test_builtin_names_never_resolve_to_a_file(cards):
    _kit(cards / "langkits", name="cat")
    assert find_user_kit("cat", cards / "s" / "c.yaml") is None
    assert type(get_kit("cat", cards / "s" / "c.yaml")).__name__ == "CatalanKit"


def test_validate_reports_a_kit_without_a_kit_class_at_its_file(cli, cards):
    (cards / "langkits" / "eus.py").write_text("class Basque:\n    pass\n", encoding="utf-8")
    res = cli("validate", cards, "--format", "json")
    assert res.code == 2
    (problem,) = json.loads(res.out)["problems"]
    assert problem["file"].endswith("langkits/eus.py") and problem["line"] == 1
    assert "must define `class Kit(LangKit)`" in problem["message"]


def test_a_kit_class_that_is_not_a_langkit_is_refused_when_loaded(cards):
    (cards / "langkits" / "eus.py").write_text("class Kit:\n    pass\n", encoding="utf-8")
    with pytest.raises(UserError, match="must be a subclass of polyglue.langkits.kits.LangKit"):
        get_kit("eus", cards / "s" / "c.yaml")


def test_an_unknown_kit_says_where_a_new_one_goes(cli, cards):
    text = (cards / "s" / "c.yaml").read_text(encoding="utf-8").replace("langkit: eus", "langkit: eu")
    (cards / "s" / "c.yaml").write_text(text, encoding="utf-8")
    res = cli("validate", cards)
    assert res.code == 2
    assert "unknown language kit 'eu' (known: cat, default, ell-greekbert, zho, eus); did you mean 'eus'?" in res.out
    assert "a new kit goes in langkits/eu.py next to the card or its folder" in res.out


def test_editing_a_user_kit_makes_new_units(cards):
    def key():
        (task,) = plan_run(Registry.discover([cards], builtin=False), RunRequest(suite="s", models=["bow"])).tasks
        return task.key, task.protocol_config.get("langkit_sha256")

    before, kit_hash = key()
    assert kit_hash is not None and key()[0] == before
    _kit(cards / "langkits", body="return text.lower()")
    assert key()[0] != before


def test_the_runner_normalises_through_the_user_kit(cli, cards, tmp_path):
    _kit(cards / "langkits", body="raise RuntimeError('user kit eus was called')")
    res = cli("run", "--suite", "s", "--model", "bow", "--cards", cards, "--runs-dir", tmp_path / "runs", "-q")
    assert res.code == 1
    assert "user kit eus was called" in res.err
