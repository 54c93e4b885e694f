"""Experiment trackers (`bench run --log-to mlflow|wandb|tensorboard`): one small adapter each.

Every finished unit becomes one tracked run (MLflow run, W&B run, TensorBoard run folder)
named `<suite>/<card> · <model> · <protocol> · seed N`, with

* parameters: the unit's identity (suite and card versions, dataset revision, encoder
  identity, protocol, seed, unit key), its resolved protocol settings (`protocol.<field>`)
  and its comparability (`comparable`, `debug`, `reasons`);
* metrics: every metric on every scored split (`<split>/<metric>`, fractions as stored) and
  the unit's duration;
* curves: the per-step series the training loops record in `extras` (text fine-tuning's
  validation score per epoch and learning rate, speech heads' score and loss per checkpoint),
  logged against their `step`.

Trackers are optional extras, imported only when asked for; a missing one is one line
with its install command. The driver calls `log_unit` in its own process (the single writer),
so the Ray backend logs the same way. Local by default: MLflow writes a file store under
`<runs-dir>/mlruns` unless `MLFLOW_TRACKING_URI` says otherwise, TensorBoard event files go
to `<runs-dir>/tensorboard/`, W&B follows its own settings (`WANDB_MODE=offline` keeps it
on disk under `<runs-dir>/wandb/`).
"""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

from polyglue.errors import UserError

INSTALL = {
    "mlflow": "pip install 'polyglue[mlflow]'  (mlflow-skinny)",
    "wandb": "pip install 'polyglue[wandb]'  (wandb)",
    "tensorboard": "pip install 'polyglue[tensorboard]'  (tensorboard)",
}
NAMES = tuple(INSTALL)


def _require(module: str, name: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError:
        raise UserError(f"--log-to {name}: the {name} package is not installed; {INSTALL[name]}") from None


def unit_params(task) -> dict[str, str]:
    """Flat string parameters of a unit: identity, protocol settings, comparability."""
    u = task.unit
    params = {
        "suite": u.suite, "suite_version": u.suite_version, "card": u.card, "card_version": u.card_version,
        "card_hash": u.card_hash, "dataset_revision": u.dataset_revision, "model": task.label, "encoder": task.encoder,
        "encoder_identity": u.encoder_identity, "protocol": u.protocol, "protocol_hash": u.protocol_hash,
        "seed": u.seed, "unit_key": task.key,
        "comparable": task.comparability.get("comparable"), "debug": task.comparability.get("debug"),
        "not_comparable_because": "; ".join(task.comparability.get("reasons", [])),
    }
    for key, value in sorted(task.protocol_config.items()):
        params[f"protocol.{key}"] = value
    return {k: json.dumps(v) if isinstance(v, (list, dict)) else str(v) for k, v in params.items()}


def unit_metrics(result, duration_s: float) -> dict[str, float]:
    """`<split>/<metric>` -> value for every finite metric, plus `duration_s`."""
    out = {f"{split}/{name}": float(v) for split, values in result.metrics.items() for name, v in values.items()
           if isinstance(v, (int, float)) and math.isfinite(v)}
    out["duration_s"] = float(duration_s)
    return out


def curves(extras: dict) -> dict[str, list[tuple[int, float]]]:
    """Every per-step series in `extras`: lists of dicts with a `step` and numeric values.

    The name is the path in extras plus the value's key, e.g. `selection/history/2e-05/validation`
    (text fine-tuning at lr 2e-5) or `selection/hin/checkpoints/loss` (a speech head)."""
    found: dict[str, list[tuple[int, float]]] = {}

    def walk(value, path: list[str]) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, path + [str(key)])
        elif isinstance(value, list) and value and all(isinstance(v, dict) and isinstance(v.get("step"), int) for v in value):
            for point in value:
                for key, number in point.items():
                    if key in ("step", "epoch", "learning_rate") or isinstance(number, bool) or not isinstance(number, (int, float)):
                        continue
                    if math.isfinite(number):
                        found.setdefault("/".join(path + [key]), []).append((point["step"], float(number)))

    walk({k: v for k, v in extras.items() if k != "comparability"}, [])
    return found


