"""Efficiency figures of a trained text model, measured on the unit's device after scoring.

What compression and PEFT papers print next to a score: parameters (total and trainable),
inference latency per example at batch size 1, throughput at the card's batch size, peak
memory, and FLOPs per example. Conventions (stated in every record, because papers differ):

* FLOPs are counted by torch's own `torch.utils.flop_counter.FlopCounterMode`: a matmul of
  (m×k)·(k×n) is 2·m·n·k (FLOPs = 2 × multiply-adds); element-wise ops, softmax, LayerNorm and
  GELU count 0. Inputs are the unit's own evaluation features, unpadded (batch 1).
* Latency and throughput are wall-clock inference (`torch.inference_mode`, the same autocast
  as prediction) over the first evaluation features (`SAMPLE` at batch 1 after one warm-up
  example, then `THROUGHPUT_BATCHES` batches); CUDA is synchronised before each clock read.
  FLOPs and tokens per example are the mean over the first `FLOP_SAMPLE` of them.
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
"""Examples timed at batch size 1."""
FLOP_SAMPLE = 4
"""Of those, examples FLOP-counted (the counter's dispatch makes a forward several times slower)."""
THROUGHPUT_BATCHES = 2
"""Batches of the card's batch size timed for throughput (after the batch-1 pass has warmed up)."""


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
        for feature in sample:
            forward([feature])
        _sync(device)
        latency = (time.perf_counter() - t0) / len(sample)

        batches = [features[i : i + batch_size] for i in range(0, len(features), batch_size)][:THROUGHPUT_BATCHES]
        t0 = time.perf_counter()
        for batch_features in batches:
            forward(batch_features)
        _sync(device)
        throughput = sum(len(b) for b in batches) / max(time.perf_counter() - t0, 1e-9)

        counted = sample[:FLOP_SAMPLE]
        flops = [count_flops(partial(forward, [feature])) for feature in counted]
    tokens = [feature_length(f) for f in counted]
    record.update(
        latency_ms_batch1=round(1000 * latency, 4),
        throughput_per_s=round(throughput, 2),
        throughput_batch_size=batch_size,
        flops_per_example=int(sum(flops) / len(flops)),
        tokens_per_example=round(sum(tokens) / len(tokens), 2),
        sample=len(sample),
        flop_sample=len(counted),
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
