"""Efficiency figures of a trained text model, measured on the unit's device after scoring.

What compression and PEFT papers print next to a score: parameters (total and trainable),
inference latency per example at batch size 1, throughput at the card's batch size, peak
memory, and FLOPs per example. Conventions (stated in every record, because papers differ):

* FLOPs are counted by torch's own `torch.utils.flop_counter.FlopCounterMode`: a matmul of
  (m×k)·(k×n) is 2·m·n·k (FLOPs = 2 × multiply-adds); element-wise ops, softmax, LayerNorm and
  GELU count 0. Inputs are the unit's own evaluation features, unpadded (batch 1).
* Latency and throughput are wall-clock inference (`torch.inference_mode`, the same autocast
  as prediction) over the first evaluation features; CUDA is synchronised before each clock
  read. The sample rule: after one warm-up example, batch-1 forwards continue until at least
  `MIN_SAMPLE` examples and `LATENCY_BUDGET_S` seconds, or `SAMPLE` examples, whichever comes
  first; then batches of the card's size until at least one batch and `THROUGHPUT_BUDGET_S`
  seconds, or `THROUGHPUT_BATCHES` batches. A slow model is timed on fewer examples (each is
  long enough to time), a fast one on more; the counts are recorded (`sample`, `batches`).
* FLOPs and tokens per example are the mean over the first `FLOP_SAMPLE` features. A count
  depends only on the architecture and the input length, so counts are kept per process by
  (model class, config, parameter counts, length) and a later unit of the same model and
  lengths (another seed or learning rate, the selection pass) reuses them (`flops_cached`).
* Peak memory: on CUDA the allocator's peak during the measurement; on CPU the process's
  peak resident set size (`ru_maxrss`), which includes everything the process loaded.

The sample is small (`SAMPLE` examples) so measuring costs little next to training
(`perf/efficiency_overhead.py` measures the share).
"""

from __future__ import annotations

import sys
import time
from functools import partial
from typing import Any, Callable

from polyglue.accel import autocast, is_cuda, to_device
from polyglue.langkits.batching import collate, feature_length

SAMPLE = 8
"""At most this many examples timed at batch size 1."""
MIN_SAMPLE = 3
"""At least this many."""
LATENCY_BUDGET_S = 0.1
"""Batch-1 timing stops once this long has been timed (and `MIN_SAMPLE` reached)."""
THROUGHPUT_BUDGET_S = 0.25
"""Throughput timing stops once this long has been timed (after at least one batch)."""
FLOP_SAMPLE = 4
"""Of those, examples FLOP-counted (the counter's dispatch makes a forward several times slower)."""
THROUGHPUT_BATCHES = 2
"""At most this many batches of the card's batch size timed for throughput (after the batch-1 pass has warmed up)."""

_FLOPS: dict[tuple, int] = {}
"""FLOPs per (model identity, input length), for the life of the process (see the module docstring)."""


def model_identity(model: Any, counts: dict) -> tuple:
    """What fixes a model's FLOPs at a given input length: its class, config and parameter counts."""
    import hashlib
    import json

    config = getattr(model, "config", None)
    as_dict = config.to_dict() if config is not None and hasattr(config, "to_dict") else {}
    digest = hashlib.sha1(json.dumps(as_dict, sort_keys=True, default=str).encode()).hexdigest()
    return (type(model).__name__, digest, counts.get("total"), counts.get("trainable"))


def _input_shapes(feature: dict, pad_id: int) -> tuple:
    """The tensor shapes of one example's batch (length, and choices for multiple choice): what its FLOPs depend on."""
    batch = collate([feature], pad_id)
    return tuple(sorted((k, tuple(v.shape)) for k, v in batch.items() if hasattr(v, "shape")))


def parameter_counts(model: Any) -> dict[str, int]:
    """Total and trainable parameters (a parameter shared by two modules counts once)."""
    seen: dict[int, Any] = {}
    for p in model.parameters():
        seen[id(p)] = p
    return {
        "total": sum(p.numel() for p in seen.values()),
        "trainable": sum(p.numel() for p in seen.values() if p.requires_grad),
    }


