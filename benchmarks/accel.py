"""Device helpers shared by the text and speech runners (import only where torch is already needed).

On CUDA: bf16 autocast where the GPU supports it, and host-to-device copies from pinned
memory with `non_blocking=True`, so the copy of the next batch overlaps the compute of
the current one. On CPU both are no-ops: fp32, no copies.
"""

from __future__ import annotations


def is_cuda(device: str) -> bool:
    return str(device).startswith("cuda")


def autocast(device: str):
    """bf16 autocast on a CUDA device that supports it; a disabled context elsewhere."""
    import torch

    enabled = is_cuda(device) and torch.cuda.is_available() and torch.cuda.is_bf16_supported()
    return torch.autocast("cuda", dtype=torch.bfloat16, enabled=enabled)


def to_device(value, device: str):
    """A tensor (or a dict of tensors) on `device`; pinned and non-blocking when the target is CUDA."""
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if not is_cuda(device):
        return value.to(device)
    return value.pin_memory().to(device, non_blocking=True)
