"""The contributor CI assets do what they claim: the workflow's light install covers what
`bench validate` imports, and the pre-commit hook's entry fails on a broken staged card."""

from __future__ import annotations

import importlib.metadata as md
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.contrib.test_changed import GIT_ENV, git
from tests.fixtures.contrib_data import local_source, nli_card, nli_rows, suite_body, write_jsonl, write_yaml

WORKFLOW = REPO / ".github" / "workflows" / "cards.yml"
HOOKS = REPO / ".pre-commit-hooks.yaml"
BENCH = Path(sys.executable).parent / "bench"

PROBE = """
import json, sys, sysconfig
from pathlib import Path
from polyglue.cli import main
code = main(sys.argv[1:])
site = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
third_party = set()  # the top-level folder or file in site-packages that each loaded module comes from
for mod in list(sys.modules.values()):
    path = Path(getattr(mod, "__file__", None) or "/").resolve()
    for root in site:
        if root in path.parents:
            head = path.relative_to(root).parts[0]
            third_party.add(head[:-3] if head.endswith(".py") else head.split(".")[0])
third_party = sorted(third_party)
print(json.dumps({"code": code, "modules": third_party}), file=sys.stderr)
"""
#: Modules a listed package imports only when they happen to be installed (absent in CI, harmless).
OPTIONAL_IMPORTS = {"cloudpickle": "pyarrow imports it when it is installed", "_distutils_hack": "setuptools' .pth hook"}


def _name(req: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0].lower().replace("_", "-")


def _closure(names: list[str]) -> set[str]:
    """The listed distributions and everything they require (extras and markers for other platforms skipped)."""
    todo, seen = [n.lower().replace("_", "-") for n in names], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = md.requires(name) or []
        except md.PackageNotFoundError:  # a requirement for another platform (colorama on Windows): never imported here
            continue
        for req in requires:
            if "extra ==" in req:
                continue
            todo.append(_name(req))
    return seen


def _install_step(job: dict) -> list[str]:
    step = next(s for s in job["steps"] if s.get("name", "").startswith("Install"))
    line = next(l for l in step["run"].splitlines() if "-c constraints.txt" in l)
    return [w for w in shlex.split(line)[line.split().index("constraints.txt") + 1 :] if not w.startswith("-")]


def _top_level_modules(dists: set[str]) -> set[str]:
    """Importable top-level names the installed distributions provide (from their RECORD)."""
    names = set()
    for dist in dists:
        try:
            files = md.distribution(dist).files or []
        except md.PackageNotFoundError:
            continue
        for f in files:
            head = f.parts[0]
            if head.endswith((".dist-info", ".egg-info", ".data", ".pth")) or head in ("..", "__pycache__"):
                continue
            names.add(head[:-3] if head.endswith(".py") else head.split(".")[0])
    return names


def _not_installed_by(job: str, args: list[str], cwd: Path) -> set[str]:
    """Third-party modules `bench ARGS` imports that the workflow job's install step does not provide."""
    proc = subprocess.run([sys.executable, "-c", PROBE, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=120, env={**os.environ, **GIT_ENV})
    status = json.loads(proc.stderr.strip().splitlines()[-1])
    assert status["code"] == 0, proc.stderr
    listed = _install_step(yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))["jobs"][job])
    own = {m for m in status["modules"] if m.startswith("__editable__")}  # the finder of `pip install -e .` itself
    return set(status["modules"]) - own - _top_level_modules(_closure(listed)) - set(OPTIONAL_IMPORTS)


@pytest.fixture
def card_repo(tmp_path):
    root = tmp_path / "repo"
    for split, (n, seed) in {"train": (12, 1), "validation": (6, 2), "test": (6, 3)}.items():
        write_jsonl(root / "cards" / "s" / "data" / f"{split}.jsonl", nli_rows(n, seed, start=seed * 100))
    write_yaml(root / "cards" / "s" / "suite.yaml", suite_body("s", ["c"]))
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "suite")
    return root


def test_workflow_runs_validate_changed_on_pull_requests():
    wf = yaml.safe_load(WORKFLOW.read_text(encoding="utf-8"))
    triggers = wf.get("on", wf.get(True))  # YAML 1.1 reads the key `on` as true
    assert "cards/**" in triggers["pull_request"]["paths"]
    runs = [s["run"] for s in wf["jobs"]["validate"]["steps"] if "run" in s]
    assert any(r.startswith("bench validate --changed --base \"origin/${{ github.base_ref }}\"") for r in runs)
    checkout = wf["jobs"]["validate"]["steps"][0]
    assert checkout["uses"].startswith("actions/checkout") and checkout["with"]["fetch-depth"] == 0
    for job in wf["jobs"].values():
        assert not {"torch", "transformers"} & set(_install_step(job))


def test_the_light_install_covers_everything_validate_changed_imports(card_repo):
    write_yaml(card_repo / "cards" / "s" / "c.yaml", nli_card("c", local_source()))
    assert _not_installed_by("validate", ["validate", "--changed", "--base", "HEAD", "--cards", "cards"], card_repo) == set()


def test_the_data_install_covers_what_check_data_imports(card_repo):
    write_yaml(card_repo / "cards" / "s" / "c.yaml", nli_card("c", local_source()))
    args = ["validate", "--changed", "--base", "HEAD", "--check-data", "--cards", "cards"]
    assert _not_installed_by("data", args, card_repo) == set()


def test_github_format_prints_annotations(cli, tmp_path):
    write_yaml(tmp_path / "cards" / "c.yaml", nli_card("c", local_source(), title="TODO: a title, with a comma"))
    res = cli("validate", tmp_path / "cards", "--format", "github")
    assert res.code == 2
    assert res.out.strip() == f"::error file={tmp_path / 'cards' / 'c.yaml'},line=3,title=title::fill in a title, with a comma"


def test_pre_commit_hook_fails_on_a_broken_staged_card_and_passes_once_fixed(card_repo):
    (hook,) = yaml.safe_load(HOOKS.read_text(encoding="utf-8"))
    pattern = re.compile(hook["files"])
    assert pattern.search("cards/basqueglue/nli.yaml") and pattern.search("cards/langkits/eus.py")
    assert not pattern.search("benchmarks/cli/cmd_cards.py")
    assert hook["pass_filenames"] is False
    argv = shlex.split(hook["entry"]) + ["--cards", "cards"]  # the `args:` of the sample config in CONTRIBUTING.md
    assert argv[0] == "bench"
    env = {**os.environ, **GIT_ENV, "PATH": f"{BENCH.parent}{os.pathsep}{os.environ['PATH']}"}

    write_yaml(card_repo / "cards" / "s" / "c.yaml", nli_card("c", local_source(), main_metric="f1"))
    git(card_repo, "add", "-A")
    broken = subprocess.run(argv, cwd=card_repo, capture_output=True, text=True, env=env, timeout=120)
    assert broken.returncode == 2
    assert "cards/s/c.yaml:" in broken.stdout and "main_metric" in broken.stdout

    write_yaml(card_repo / "cards" / "s" / "c.yaml", nli_card("c", local_source()))
    git(card_repo, "add", "-A")
    fixed = subprocess.run(argv, cwd=card_repo, capture_output=True, text=True, env=env, timeout=120)
    assert fixed.returncode == 0, fixed.stdout + fixed.stderr
    assert "2 file(s) checked: 0 error(s)" in fixed.stderr
