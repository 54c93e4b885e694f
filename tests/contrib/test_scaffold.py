"""`bench add-language`: language codes, stubs for every task type, TODO messages, refusals."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from polyglue.cards.registry import load_file
from polyglue.scaffold import TASK_STUBS, add_language, resolve_language
from polyglue.errors import UserError

SHA = "0123456789abcdef0123456789abcdef01234567"


def _fill(data: dict) -> dict:
    """Replace every TODO of a card stub with a plausible value, as an author would."""
    data = dict(data)
    data["title"] = "Filled stub"
    data["source"] = {"hub": {"path": "some-org/some-dataset", "revision": SHA}}
    data["fields"] = {role: role + "_col" for role in data["fields"].values()}
    data["fields"] = {col: role for role, col in data["fields"].items()}
    if "labels" in data:
        data["labels"] = ["a", "b"]
    data["license"] = "cc-by-4.0"
    data["citation"] = "A. Author. A dataset. 2024."
    data["reference"] = "https://example.org/dataset"
    return data


@pytest.mark.parametrize("task", sorted(TASK_STUBS))
def test_given_a_task_type_when_scaffolded_then_only_todos_fail_and_filling_them_validates(tmp_path, task):
    add_language("eu", "s1", f"x={task}", tmp_path / "cards")
    path = tmp_path / "cards" / "s1" / "s1-x.yaml"
    model, _doc, problems = load_file(path)
    assert model is None
    assert problems and all(p.message.startswith("fill in ") for p in problems), [p.render() for p in problems]
    assert {"title", "source.hub.path", "source.hub.revision", "license", "citation", "reference"} <= {p.field for p in problems}

    filled = tmp_path / "filled.yaml"
    filled.write_text(yaml.safe_dump(_fill(yaml.safe_load(path.read_text(encoding="utf-8")))), encoding="utf-8")
    model, _doc, problems = load_file(filled)
    assert problems == []
    assert model.task == task and model.languages == ["eus"] and model.langkit == "eus"


@pytest.mark.parametrize(
    "code, expected",
    [("eu", "eus"), ("eus", "eus"), ("EU", "eus"), ("baq", "eus"), ("el-Grek", "ell-Grek"), ("zh-hans", "zho-Hans")],
)
def test_language_codes_resolve_to_iso639_3(code, expected):
    assert resolve_language(code).code == expected


@pytest.mark.parametrize(
    "code, message",
    [
        ("basque", "did you mean 'eus' (Basque)?"),
        ("xq", "'xq' is not an ISO 639-1 language code"),
        ("qqq", "'qqq' is not an ISO 639-3 language code"),
        ("eu-Xxxx", "'Xxxx' is not an ISO 15924 script code"),
        ("e1", "is not a language code"),
    ],
)
def test_bad_language_codes_are_refused_with_a_hint(code, message):
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        resolve_language(code)


def test_cli_writes_suite_cards_kit_and_checklist(cli, tmp_path):
    to = tmp_path / "cards"
    res = cli("add-language", "eu", "--suite", "basqueglue", "--tasks", "nli=pair-classification,sts=regression", "--to", to)
    assert res.code == 0, res.err
    suite = yaml.safe_load((to / "basqueglue" / "suite.yaml").read_text(encoding="utf-8"))
    assert suite["cards"] == ["basqueglue-nli", "basqueglue-sts"]
    assert suite["name"] == "basqueglue" and suite["references"] == []
    sts = yaml.safe_load((to / "basqueglue" / "basqueglue-sts.yaml").read_text(encoding="utf-8"))
    assert sts["task"] == "regression" and "labels" not in sts and sts["main_metric"] == "pearson_spearman_mean"
    kit = (to / "langkits" / "eus.py").read_text(encoding="utf-8")
    assert "class Kit(LangKit)" in kit and 'name = "eus"' in kit
    checklist = (to / "basqueglue" / "CHECKLIST.md").read_text(encoding="utf-8")
    for item in ("Licence checked", "Revision pinned", "--model bow --model hf:", "published number reproduced"):
        assert item in checklist
    assert f"wrote {to / 'basqueglue' / 'suite.yaml'}" in res.out


def test_given_an_existing_suite_folder_then_nothing_is_overwritten(cli, tmp_path):
    to = tmp_path / "cards"
    assert cli("add-language", "eu", "--suite", "basqueglue", "--to", to).code == 0
    suite_file = to / "basqueglue" / "suite.yaml"
    suite_file.write_text("# my edits\n", encoding="utf-8")
    again = cli("add-language", "eu", "--suite", "basqueglue", "--to", to)
    assert again.code == 2
    assert "already exists; refusing to overwrite" in again.err
    assert suite_file.read_text(encoding="utf-8") == "# my edits\n"


def test_given_a_second_suite_for_the_language_then_the_existing_kit_is_reused(cli, tmp_path):
    to = tmp_path / "cards"
    assert cli("add-language", "eu", "--suite", "first", "--to", to).code == 0
    kit = to / "langkits" / "eus.py"
    kit.write_text(kit.read_text(encoding="utf-8") + "# reviewed\n", encoding="utf-8")
    res = cli("add-language", "eus", "--suite", "second", "--to", to)
    assert res.code == 0
    assert "uses the existing language kit" in res.out
    assert kit.read_text(encoding="utf-8").endswith("# reviewed\n")


def test_given_a_language_with_a_builtin_kit_then_no_kit_file_is_written(tmp_path):
    result = add_language("ca", "catx", "single-classification", tmp_path / "cards")
    assert not (tmp_path / "cards" / "langkits").exists()
    card = yaml.safe_load((tmp_path / "cards" / "catx" / "catx-single-classification.yaml").read_text(encoding="utf-8"))
    assert card["langkit"] == "cat" and card["languages"] == ["cat"]
    assert "built-in language kit 'cat'" in result.kit_note


@pytest.mark.parametrize("complete", [True, False], ids=["valid card", "unfinished stub"])
def test_given_a_card_name_in_use_then_scaffolding_is_refused(tmp_path, complete):
    to = tmp_path / "cards"
    add_language("eu", "one", "nli=pair-classification", to)
    other = to / "elsewhere" / "two-nli.yaml"
    other.parent.mkdir()
    body = yaml.safe_load((to / "one" / "one-nli.yaml").read_text(encoding="utf-8"))
    other.write_text(yaml.safe_dump(_fill(body) | {"name": "two-nli"} if complete else body | {"name": "two-nli"}), encoding="utf-8")
    with pytest.raises(UserError, match=r"card name\(s\) already used: 'two-nli'"):
        add_language("eu", "two", "nli=pair-classification", to)
    assert not (to / "two").exists()


@pytest.mark.parametrize(
    "tasks, message",
    [
        ("pair-clasification", "did you mean 'pair-classification'"),
        ("speaker-verification", "needs trial lists"),
        ("a=asr,a=asr", "two cards would be named 's-a'"),
        ("Bad Name=asr", "must be lower-case"),
    ],
)
def test_bad_task_lists_are_refused(tmp_path, tasks, message):
    with pytest.raises(UserError, match=message):
        add_language("eu", "s", tasks, tmp_path / "cards")
    assert not (tmp_path / "cards" / "s").exists()


def test_add_language_and_validate_import_no_heavy_library(tmp_path):
    script = (
        "import json, sys\n"
        "from polyglue.cli import main\n"
        f"codes = [main(['add-language', 'eu', '--suite', 'light', '--to', {str(tmp_path / 'cards')!r}]),\n"
        f"         main(['validate', {str(tmp_path / 'cards')!r}])]\n"
        "heavy = ('torch', 'transformers', 'datasets', 'torchaudio', 'sklearn', 'pyarrow', 'numpy')\n"
        "print(json.dumps({'codes': codes, 'loaded': sorted(m for m in heavy if m in sys.modules)}))\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    status = json.loads(proc.stdout.strip().splitlines()[-1])
    assert status == {"codes": [0, 2], "loaded": []}, proc.stderr