def _cpu_attention_formulas() -> dict:
    """torch counts fused attention on CUDA (flash, efficient, cuDNN) but not its CPU kernel, which
    transformers' default `sdpa` attention runs on CPU: count it with torch's own SDPA formula."""
    import torch
    from torch.utils.flop_counter import sdpa_flop_count

    op = getattr(torch.ops.aten, "_scaled_dot_product_flash_attention_for_cpu", None)
    if op is None:  # pragma: no cover - older torch
        return {}
    return {op: lambda query, key, value, *args, out_shape=None, **kwargs: sdpa_flop_count(query, key, value)}


def count_flops(run: Callable[[], Any]) -> int:
    """FLOPs torch's FLOP counter records while `run()` executes (CPU fused attention included)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False, custom_mapping=_cpu_attention_formulas())
    with counter:
        run()
    return int(counter.get_total_flops())


def _sync(device: str) -> None:
    if is_cuda(device):
        import torch

        torch.cuda.synchronize()


def _peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def measure(
    model: Any, features: list[dict], outputs: Callable, *, pad_id: int, batch_size: int, device: str, counts: dict | None = None,
) -> dict:
    """The efficiency record of `model` on `features` (the unit's evaluation features)."""
    import torch

    record: dict = {"parameters": counts or parameter_counts(model)}
    if not features:
        return record
    model.eval()
    sample = features[: min(SAMPLE, len(features))]
    if is_cuda(device):
        torch.cuda.reset_peak_memory_stats(device)

    def forward(batch_features: list[dict]) -> None:
        batch = to_device(collate(batch_features, pad_id), device)
        with autocast(device):
            outputs(model, batch)

    with torch.inference_mode():
        forward(sample[:1])  # warm-up
        _sync(device)
        t0 = time.perf_counter()
        timed = 0
        for feature in sample:
            forward([feature])
            timed += 1
            if timed >= MIN_SAMPLE:
                _sync(device)
                if time.perf_counter() - t0 >= LATENCY_BUDGET_S:
                    break
        _sync(device)
        latency = (time.perf_counter() - t0) / timed

        batches = [features[i : i + batch_size] for i in range(0, len(features), batch_size)][:THROUGHPUT_BATCHES]
        t0 = time.perf_counter()
        done: list[list[dict]] = []
        for batch_features in batches:
            forward(batch_features)
            done.append(batch_features)
            _sync(device)
            if time.perf_counter() - t0 >= THROUGHPUT_BUDGET_S:
                break
        throughput = sum(len(b) for b in done) / max(time.perf_counter() - t0, 1e-9)

        counted = sample[:FLOP_SAMPLE]
        identity = model_identity(model, record["parameters"])
        tokens = [feature_length(f) for f in counted]
        shapes = [(identity, _input_shapes(f, pad_id)) for f in counted]
        cached = 0
        flops = []
        for feature, key in zip(counted, shapes):
            if key in _FLOPS:
                cached += 1
            else:
                _FLOPS[key] = count_flops(partial(forward, [feature]))
            flops.append(_FLOPS[key])
    record.update(
        latency_ms_batch1=round(1000 * latency, 4),
        throughput_per_s=round(throughput, 2),
        throughput_batch_size=batch_size,
        flops_per_example=int(sum(flops) / len(flops)),
        tokens_per_example=round(sum(tokens) / len(tokens), 2),
        sample=timed,
        batches=len(done),
        flop_sample=len(counted),
        flops_cached=cached,
        device=str(device),
        flop_convention="torch.utils.flop_counter: 2 per multiply-add, matmuls only, batch 1, unpadded",
    )
    if is_cuda(device):
        record["peak_memory_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        record["peak_memory_kind"] = "cuda allocator peak during measurement"
    else:
        record["peak_memory_mb"] = _peak_rss_mb()
        record["peak_memory_kind"] = "process peak RSS"
    return record


def add_to(result: Any, model: Any, features: list[dict], outputs: Callable, **options: Any) -> None:
    """Measure and store in `result.extras`: `efficiency` (the record), `parameters`, `timings.efficiency_s`."""
    t0 = time.perf_counter()
    record = measure(model, features, outputs, **options)
    result.extras["efficiency"] = record
    result.extras.setdefault("parameters", record["parameters"])
    result.extras.setdefault("timings", {})["efficiency_s"] = round(time.perf_counter() - t0, 3)
