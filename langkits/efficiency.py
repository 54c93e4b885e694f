"""Efficiency figures of a trained text model (fine-tune, LoRA, token/QA probes), after scoring.

The measuring itself is `polyglue.efficiency` (one implementation for the text probes, the
trained text models and the speech runners; its docstring states the conventions). This
module adapts it to Hugging Face text models: the inference path of one example is
`outputs(model, collate([feature]))`, batch 1 unpadded, under the same autocast as
prediction; the example size is its token count. FLOP counts are kept per process by model
identity and the example's tensor shapes (`polyglue.efficiency`'s `flop_key`). Throughput is
the unit's own prediction pass (`predict`, length-sorted batches of the evaluation batch size),
handed over by the runner. `perf/lora_vs_finetune.py` measures the share of a unit's time it costs.
"""

from __future__ import annotations

from typing import Any, Callable

from polyglue.efficiency import FLOP_SAMPLE, MIN_SAMPLE, SAMPLE, THROUGHPUT_BATCHES, count_flops, model_identity, parameter_counts
from polyglue.efficiency import add_to as _store
from polyglue.efficiency import measure as _measure

__all__ = ["FLOP_SAMPLE", "MIN_SAMPLE", "SAMPLE", "THROUGHPUT_BATCHES", "add_to", "count_flops", "measure", "parameter_counts"]


def measure(
    model: Any, features: list[dict], outputs: Callable, *, pad_id: int, batch_size: int, device: str, counts: dict | None = None,
    throughput: tuple[int, float] | None = None,
) -> dict:
    """The efficiency record of `model` on `features` (the unit's evaluation features).

    `throughput`: `(examples, seconds)` of the unit's own prediction pass at `batch_size`
    (`polyglue.efficiency.timed_pass`), used instead of measuring batches here."""
    from polyglue.accel import autocast, to_device
    from polyglue.langkits.batching import collate, feature_length

    model.eval()

    def forward(batch_features: list[dict]) -> None:
        batch = to_device(collate(batch_features, pad_id), device)
        with autocast(device):
            outputs(model, batch)

    identity = model_identity(model)

    def flop_key(feature: dict) -> tuple:
        batch = collate([feature], pad_id)
        return identity, tuple(sorted((k, tuple(v.shape)) for k, v in batch.items() if hasattr(v, "shape")))

    return _measure(forward, features, parameters=counts or parameter_counts(model), batch_size=batch_size,
                    device=device, size_of=feature_length, flop_key=flop_key, throughput=throughput)


def add_to(result: Any, model: Any, features: list[dict], outputs: Callable, **options: Any) -> None:
    """Measure and store in `result.extras`: `efficiency` (the record), `parameters`, `timings.efficiency_s`."""
    _store(result, lambda: measure(model, features, outputs, **options))
