"""The SUPERB featurizer: a softmax-weighted sum of an upstream's layers, learned per task.

One scalar per layer, initialised to zero (every layer weighted 1/L at the start), as
s3prl's `Featurizer`; no per-layer normalisation (SUPERB keeps each upstream's
representation as it is). With a single layer (FBANK) it is the identity.
"""

from __future__ import annotations

import torch
from torch import nn


MAX_FLOAT_VALUES = 64 * 2**20
"""Float32 values converted at once (256 MB); larger batches are summed a few utterances at a time."""


class WeightedLayerSum(nn.Module):
    """`(batch, layers, frames, hidden)` (float16 or float32) -> `(batch, frames, hidden)` float32.

    Layers come before frames so the sum is one batched matrix product over contiguous
    layer blocks (several times faster on CPU than summing strided per-layer slices).

    >>> WeightedLayerSum(3)(torch.ones(2, 3, 5, 4)).shape
    torch.Size([2, 5, 4])
    """

    def __init__(self, num_layers: int):
        super().__init__()
        self.num_layers = num_layers
        self.weights = nn.Parameter(torch.zeros(num_layers))

    def forward(self, stacked: torch.Tensor) -> torch.Tensor:
        batch, layers, frames, hidden = stacked.shape
        if layers != self.num_layers:
            raise ValueError(f"expected {self.num_layers} layers, got {layers}")
        if layers == 1:
            return stacked[:, 0].float()
        norm = torch.softmax(self.weights, dim=0)  # size (layers,)
        rows = max(1, MAX_FLOAT_VALUES // (layers * frames * hidden))
        out = [
            (norm @ chunk.reshape(chunk.shape[0], layers, frames * hidden).float()).reshape(chunk.shape[0], frames, hidden)
            for chunk in stacked.split(rows)
        ]
        return out[0] if len(out) == 1 else torch.cat(out)

    def layer_weights(self) -> list[float]:
        """The learned softmax weights, one per layer (stored with the results)."""
        with torch.no_grad():
            return [round(float(w), 6) for w in torch.softmax(self.weights, dim=0)]