def run_name(task) -> str:
    return task.describe()


class MLflowTracker:
    """One MLflow run per unit in the experiment `polyglue/<suite>`."""

    def __init__(self, runs_dir: Path):
        self.mlflow = _require("mlflow", "mlflow")
        if not os.environ.get("MLFLOW_TRACKING_URI"):
            # The file store needs no server and no database driver (mlflow-skinny has none). MLflow 3
            # keeps it in maintenance mode behind this opt-in; a database URI in MLFLOW_TRACKING_URI
            # (full `mlflow`) avoids it.
            os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
            self.mlflow.set_tracking_uri((Path(runs_dir).resolve() / "mlruns").as_uri())

    def log_unit(self, task, result, duration_s: float) -> None:
        mlflow = self.mlflow
        mlflow.set_experiment(f"polyglue/{task.unit.suite}")
        with mlflow.start_run(run_name=run_name(task)):
            mlflow.log_params(unit_params(task))
            mlflow.log_metrics(unit_metrics(result, duration_s))
            for name, points in curves(result.extras).items():
                key = re.sub(r"[^A-Za-z0-9_\-./ ]", "_", f"curve/{name}")
                for step, value in points:
                    mlflow.log_metric(key, value, step=step)

    def close(self) -> None:
        pass


class TensorBoardTracker:
    """One event-file folder per unit under `<runs-dir>/tensorboard/<suite>/<card>/<model>-seed<N>-<key>`."""

    def __init__(self, runs_dir: Path):
        _require("tensorboard", "tensorboard")
        from torch.utils.tensorboard import SummaryWriter

        self.writer_cls = SummaryWriter
        self.root = Path(runs_dir) / "tensorboard"

    def log_unit(self, task, result, duration_s: float) -> None:
        folder = self.root / task.unit.suite / task.unit.card / f"{task.encoder_slug()}-seed{task.unit.seed}-{task.key[:12]}"
        writer = self.writer_cls(log_dir=str(folder))
        try:
            writer.add_text("unit", run_name(task))
            writer.add_text("params", json.dumps(unit_params(task), indent=1, sort_keys=True))
            for name, value in unit_metrics(result, duration_s).items():
                writer.add_scalar(name, value, 0)
            for name, points in curves(result.extras).items():
                for step, value in points:
                    writer.add_scalar(f"curve/{name}", value, step)
        finally:
            writer.close()

    def close(self) -> None:
        pass


class WandbTracker:
    """One W&B run per unit in the project `polyglue-<suite>` (offline with `WANDB_MODE=offline`)."""

    def __init__(self, runs_dir: Path):
        self.wandb = _require("wandb", "wandb")
        self.dir = Path(runs_dir).resolve()

    def log_unit(self, task, result, duration_s: float) -> None:
        run = self.wandb.init(
            project=f"polyglue-{task.unit.suite}", name=run_name(task), config=unit_params(task), dir=str(self.dir),
            group=f"{task.unit.card}/{task.label}", reinit="create_new",
        )
        try:
            run.define_metric("curve_step")
            run.define_metric("curve/*", step_metric="curve_step")
            for name, points in curves(result.extras).items():
                for step, value in points:
                    run.log({f"curve/{name}": value, "curve_step": step})
            run.summary.update(unit_metrics(result, duration_s))
        finally:
            run.finish()

    def close(self) -> None:
        pass


ADAPTERS = {"mlflow": MLflowTracker, "wandb": WandbTracker, "tensorboard": TensorBoardTracker}


def open_trackers(names: list[str], runs_dir: Path) -> list:
    """The trackers `--log-to` asked for (checked before any unit runs)."""
    unknown = [n for n in names if n not in ADAPTERS]
    if unknown:
        raise UserError(f"--log-to {', '.join(unknown)}: choose from {', '.join(NAMES)}")
    return [ADAPTERS[name](runs_dir) for name in dict.fromkeys(names)]
