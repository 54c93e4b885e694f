"""The Ray backend: each unit is a Ray task; the driver stays the single writer to the store.

Units are plain data (`UnitTask`), so a worker runs exactly what the local backend runs
(`polyglue.runs.execute.execute`) and returns a `UnitResult`; results are identical for
the same seeds. A worker that dies (killed, OOM) is retried by Ray up to `max_retries`
times; after that the unit is recorded as failed with its error and the rest of the grid
goes on. Exceptions raised by a runner (bad data, bugs) are not retried: they would fail
the same way again.

Feature caches: workers use `POLYGLUE_CACHE` (forwarded to them). On a multi-machine
cluster point it at storage every worker can reach; otherwise each machine builds its
own cache — the shard format is safe for concurrent writers either way.
"""

from __future__ import annotations

import dataclasses
import logging
import os

from polyglue.errors import UserError
from polyglue.runs.backends import classify_error
from polyglue.runs.units import UnitTask

#: Environment forwarded to workers (they may run on other machines or be started elsewhere).
FORWARDED_ENV = (
    "POLYGLUE_CACHE", "POLYGLUE_CARDS", "HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_ENDPOINT", "HF_HOME",
    "TRANSFORMERS_OFFLINE", "TOKENIZERS_PARALLELISM",
)


def _execute_unit(task: UnitTask):
    """Worker side: name the process after the unit (visible in `ps`), then run it."""
    try:
        import ray._raylet

        ray._raylet.setproctitle(f"ray::polyglue-unit {task.key} {task.describe()}")  # type: ignore[attr-defined]
    except (ImportError, AttributeError):  # pragma: no cover - cosmetic only
        pass
    from polyglue.runs.execute import execute

    return execute(task)


def needs_gpu(task: UnitTask, cluster_gpus: float) -> bool:
    """A unit asks for a GPU when told to use CUDA, or on `auto` when the cluster has one and the
    encoder runs on torch (the weight-free `bow` baseline never does)."""
    if task.device.startswith("cuda"):
        return True
    return task.device == "auto" and cluster_gpus > 0 and not task.encoder.split("=", 1)[-1].startswith("bow")


class RayBackend:
    """Spread units over a Ray cluster (`address="auto"` joins a running one; none starts a local one)."""

    def __init__(self, address: str | None = None, num_cpus: int | None = None, max_retries: int = 2):
        self.address = address
        self.num_cpus = num_cpus
        self.max_retries = max_retries

    def _connect(self):
        try:
            import ray
        except ImportError:
            raise UserError("the Ray backend needs the optional extra: pip install 'polyglue[ray]'") from None
        if ray.is_initialized():
            return ray, False
        env = {k: os.environ[k] for k in FORWARDED_ENV if k in os.environ}
        kwargs = dict(runtime_env={"env_vars": env}, log_to_driver=False, logging_level=logging.ERROR)
        try:
            if self.address:
                ray.init(address=self.address, **kwargs)
            else:
                ray.init(num_cpus=self.num_cpus, include_dashboard=False, **kwargs)
        except (ConnectionError, RuntimeError) as exc:
            raise UserError(f"cannot reach a Ray cluster at {self.address or 'localhost'}: {exc}") from None
        return ray, True

    def run(self, tasks: list[UnitTask], hooks) -> None:
        if not tasks:
            return
        ray, started_here = self._connect()
        try:
            gpus = ray.cluster_resources().get("GPU", 0)
            remote = ray.remote(_execute_unit)
            pending = {}
            for task in tasks:
                gpu = needs_gpu(task, gpus)
                threads = task.options.get("threads") or 1
                if not task.options.get("threads"):  # a worker computes with its CPU share
                    task = dataclasses.replace(task, options={**task.options, "threads": threads})
                if hooks.started(task, "cuda" if gpu else "cpu") is False:
                    continue  # finished by another process meanwhile, or being computed by one
                ref = remote.options(
                    num_cpus=threads, num_gpus=1 if gpu else 0, max_retries=self.max_retries, retry_exceptions=False,
                    name=f"polyglue:{task.unit.card}:{task.label}:seed{task.unit.seed}",
                ).remote(task)
                pending[ref] = task
            while pending:
                (ref,), _ = ray.wait(list(pending), num_returns=1)
                task = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayTaskError as exc:  # the runner raised: not retried
                    cause = exc.cause if isinstance(getattr(exc, "cause", None), BaseException) else exc
                    hooks.failed(task, *classify_error(cause))
                    continue
                except ray.exceptions.RayError as exc:  # the worker died and retries are spent
                    message = f"worker lost {self.max_retries + 1} time(s), giving up ({type(exc).__name__})"
                    hooks.failed(task, message, "internal", str(exc))
                    continue
                hooks.finished(task, result)
        finally:
            if started_here:
                ray.shutdown()
