"""The SUPERB/IndicSUPERB ASV head: x-vector TDNN, statistics pooling, AM-softmax training.

Linear(hidden -> 512), five TDNN layers (contexts 5/3/3/1/1 frames, dilations 1/2/3/1/1,
512 channels, the last 1500), each ReLU + batch norm, mean and standard deviation over the
real frames (3000), a 512-dim embedding. Training uses additive-margin softmax (s 30, m 0.4);
trials are scored by the cosine of the two embeddings.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from polyglue.speech.heads import length_mask

CONTEXTS = (5, 3, 3, 1, 1)
DILATIONS = (1, 2, 3, 1, 1)
LOST_FRAMES = sum((c - 1) * d for c, d in zip(CONTEXTS, DILATIONS))
"""Frames the unpadded TDNN consumes at the edges (14): shorter inputs are zero-padded."""


class XVector(nn.Module):
    """`features (batch, frames, hidden)`, `lengths (batch,)` -> `embeddings (batch, embed_dim)`.

    >>> XVector(4, channels=8, agg_dim=10, embed_dim=6)(torch.ones(2, 30, 4), torch.tensor([30, 20])).shape
    torch.Size([2, 6])
    """

    def __init__(self, input_dim: int, *, input_proj: int = 512, channels: int = 512, agg_dim: int = 1500, embed_dim: int = 512):
        super().__init__()
        self.input_proj = nn.Linear(input_dim, input_proj)
        dims = [input_proj] + [channels] * (len(CONTEXTS) - 1) + [agg_dim]
        self.tdnn = nn.ModuleList(
            nn.Sequential(nn.Conv1d(d_in, d_out, context, dilation=dilation), nn.ReLU(), nn.BatchNorm1d(d_out))
            for d_in, d_out, context, dilation in zip(dims[:-1], dims[1:], CONTEXTS, DILATIONS)
        )
        self.embedding = nn.Linear(2 * agg_dim, embed_dim)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.input_proj(features)  # size (batch, frames, input_proj)
        if x.shape[1] <= LOST_FRAMES:
            x = F.pad(x, (0, 0, 0, LOST_FRAMES + 1 - x.shape[1]))
        x = x.transpose(1, 2)  # size (batch, input_proj, frames)
        for layer in self.tdnn:
            x = layer(x)
        # size (batch, agg_dim, frames - LOST_FRAMES)
        valid = (lengths - LOST_FRAMES).clamp(min=1)
        mask = length_mask(valid, x.shape[2]).unsqueeze(1).to(x.dtype)
        count = valid.unsqueeze(1).to(x.dtype)
        mean = (x * mask).sum(2) / count
        var = (((x - mean.unsqueeze(2)) * mask) ** 2).sum(2) / count
        stats = torch.cat([mean, var.clamp(min=1e-8).sqrt()], dim=1)  # size (batch, 2 * agg_dim)
        return self.embedding(stats)


class AMSoftmaxLoss(nn.Module):
    """Additive-margin softmax: logits `s * (cos(theta) - m)` for the true class, `s * cos(theta)` otherwise."""

    def __init__(self, embed_dim: int, num_classes: int, *, scale: float = 30.0, margin: float = 0.4):
        super().__init__()
        self.scale, self.margin = scale, margin
        self.weight = nn.Parameter(torch.randn(num_classes, embed_dim) * 0.01)

    def forward(self, embeddings: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        cosine = F.linear(F.normalize(embeddings), F.normalize(self.weight))  # size (batch, classes)
        margin = F.one_hot(targets, cosine.shape[1]).to(cosine.dtype) * self.margin
        return F.cross_entropy(self.scale * (cosine - margin), targets)


def cosine_scores(enroll: torch.Tensor, test: torch.Tensor) -> torch.Tensor:
    """Row-wise cosine similarity of two `(trials, embed_dim)` tensors -> `(trials,)`."""
    return F.cosine_similarity(enroll, test, dim=1)
