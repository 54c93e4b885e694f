"""XQuAD-ca evaluates the model the ViquiQuAD unit trained (same encoder, seed, settings): trained once.

A tiny random BERT, 2 optimisation steps on 16 generated rows. Training calls are counted by
wrapping `polyglue.langkits.training.train` (the runner imports it at call time).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from polyglue.cards.registry import Registry
from polyglue.runs.models import KeptModels
from polyglue.runs.store import Store

COMMON = ["--suite", "club", "--max-steps", "2", "--limit", "16", "--seeds", "1", "-q"]


@pytest.fixture
def trains(monkeypatch):
    """Counts calls of the training loop."""
    from polyglue.langkits import training

    calls: list[int] = []
    real = training.train

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(training, "train", counting)
    return calls


@pytest.fixture
def bench(cli, text_data, text_bert):
    def run(runs_dir: Path, tasks: str, *extra):
        result = cli("run", *COMMON, "--tasks", tasks, "--model", f"tiny=hf:{text_bert}", "--protocol", "finetune",
                     "--data-dir", text_data, "--runs-dir", runs_dir, *extra)
        assert result.code == 0, result.err
        store = Store(runs_dir)
        try:
            return {u["card"]: u for u in store.units(status=None)}
        finally:
            store.close()

    return run


def _extras(unit) -> dict:
    extras = unit["extras"]
    return json.loads(extras) if isinstance(extras, str) else extras


def _metrics(unit) -> dict:
    metrics = unit["metrics"]
    return json.loads(metrics) if isinstance(metrics, str) else metrics


def _plan(text_data, text_bert, tasks):
    from polyglue.runs.plan import RunRequest, plan_run

    req = RunRequest(suite="club", models=[f"tiny=hf:{text_bert}"], tasks=tasks, protocol="finetune", seeds=1,
                     data_dir=Path(text_data), device="cpu", overrides={"max_steps": 2, "limit": 16})
    return {t.unit.card: t for t in plan_run(Registry.discover(), req).tasks}


def test_the_reuse_key_is_the_source_units_key_and_ties_the_transfer_unit_to_it(text_data, text_bert):
    both = _plan(text_data, text_bert, ["viquiquad", "xquad-ca"])
    alone = _plan(text_data, text_bert, ["xquad-ca"])
    assert both["viquiquad"].trained_model == both["viquiquad"].key
    assert both["xquad-ca"].trained_model == both["viquiquad"].key == alone["xquad-ca"].trained_model
    assert both["xquad-ca"].protocol_config["source_model"]
    # Other cards keep nothing; a changed training setting is another model.
    assert _plan(text_data, text_bert, ["teca"])["teca"].trained_model is None
    from polyglue.runs.plan import RunRequest, plan_run

    other = plan_run(Registry.discover(), RunRequest(suite="club", models=[f"tiny=hf:{text_bert}"], tasks=["xquad-ca"], protocol="finetune",
                                                     seeds=1, data_dir=Path(text_data), device="cpu", overrides={"max_steps": 3, "limit": 16}))
    assert other.tasks[0].trained_model != both["xquad-ca"].trained_model
    assert other.tasks[0].key != both["xquad-ca"].key


def test_xquad_after_viquiquad_trains_once_and_scores_as_training_its_own_copy(bench, trains, tmp_path, text_data, text_bert):
    units = bench(tmp_path / "runs", "viquiquad,xquad-ca")
    assert len(trains) == 1
    source, transfer = units["viquiquad"], units["xquad-ca"]
    assert source["status"] == transfer["status"] == "done"
    kept = _extras(source)["trained_model"]
    assert kept["trained_here"] and kept["source_unit"] == source["key"]
    reused = _extras(transfer)["trained_model"]
    assert reused == {"source_unit": source["key"], "path": kept["path"], "trained_here": False}
    assert _extras(transfer)["selection"]["on"] == "viquiquad validation"
    assert (tmp_path / "runs" / kept["path"] / "model.safetensors").is_file()

    # The old path: the transfer unit trains its own copy (no runs dir, so nothing is kept or reused).
    from polyglue.runs.execute import execute

    own = execute(_plan(text_data, text_bert, ["xquad-ca"])["xquad-ca"])
    assert len(trains) == 2 and "trained_model" not in own.extras
    assert own.metrics == _metrics(transfer)
    assert own.extras["selection"]["history"] == _extras(transfer)["selection"]["history"]


def test_reruns_and_a_second_order_train_nothing_again(bench, trains, tmp_path):
    runs = tmp_path / "runs"
    first = bench(runs, "xquad-ca")  # the source unit is not in the run: trained once, kept for it
    assert len(trains) == 1 and _extras(first["xquad-ca"])["trained_model"]["trained_here"]
    units = bench(runs, "viquiquad,xquad-ca")
    assert len(trains) == 1 and not _extras(units["viquiquad"])["trained_model"]["trained_here"]
    bench(runs, "viquiquad,xquad-ca", "--force")  # recomputed units still evaluate the kept model
    assert len(trains) == 1


def test_a_corrupt_or_half_written_model_is_never_read(bench, trains, tmp_path):
    runs = tmp_path / "runs"
    units = bench(runs, "viquiquad")
    key = units["viquiquad"]["key"]
    folder = runs / _extras(units["viquiquad"])["trained_model"]["path"]
    kept = KeptModels(runs, key)
    assert kept.load() is not None
    weights = folder / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    assert kept.load() is None
    again = bench(runs, "xquad-ca")
    assert len(trains) == 2 and _extras(again["xquad-ca"])["trained_model"]["trained_here"]
    assert kept.load() is not None  # replaced by a complete copy
    # A folder without its manifest (a copy interrupted before the rename never has one) is not a model.
    (folder / "manifest.json").unlink()
    assert kept.load() is None
    assert KeptModels(runs, "0" * 32).load() is None


def test_two_processes_sharing_a_runs_dir_train_the_model_once(tmp_path, text_data, text_bert):
    """ViquiQuAD and XQuAD-ca started at the same time in two `bench run` processes: one trains, the other waits and loads."""
    import os
    import subprocess
    import sys

    runs = tmp_path / "runs"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    procs = [
        subprocess.Popen([str(Path(sys.executable).with_name("bench")), "run", *COMMON, "--tasks", card, "--model", f"tiny=hf:{text_bert}",
                          "--protocol", "finetune", "--data-dir", str(text_data), "--runs-dir", str(runs)],
                         env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for card in ("xquad-ca", "viquiquad")
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
    store = Store(runs)
    try:
        units = {u["card"]: u for u in store.units()}
    finally:
        store.close()
    kept = [_extras(units[c])["trained_model"] for c in ("viquiquad", "xquad-ca")]
    assert sorted(k["trained_here"] for k in kept) == [False, True]
    assert kept[0]["source_unit"] == kept[1]["source_unit"] == units["viquiquad"]["key"]
    assert _metrics(units["viquiquad"]) and _metrics(units["xquad-ca"])
