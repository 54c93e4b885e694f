"""`bench validate --changed` picks exactly the changed cards (and what they can break) in a git repository."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.fixtures.contrib_data import local_source, nli_card, suite_body, write_yaml

GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.org",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.org",
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
}


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True, text=True, env={**os.environ, **GIT_ENV}).stdout


KIT = "from polyglue.langkits.kits import LangKit\n\n\nclass Kit(LangKit):\n    name = 'eus'\n    articles = ()\n"


@pytest.fixture
def repo(tmp_path, monkeypatch):
    """main: suites s1 (a, b) and s2 (c, d); card d uses the user kit `eus`."""
    root = tmp_path / "repo"
    cards = root / "cards"
    for suite, names in {"s1": ["a", "b"], "s2": ["c", "d"]}.items():
        write_yaml(cards / suite / "suite.yaml", suite_body(suite, names))
        for name in names:
            write_yaml(cards / suite / f"{name}.yaml", nli_card(name, local_source(), langkit="eus" if name == "d" else "default"))
    (cards / "langkits").mkdir()
    (cards / "langkits" / "eus.py").write_text(KIT, encoding="utf-8")
    (root / "README.md").write_text("not a card\n", encoding="utf-8")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "cards")
    monkeypatch.chdir(root)
    monkeypatch.delenv("GITHUB_BASE_REF", raising=False)
    return root


def changed(cli, *args):
    res = cli("validate", "--changed", "--cards", "cards", "--format", "json", *args)
    body = json.loads(res.out)
    return res.code, body["files"], body["problems"]


def test_json_output_names_the_base_and_the_changed_files(cli, repo):
    (repo / "cards" / "s2" / "c.yaml").unlink()
    (repo / "cards" / "langkits" / "eus.py").write_text(KIT + "# reviewed\n", encoding="utf-8")
    body = json.loads(cli("validate", "--changed", "--base", "HEAD", "--cards", "cards", "--format", "json").out)
    assert body["base"] == "HEAD" and body["merge_base"] == git(repo, "rev-parse", "HEAD").strip()
    assert body["changed"] == ["cards/langkits/eus.py", "cards/s2/c.yaml"]


def test_given_an_edited_card_then_it_and_its_suite_are_checked(cli, repo):
    path = repo / "cards" / "s1" / "a.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("Generated NLI card a", "Edited title"), encoding="utf-8")
    code, files, problems = changed(cli, "--base", "HEAD")
    assert (code, problems) == (0, [])
    assert files == ["cards/s1/a.yaml", "cards/s1/suite.yaml"]


def test_given_a_commit_on_a_branch_then_the_merge_base_with_main_is_the_reference(cli, repo):
    git(repo, "checkout", "-q", "-b", "feature")
    write_yaml(repo / "cards" / "s2" / "c.yaml", nli_card("c", local_source(), metrics=["accuracy", "bleu"]))
    git(repo, "commit", "-q", "-am", "break c")
    git(repo, "checkout", "-q", "main")
    (repo / "README.md").write_text("main moved on\n", encoding="utf-8")
    git(repo, "commit", "-q", "-am", "unrelated")
    git(repo, "checkout", "-q", "feature")
    code, files, problems = changed(cli, "--base", "main")
    assert code == 2
    assert files == ["cards/s2/c.yaml", "cards/s2/suite.yaml"]
    assert [(p["file"], p["field"]) for p in problems] == [("cards/s2/c.yaml", "metrics[1]"), ("cards/s2/suite.yaml", "cards[0]")]
    assert problems[1]["message"] == "card 'c' does not load; fix cards/s2/c.yaml first"
    # Without --base, `main` is found on its own (no origin here).
    assert changed(cli)[1] == files


def test_given_a_new_untracked_suite_then_only_it_is_checked(cli, repo):
    write_yaml(repo / "cards" / "s3" / "suite.yaml", suite_body("s3", ["e"]))
    write_yaml(repo / "cards" / "s3" / "e.yaml", nli_card("e", local_source()))
    code, files, problems = changed(cli, "--base", "HEAD")
    assert (code, problems) == (0, [])
    assert files == ["cards/s3/e.yaml", "cards/s3/suite.yaml"]


def test_given_a_deleted_card_then_the_suite_that_lists_it_fails(cli, repo):
    (repo / "cards" / "s2" / "c.yaml").unlink()
    code, files, problems = changed(cli, "--base", "HEAD")
    assert code == 2
    assert files == ["cards/s2/suite.yaml"]
    # (a suggestion may follow: the built-in cards include similar names such as CLUE's `c3`)
    assert [p["message"].split(";")[0] for p in problems] == ["unknown card 'c'"]


def test_given_an_edited_language_kit_then_the_cards_using_it_are_checked(cli, repo):
    (repo / "cards" / "langkits" / "eus.py").write_text("class Kit(LangKit:\n", encoding="utf-8")
    code, files, problems = changed(cli, "--base", "HEAD")
    assert code == 2
    assert files == ["cards/langkits/eus.py", "cards/s2/d.yaml", "cards/s2/suite.yaml"]
    assert [(p["file"], p["line"]) for p in problems] == [("cards/langkits/eus.py", 1)]
    assert "Python syntax error" in problems[0]["message"]


def test_given_a_new_card_reusing_a_name_then_both_files_are_checked(cli, repo):
    write_yaml(repo / "cards" / "s3" / "b.yaml", nli_card("b", local_source()))  # `b` already lives in s1
    code, files, problems = changed(cli, "--base", "HEAD")
    assert code == 2
    assert files == ["cards/s1/b.yaml", "cards/s1/suite.yaml", "cards/s3/b.yaml"]
    assert len(problems) == 1 and "is also defined in" in problems[0]["message"]


def test_given_no_change_then_nothing_is_checked_and_it_passes(cli, repo):
    (repo / "README.md").write_text("docs only\n", encoding="utf-8")
    res = cli("validate", "--changed", "--base", "HEAD", "--cards", "cards")
    assert res.code == 0
    assert "no card, suite or language kit changed" in res.err
    assert "0 file(s) checked" in res.err


def test_changed_outside_git_and_unknown_refs_are_one_line_errors(cli, repo, tmp_path, monkeypatch):
    bad = cli("validate", "--changed", "--base", "no-such-branch", "--cards", "cards")
    assert bad.code == 2 and "--base no-such-branch: no such git ref" in bad.err
    elsewhere = tmp_path / "plain"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    res = cli("validate", "--changed", "--base", "HEAD", "--cards", str(repo / "cards"))
    assert res.code == 2 and "needs a git checkout" in res.err
    assert "Traceback" not in res.err


def test_a_missing_card_directory_is_still_reported(cli, tmp_path):
    res = cli("validate", "--cards", tmp_path / "nope")
    assert res.code == 2
    assert "card directory does not exist" in res.out


def test_before_the_first_commit_every_staged_card_is_new(cli, tmp_path, monkeypatch):
    root = tmp_path / "fresh"
    write_yaml(root / "cards" / "s" / "suite.yaml", suite_body("s", ["a"]))
    write_yaml(root / "cards" / "s" / "a.yaml", nli_card("a", local_source()))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    monkeypatch.chdir(root)
    code, files, problems = changed(cli, "--base", "HEAD")
    assert (code, problems) == (0, [])
    assert files == ["cards/s/a.yaml", "cards/s/suite.yaml"]
