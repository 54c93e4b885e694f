"""Efficiency figures of one unit's whole inference path, measured on the unit's device after scoring.

What compression and PEFT papers print next to a score: parameters (total and trainable),
inference latency per example at batch size 1, throughput (at the card's batch size, or at the
batch the unit's own prediction pass used), peak memory, and FLOPs per example. This is the one implementation: the text side
(`polyglue.langkits.efficiency`, fine-tune/LoRA/probe units) and the speech runners call
`measure` with a `forward(items)` that runs their own inference path on a list of examples
(the runner's encoder or upstream and its head). It sits below the runners so both sides
may import it. Conventions (stated in every record, because papers differ):

* FLOPs are counted by torch's own `torch.utils.flop_counter.FlopCounterMode`: a matmul of
  (m×k)·(k×n) is 2·m·n·k (FLOPs = 2 × multiply-adds); element-wise ops, softmax, LayerNorm and
  GELU count 0. Work outside torch (a scikit-learn head, QbE's numpy DTW search) is added by
  the caller's hand count (`extra_flops`), with the same convention. Inputs are the unit's own
  evaluation examples, at batch 1 (no padding). Recurrent layers need no hand count: torch's
  counter has no formula for `aten.lstm` and decomposes it (the op is CompositeImplicit) into
  its per-step matmuls, so an LSTM layer counts 2 · 4·hidden·(input+hidden) per time step and
  direction, the bias adds not counted (ASR's BiLSTM-CTC head; tests/speech check it by hand).
* Latency and throughput are wall-clock inference (`torch.inference_mode`) over the first
  evaluation examples; CUDA is synchronised before each clock read. Throughput comes, where
  the caller can give it, from the unit's OWN prediction pass over its evaluation examples
  (`throughput=(examples, seconds)`, timed by the runner with `timed_pass`; recorded as
  `throughput_source: "unit prediction pass"` with `throughput_batch_size` the batch that pass
  used): the figure then costs nothing extra and covers every evaluation example, in the
  runner's own batching (length-sorted, so less padding than a fixed sample). A caller whose
  pass is not the inference path (it reads cached features) measures batches instead
  (`throughput_source: "measured batches"`): batches of the card's size over the first
  examples, until at least one batch and `THROUGHPUT_BUDGET_S` seconds, or
  `THROUGHPUT_BATCHES` batches (counted in `batches`).
* Latency at batch size 1: forwards continue until at least `MIN_SAMPLE` examples and
  `LATENCY_BUDGET_S` seconds, or `SAMPLE` examples, whichever comes first (`sample`). They
  follow one warm-up example, except after a given prediction pass: that pass has just run
  the same path on the same device (weights resident, kernels and allocator warm), so a
  warm-up would time nothing new (`warm_up: "unit prediction pass"`). A slow model is timed
  on fewer examples (each is long enough to time), a fast one on more.
* FLOPs are the mean over the first `FLOP_SAMPLE` examples. A count depends only on the
  architecture and the input's shape, so a caller that can say what fixes it (`flop_key`:
  model identity and input shape) has counts kept for the process: a later unit of the same
  model and lengths (another seed or learning rate) reuses them (`flops_cached`).
* Peak memory: on CUDA the allocator's peak during the measurement, which with a given
  prediction pass starts at that pass (`timed_pass` resets the peak as it starts, so a
  batched pass is covered; of several passes, the last); on CPU the process's peak resident set size (`ru_maxrss`), which
  includes everything the process loaded.

The sample is small so measuring costs little next to training.
"""

from __future__ import annotations

import contextlib
import sys
import time
from functools import partial
from typing import Any, Callable, Hashable, Sequence

from polyglue.accel import is_cuda

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

_FLOPS: dict[Hashable, int] = {}
"""Torch FLOPs per `flop_key(example)`, for the life of the process (see the module docstring)."""

CONVENTION = "torch.utils.flop_counter: 2 per multiply-add, matmuls only, batch 1, unpadded"


def parameter_counts(*modules: Any, frozen: bool = False) -> dict[str, int]:
    """Total and trainable parameters of `modules` (a parameter shared by two modules counts once).

    `frozen=True` counts every parameter as not trainable (a frozen encoder whose
    `requires_grad` flags were never turned off, e.g. an upstream run under inference mode).
    """
    seen: dict[int, Any] = {}
    for module in modules:
        if module is None:
            continue
        for p in module.parameters():
            seen[id(p)] = p
    return {
        "total": sum(p.numel() for p in seen.values()),
        "trainable": 0 if frozen else sum(p.numel() for p in seen.values() if p.requires_grad),
    }


