"""`bench add-language` from an installed polyglue (a built wheel, not this clone): the suite and its
language kit go to the user's own card directory, and validate/run find both there."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.contrib.test_newcomer_path import _fill_nli_card

RUN_INSTALLED = """
import json, sys
from pathlib import Path
import polyglue, polyglue.builtin_cards
site = Path(sys.argv[1]).resolve()
assert site in Path(polyglue.__file__).resolve().parents, polyglue.__file__
from polyglue.cli import main
code = main(sys.argv[2:])
print(json.dumps({"code": code, "builtin_cards": sorted(p.name for p in Path(polyglue.builtin_cards.__file__).parent.iterdir())}), file=sys.stderr)
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """polyglue built as a wheel from a copy of this checkout and unpacked as site-packages would hold it."""
    tmp = tmp_path_factory.mktemp("installed")
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in ("benchmarks", "langkits", "speech", "cards"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    (src / "cards" / "langkits").mkdir(exist_ok=True)
    (src / "cards" / "langkits" / "shipkit.py").write_text("from polyglue.langkits.kits import LangKit\n\n\nclass Kit(LangKit):\n    name = 'shipkit'\n", encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp / "wheel"), str(src)],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (wheel,) = (tmp / "wheel").glob("polyglue-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        zf.extractall(tmp / "site")
    return tmp / "site"


def bench_installed(site: Path, cwd: Path, *args) -> tuple[int, list[str], subprocess.CompletedProcess]:
    proc = subprocess.run(
        [sys.executable, "-c", RUN_INSTALLED, str(site), *map(str, args)],
        cwd=cwd, capture_output=True, text=True, timeout=300, env={**__import__("os").environ, "PYTHONPATH": str(site)},
    )
    status = json.loads(proc.stderr.strip().splitlines()[-1])
    return status["code"], status["builtin_cards"], proc


def test_the_wheel_ships_kits_that_sit_next_to_builtin_cards(site):
    assert (site / "polyglue" / "builtin_cards" / "langkits" / "shipkit.py").exists()


def test_add_language_from_an_installed_package_writes_to_the_users_card_directory(site, tmp_path):
    code, builtin, proc = bench_installed(site, tmp_path, "add-language", "eu", "--suite", "basqueglue", "--tasks", "nli=pair-classification")
    assert code == 0, proc.stderr
    assert (tmp_path / "cards" / "basqueglue" / "suite.yaml").exists()
    assert (tmp_path / "cards" / "langkits" / "eus.py").exists()
    assert "basqueglue" not in builtin  # nothing written into the installed package

    code, _, proc = bench_installed(site, tmp_path, "validate", "cards/basqueglue")
    assert code == 2 and "fill in the dataset on the Hugging Face Hub" in proc.stdout

    _fill_nli_card(tmp_path / "cards" / "basqueglue" / "basqueglue-nli.yaml")
    suite = tmp_path / "cards" / "basqueglue" / "suite.yaml"
    suite.write_text("name: basqueglue\nversion: 0.1.0\ntitle: Generated BasqueGLUE\ncards: [basqueglue-nli]\n", encoding="utf-8")
    code, _, proc = bench_installed(site, tmp_path, "validate", "cards/basqueglue")
    assert code == 0, proc.stdout + proc.stderr
    code, _, proc = bench_installed(site, tmp_path, "run", "--suite", "basqueglue", "--model", "bow", "--cards", "cards", "-q")
    assert code == 0, proc.stderr
    assert "1 unit(s): 1 run, 0 reused, 0 failed" in proc.stderr


def test_a_cards_folder_in_the_working_directory_does_not_hide_the_builtin_cards(tmp_path):
    (tmp_path / "cards").mkdir()
    script = "from polyglue.cards.registry import builtin_cards_dir; print(builtin_cards_dir())"
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert Path(proc.stdout.strip()) == REPO / "cards"
