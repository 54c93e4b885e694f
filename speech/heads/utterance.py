"""Utterance classification heads (KS, LID, SID): mean pooling over true lengths + linear layers.

s3prl's `UtteranceLevel` with `MeanPooling`: an optional frame-wise projector (KS 256,
IndicSUPERB SID 8), mean over real frames, optional hidden layers with ReLU (IndicSUPERB
LID: 128), then a linear layer to the classes.
"""

from __future__ import annotations

import torch
from torch import nn

from polyglue.speech.heads import mean_pool


class MeanPoolClassifier(nn.Module):
    """`features (batch, frames, hidden)`, `lengths (batch,)` -> `logits (batch, classes)`.

    >>> MeanPoolClassifier(4, 3, projector_dim=8)(torch.ones(2, 5, 4), torch.tensor([5, 2])).shape
    torch.Size([2, 3])
    """

    def __init__(self, input_dim: int, num_classes: int, *, projector_dim: int | None = None, hidden_dims: tuple[int, ...] = ()):
        super().__init__()
        self.projector = nn.Linear(input_dim, projector_dim) if projector_dim else nn.Identity()
        dims = [projector_dim or input_dim, *hidden_dims]
        layers: list[nn.Module] = []
        for d_in, d_out in zip(dims[:-1], dims[1:]):
            layers += [nn.Linear(d_in, d_out), nn.ReLU()]
        layers.append(nn.Linear(dims[-1], num_classes))
        self.classifier = nn.Sequential(*layers)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return self.classifier(mean_pool(self.projector(features), lengths))