def model_identity(*modules: Any) -> tuple:
    """What fixes modules' FLOPs at a given input shape: their classes, configs and parameter counts."""
    import hashlib
    import json

    parts = []
    for module in modules:
        config = getattr(module, "config", None)
        as_dict = config.to_dict() if config is not None and hasattr(config, "to_dict") else {}
        digest = hashlib.sha1(json.dumps(as_dict, sort_keys=True, default=str).encode()).hexdigest()
        parts.append((type(module).__name__, digest, parameter_counts(module)["total"]))
    return tuple(parts)


def add_counts(*counts: dict[str, int]) -> dict[str, int]:
    """Parameter counts of disjoint parts (encoder + head) summed key by key."""
    out: dict[str, int] = {}
    for c in counts:
        for key, value in c.items():
            out[key] = out.get(key, 0) + int(value)
    return out


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


def sync(device: str) -> None:
    if is_cuda(device):
        import torch

        torch.cuda.synchronize()


def peak_rss_mb() -> float | None:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024, 1)


def measure(
    forward: Callable[[list], Any],
    items: Sequence,
    *,
    parameters: dict[str, int],
    batch_size: int,
    device: str,
    extra_flops: Callable[[Any], int] | None = None,
    size_of: Callable[[Any], float] | None = None,
    size_name: str = "tokens_per_example",
    convention: str = CONVENTION,
    torch_path: bool = True,
    freeze: Sequence = (),
    flop_key: Callable[[Any], Hashable] | None = None,
    throughput: tuple[int, float] | None = None,
) -> dict:
    """The efficiency record of the inference path `forward(list of items)` on `items`.

    `extra_flops(item)`: FLOPs of work outside torch for one example (hand-counted, same
    convention), added to the counted ones and recorded apart. `size_of(item)`: the example's
    size (tokens, seconds of audio), averaged over the FLOP sample under `size_name`.
    `torch_path=False`: the path runs no torch at all (the weight-free `bow` probe), so torch is
    not imported (that alone would cost more than such a unit) and every FLOP is `extra_flops`'.
    `flop_key(item)`: what fixes the torch FLOPs of one example (model identity, input shape);
    given it, counts are kept for the process and reused (`flops_cached` says how many were).
    `freeze`: modules whose parameters stop requiring gradients while measuring (restored after):
    the FLOP counter's module tracker hooks every tensor that requires grad, which fails inside
    `torch.inference_mode` for weight-normalised convolutions (wav2vec2's positional conv).
    `throughput=(examples, seconds)`: the unit's own prediction pass over its evaluation examples
    (`timed_pass`), run at `batch_size` just before: used as the throughput figure, and no
    batches nor warm-up are run here (the module docstring's rule).
    """
    if throughput is not None and (throughput[0] <= 0 or throughput[1] <= 0):
        throughput = None  # an empty or untimed pass: measure batches instead
    with _no_grad_flags(freeze):
        return _measure(forward, items, parameters=parameters, batch_size=batch_size, device=device, extra_flops=extra_flops,
                        size_of=size_of, size_name=size_name, convention=convention, torch_path=torch_path,
                        flop_key=flop_key, given=throughput)


def timed_pass(run: Callable[[], Any], examples: int, device: str) -> tuple[Any, tuple[int, float]]:
    """`run()`'s result and `(examples, wall seconds)` of it, CUDA synchronised before each clock
    read: what a runner hands to `measure(throughput=...)` for its prediction pass. On CUDA the
    allocator's peak is reset first, so the record's peak memory covers this pass too."""
    if is_cuda(device):
        import torch

        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    t0 = time.perf_counter()
    out = run()
    sync(device)
    return out, (int(examples), time.perf_counter() - t0)


def add_passes(*passes: tuple[int, float] | None) -> tuple[int, float] | None:
    """Several timed passes (e.g. one per evaluation split) as one: examples and seconds summed."""
    done = [p for p in passes if p is not None]
    return (sum(p[0] for p in done), sum(p[1] for p in done)) if done else None


