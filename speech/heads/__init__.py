"""Task heads on top of the weighted layer sum (SUPERB / IndicSUPERB recipes).

Every head takes `features (batch, frames, hidden)` and `lengths (batch,)` in frames.
"""

from __future__ import annotations

import torch


def length_mask(lengths: torch.Tensor, frames: int) -> torch.Tensor:
    """`(batch, frames)` bool, True on real frames (not padding)."""
    return torch.arange(frames, device=lengths.device)[None, :] < lengths[:, None]


def mean_pool(features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Mean over the true frames of each utterance: `(batch, frames, hidden)` -> `(batch, hidden)`."""
    mask = length_mask(lengths, features.shape[1]).unsqueeze(-1).to(features.dtype)
    return (features * mask).sum(1) / lengths.clamp(min=1).unsqueeze(-1).to(features.dtype)
