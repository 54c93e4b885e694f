"""A pinned card's `--data-dir` folder without `manifest.json` is refused unless `--allow-unverified-data`;
with the flag its rows run and stay marked not comparable; a sealed mirror runs unmarked."""

from __future__ import annotations

import json

import pytest

from polyglue.errors import UserError
from tests.fixtures.text_mirrors import write_mirror


def _unit(runs):
    from polyglue.runs.store import Store

    store = Store(runs)
    try:
        [unit] = store.units(status=None)
    finally:
        store.close()
    return unit


def test_a_bare_copy_of_a_pinned_card_is_refused_at_planning_with_one_line(tmp_path):
    from polyglue.cards.registry import Registry
    from polyglue.runs.plan import RunRequest, plan_run

    data = write_mirror(tmp_path / "data", "glue", ["rte", "cola"], n=8, manifest=False)
    with pytest.raises(UserError) as err:
        plan_run(Registry.discover([]), RunRequest(suite="glue", models=["bow"], tasks=["rte", "cola"], data_dir=data))
    message = str(err.value)
    assert "\n" not in message
    assert str(data / "glue") in message and "(and 1 more card folder(s))" in message
    assert "no manifest.json" in message and f"bench fetch --suite glue --to {data}" in message and "--allow-unverified-data" in message


def test_the_cli_refuses_a_bare_copy_with_exit_2_naming_the_folder(cli, tmp_path):
    data = write_mirror(tmp_path / "data", "glue", ["rte"], n=8, manifest=False)
    result = cli("run", "--suite", "glue", "--tasks", "rte", "--model", "bow", "--data-dir", data, "--runs-dir", tmp_path / "runs", "-q")
    assert result.code == 2
    [line] = result.err.strip().splitlines()
    assert str(data / "glue" / "rte") in line and "manifest.json" in line and "--allow-unverified-data" in line
    assert not (tmp_path / "runs" / "polyglue.sqlite").exists()  # nothing ran


def test_with_the_flag_a_bare_copy_runs_and_its_row_is_marked_in_every_report(cli, tmp_path):
    data = write_mirror(tmp_path / "data", "glue", ["rte"], n=20, manifest=False)
    runs = tmp_path / "runs"
    result = cli("run", "--suite", "glue", "--tasks", "rte", "--model", "bow", "--data-dir", data, "--runs-dir", runs, "-q",
                 "--allow-unverified-data")
    assert result.code == 0, result.err
    mark = _unit(runs)["extras"]["comparability"]
    assert not mark["comparable"] and any("without a manifest.json" in r and str(data / "glue" / "rte") in r for r in mark["reasons"])
    md = cli("report", "--suite", "glue", "--runs-dir", runs)
    assert md.code == 0 and "without a manifest.json" in md.out
    out = tmp_path / "report.json"
    assert cli("report", "--suite", "glue", "--runs-dir", runs, "--format", "json", "--out", out).code == 0
    assert "without a manifest.json" in out.read_text(encoding="utf-8")


def test_a_mirror_with_its_manifest_runs_unmarked(cli, tmp_path):
    data = write_mirror(tmp_path / "data", "glue", ["rte"], n=20)
    runs = tmp_path / "runs"
    result = cli("run", "--suite", "glue", "--tasks", "rte", "--model", "bow", "--data-dir", data, "--runs-dir", runs, "-q")
    assert result.code == 0, result.err
    assert _unit(runs)["extras"]["comparability"]["comparable"]


def test_the_python_api_and_the_run_config_take_the_same_option(tmp_path):
    from polyglue import api
    from polyglue.runs.runconfig import load_config

    data = write_mirror(tmp_path / "data", "glue", ["rte"], n=8, manifest=False)
    with pytest.raises(UserError, match="no manifest.json"):
        api.plan("glue", "bow", tasks=["rte"], data_dir=data)
    planned, _ = api.plan("glue", "bow", tasks=["rte"], data_dir=data, allow_unverified_data=True)
    assert not planned.tasks[0].comparability["comparable"]
    config = tmp_path / "run.yaml"
    config.write_text(json.dumps({"suites": ["glue"], "models": ["bow"], "allow_unverified_data": True}), encoding="utf-8")
    assert load_config(config).allow_unverified_data is True


def test_a_run_config_with_allow_unverified_data_runs_a_bare_copy(cli, tmp_path):
    write_mirror(tmp_path / "data", "glue", ["rte"], n=20, manifest=False)
    config = tmp_path / "run.yaml"
    body = {"suites": ["glue"], "models": ["bow"], "tasks": ["rte"], "data_dir": "data", "runs_dir": "runs"}
    config.write_text(json.dumps(body), encoding="utf-8")
    refused = cli("run", "--config", config, "-q")
    assert refused.code == 2 and "--allow-unverified-data" in refused.err
    config.write_text(json.dumps({**body, "allow_unverified_data": True}), encoding="utf-8")
    result = cli("run", "--config", config, "-q")
    assert result.code == 0, result.err
    assert not _unit(tmp_path / "runs")["extras"]["comparability"]["comparable"]
