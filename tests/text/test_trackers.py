"""`bench run --log-to`: parameters, metrics and training curves, read back with each tracker's own reader."""

from __future__ import annotations

import json

import pytest

from tests.fixtures.core_suite import write_suite

CURVE = "curve/selection/history/2e-05/validation"


@pytest.fixture(scope="module")
def tracked(tmp_path_factory, text_data, text_bert):
    """One fine-tuning unit (tiny BERT, 3 epochs of one step) logged to every installed tracker (the `dev` extra has all three)."""
    import importlib.util

    from polyglue.cli import main

    installed = [name for name in ("mlflow", "tensorboard", "wandb") if importlib.util.find_spec(name) is not None]
    if not installed:
        pytest.skip("no tracker extra installed (pip install -e '.[dev]')")

    runs = tmp_path_factory.mktemp("tracked")
    mp = pytest.MonkeyPatch()
    mp.setenv("WANDB_MODE", "offline")
    mp.setenv("WANDB_SILENT", "true")
    mp.delenv("MLFLOW_TRACKING_URI", raising=False)
    mp.delenv("MLFLOW_ALLOW_FILE_STORE", raising=False)
    try:
        code = main(["run", "--suite", "glue", "--tasks", "rte", "--model", f"tiny=hf:{text_bert}", "--protocol", "finetune",
                     "--max-steps", "3", "--data-dir", str(text_data), "--runs-dir", str(runs), "--quiet",
                     "--log-to", installed[0], *(["--log-to", ",".join(installed[1:])] if installed[1:] else [])])
    finally:
        mp.undo()
    assert code == 0
    from polyglue.runs.store import Store

    store = Store(runs)
    try:
        (unit,) = store.units()
    finally:
        store.close()
    return runs, unit


def test_given_mlflow_then_its_client_reads_params_metrics_and_the_validation_curve(tracked, monkeypatch):
    pytest.importorskip("mlflow", reason="extra `mlflow` not installed")
    from mlflow import MlflowClient

    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")  # MLflow 3 reads its file store only with this opt-in

    runs, unit = tracked
    client = MlflowClient(tracking_uri=(runs / "mlruns").resolve().as_uri())
    experiment = client.get_experiment_by_name("polyglue/glue")
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.params["card"] == "rte" and run.data.params["model"] == "tiny" and run.data.params["unit_key"] == unit["key"]
    assert float(run.data.params["protocol.learning_rate"]) == 2e-5 and run.data.params["debug"] == "True"
    assert run.data.metrics["validation/accuracy"] == pytest.approx(unit["metrics"]["validation"]["accuracy"])
    history = client.get_metric_history(run.info.run_id, CURVE)
    expected = unit["extras"]["selection"]["history"]["2e-05"]
    assert [(m.step, m.value) for m in history] == [(p["step"], pytest.approx(p["validation"])) for p in expected]
    assert len(history) == 3


def test_given_tensorboard_then_the_event_files_hold_the_metrics_and_the_curve(tracked):
    pytest.importorskip("tensorboard", reason="extra `tensorboard` not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs, unit = tracked
    (folder,) = list((runs / "tensorboard" / "glue" / "rte").iterdir())
    events = EventAccumulator(str(folder))
    events.Reload()
    assert events.Scalars("validation/accuracy")[0].value == pytest.approx(unit["metrics"]["validation"]["accuracy"])
    curve = events.Scalars(CURVE)
    assert [e.step for e in curve] == [p["step"] for p in unit["extras"]["selection"]["history"]["2e-05"]]


def _wandb_records(path):
    """The protobuf records of an offline `.wandb` file: W&B's 7-byte header, then LevelDB-log framing
    (32 KiB blocks; each chunk: crc32c, length, type FULL=1 FIRST=2 MIDDLE=3 LAST=4), decoded with
    W&B's own `Record` message."""
    import struct

    from wandb.proto import wandb_internal_pb2

    data = path.read_bytes()
    assert data[:4] == b":W&B"
    pos, block, pending = 7, 32768, b""
    while pos + 7 <= len(data):
        left = block - pos % block
        if left < 7:
            pos += left
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        chunk, pos = data[pos + 7 : pos + 7 + length], pos + 7 + length
        if kind in (1, 4):
            record = wandb_internal_pb2.Record()
            record.ParseFromString(pending + chunk if kind == 4 else chunk)
            pending = b""
            yield record
        elif kind in (2, 3):
            pending += chunk


def test_given_wandb_offline_then_its_run_file_holds_config_summary_and_the_curve(tracked):
    pytest.importorskip("wandb", reason="extra `wandb` not installed")
    runs, unit = tracked
    (path,) = list((runs / "wandb").glob("offline-run-*/run-*.wandb"))
    config, summary, curve = {}, {}, []
    for record in _wandb_records(path):
        kind = record.WhichOneof("record_type")
        if kind == "run":
            config.update({item.key: json.loads(item.value_json) for item in record.run.config.update})
            assert record.run.project == "polyglue-glue"
        elif kind == "summary":
            summary.update({item.key or "/".join(item.nested_key): json.loads(item.value_json) for item in record.summary.update})
        elif kind == "history":
            items = {"/".join(i.nested_key) or i.key: json.loads(i.value_json) for i in record.history.item}
            if CURVE in items:
                curve.append((items["curve_step"], items[CURVE]))
    assert config["unit_key"] == unit["key"] and config["protocol.name"] == "finetune" and config["card"] == "rte"
    assert summary["validation/accuracy"] == pytest.approx(unit["metrics"]["validation"]["accuracy"])
    expected = unit["extras"]["selection"]["history"]["2e-05"]
    assert curve == [(p["step"], pytest.approx(p["validation"])) for p in expected]


def test_given_an_unknown_tracker_then_one_line_and_exit_2(cli, tmp_path):
    cards = write_suite(tmp_path / "s", n_cards=1)
    result = cli("run", "--suite", "core", "--cards", cards, "--model", "bow", "--runs-dir", tmp_path / "r", "--log-to", "comet")
    assert result.code == 2 and "--log-to comet: choose from mlflow, wandb, tensorboard" in result.err


def test_given_a_tracker_that_is_not_installed_then_the_install_command_is_named(cli, tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mlflow", None)  # what an environment without the extra looks like to `import mlflow`
    cards = write_suite(tmp_path / "s", n_cards=1)
    result = cli("run", "--suite", "core", "--cards", cards, "--model", "bow", "--runs-dir", tmp_path / "r", "--log-to", "mlflow")
    assert result.code == 2
    assert "--log-to mlflow: the mlflow package is not installed; pip install 'polyglue[mlflow]'" in result.err
    assert not (tmp_path / "r" / "polyglue.sqlite").exists()  # stopped before anything ran


def test_curves_are_found_in_text_and_speech_extras():
    from polyglue.runs.trackers import curves

    extras = {
        "selection": {"history": {"2e-05": [{"epoch": 1, "step": 5, "validation": 0.5}, {"epoch": 2, "step": 10, "validation": 0.7}]}},
        "speech": {"hin": {"checkpoints": [{"learning_rate": 1e-3, "step": 100, "score": 0.4, "loss": 2.5}]}},
        "timings": {"total_s": 3.0},
        "comparability": {"comparable": True, "debug": False, "reasons": []},
    }
    assert curves(extras) == {
        "selection/history/2e-05/validation": [(5, 0.5), (10, 0.7)],
        "speech/hin/checkpoints/score": [(100, 0.4)],
        "speech/hin/checkpoints/loss": [(100, 2.5)],
    }
