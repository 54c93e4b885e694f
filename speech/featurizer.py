"""The SUPERB featurizer: a softmax-weighted sum of an upstream's layers, learned per task.

One scalar per layer, initialised to zero (every layer weighted 1/L at the start), as
s3prl's `Featurizer`; no per-layer normalisation (SUPERB keeps each upstream's
representation as it is). With a single layer (FBANK) it is the identity.
"""

from __future__ import annotations

import torch
from torch import nn


class WeightedLayerSum(nn.Module):
    """`(batch, frames, layers, hidden)` -> `(batch, frames, hidden)`.

    >>> WeightedLayerSum(3)(torch.ones(2, 5, 3, 4)).shape
    torch.Size([2, 5, 4])
    """

    def __init__(self, num_layers: int):
        super().__init__()
        self.num_layers = num_layers
        self.weights = nn.Parameter(torch.zeros(num_layers))

    def forward(self, stacked: torch.Tensor) -> torch.Tensor:
        if stacked.shape[2] != self.num_layers:
            raise ValueError(f"expected {self.num_layers} layers, got {stacked.shape[2]}")
        if self.num_layers == 1:
            return stacked[:, :, 0].float()
        norm = torch.softmax(self.weights, dim=0)
        # Layer by layer: the input stays float16 and only one float32 layer exists at a time.
        out = norm[0] * stacked[:, :, 0].float()
        for layer in range(1, self.num_layers):
            out = out + norm[layer] * stacked[:, :, layer].float()
        return out

    def layer_weights(self) -> list[float]:
        """The learned softmax weights, one per layer (stored with the results)."""
        with torch.no_grad():
            return [round(float(w), 6) for w in torch.softmax(self.weights, dim=0)]