@contextlib.contextmanager
def _no_grad_flags(modules: Sequence):
    params = {id(p): p for m in modules if m is not None for p in m.parameters() if p.requires_grad}
    for p in params.values():
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params.values():
            p.requires_grad_(True)


def _measure(forward, items, *, parameters, batch_size, device, extra_flops, size_of, size_name, convention, torch_path, flop_key, given) -> dict:
    record: dict = {"parameters": dict(parameters)}
    if not items:
        return record
    sample = list(items[: min(SAMPLE, len(items))])
    mode: Any = contextlib.nullcontext()
    if torch_path:
        import torch

        if is_cuda(device) and given is None:  # with a given pass, the peak runs from that pass (`timed_pass`)
            torch.cuda.reset_peak_memory_stats(device)
        mode = torch.inference_mode()
    with mode:
        if given is None:
            forward(sample[:1])  # warm-up (after a given prediction pass the path is warm already)
        sync(device)
        t0 = time.perf_counter()
        timed = 0
        for item in sample:
            forward([item])
            timed += 1
            if timed >= MIN_SAMPLE:
                sync(device)
                if time.perf_counter() - t0 >= LATENCY_BUDGET_S:
                    break
        sync(device)
        latency = (time.perf_counter() - t0) / timed

        if given is None:
            batches = [list(items[i : i + batch_size]) for i in range(0, len(items), batch_size)][:THROUGHPUT_BATCHES]
            t0 = time.perf_counter()
            done: list[list] = []
            for batch in batches:
                forward(batch)
                done.append(batch)
                sync(device)
                if time.perf_counter() - t0 >= THROUGHPUT_BUDGET_S:
                    break
            timed_examples, timed_s = sum(len(b) for b in done), time.perf_counter() - t0
        else:
            timed_examples, timed_s = given
        throughput = timed_examples / max(timed_s, 1e-9)

        counted = sample[:FLOP_SAMPLE]
        flops, cached = [], 0
        for item in counted:
            if not torch_path:
                flops.append(0)
                continue
            key = flop_key(item) if flop_key is not None else None
            if key is not None and key in _FLOPS:
                cached += 1
                flops.append(_FLOPS[key])
                continue
            n = count_flops(partial(forward, [item]))
            if key is not None:
                _FLOPS[key] = n
            flops.append(n)
    outside = [int(extra_flops(item)) for item in counted] if extra_flops is not None else [0] * len(counted)
    record.update(
        latency_ms_batch1=round(1000 * latency, 4),
        throughput_per_s=round(throughput, 2),
        throughput_batch_size=batch_size,
        throughput_source="measured batches" if given is None else "unit prediction pass",
        throughput_examples=int(timed_examples),
        warm_up="one example" if given is None else "unit prediction pass",
        flops_per_example=int((sum(flops) + sum(outside)) / len(counted)),
        sample=timed,
        **({"batches": len(done)} if given is None else {}),
        flop_sample=len(counted),
        flops_cached=cached,
        device=str(device),
        flop_convention=convention if torch_path else "hand count: 2 per multiply-add of the head, batch 1 (no torch in the path)",
    )
    if extra_flops is not None:
        record["flops_outside_torch_per_example"] = int(sum(outside) / len(counted))
    if size_of is not None:
        sizes = [float(size_of(item)) for item in counted]
        record[size_name] = round(sum(sizes) / len(sizes), 2)
    if torch_path and is_cuda(device):
        record["peak_memory_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
        record["peak_memory_kind"] = "cuda allocator peak during measurement" if given is None else \
            "cuda allocator peak from the unit's prediction pass through the measurement"
    else:
        record["peak_memory_mb"] = peak_rss_mb()
        record["peak_memory_kind"] = "process peak RSS"
    return record


def add_to(result: Any, measure_call: Callable[[], dict]) -> dict:
    """Run `measure_call()` and store in `result.extras`: `efficiency` (the record), `parameters`,
    `timings.efficiency_s`. Returns the record."""
    t0 = time.perf_counter()
    record = measure_call()
    result.extras["efficiency"] = record
    result.extras.setdefault("parameters", record["parameters"])
    result.extras.setdefault("timings", {})["efficiency_s"] = round(time.perf_counter() - t0, 3)
    return record
