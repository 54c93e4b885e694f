"""The IndicSUPERB ASV model (`indic_asv`, `configs/amsoftmax.yaml`), module for module.

Read from AI4Bharat/IndicSUPERB `s3prl/downstream/indic_asv/{expert,model}.py` (not copied):

- `connector`: Linear(upstream hidden -> 512) on every frame;
- `XVector`: five TDNN layers (context 5/3/3/1/1, dilation 1/2/3/1/1, 512 channels, the last
  1500 = `agg_dim`), each a Linear over the concatenated context frames followed by ReLU;
  `batch_norm: False` and `dropout_p: 0.0` in the config, so neither is built;
- `SP` statistics pooling: mean and (unbiased) standard deviation over time -> 3000;
- `UtteranceExtractor`: Linear(3000 -> 512), ReLU, Linear(512 -> 512), ReLU in training;
  the embedding scored on trials (`inference`) is the first Linear + ReLU only;
- `AMSoftmaxLoss` (s 30, m 0.4) with a weight of shape (512, speakers), Xavier-normal.

Pooling length follows the official code exactly: the attention mask marks the first
`frames - 14` TDNN outputs of each utterance, and `SP`/`MP` pool over `[: first masked
index + 1]`, i.e. one padded frame more than the true length on every padded row (rows
without padding use all frames). Padding is zeros before the connector in both codes, so
the extra frame has the same value here as there. Evaluation is one utterance at a time
in the official code (no padding), and `embed` does the same per row.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

CONTEXTS = (5, 3, 3, 1, 1)
DILATIONS = (1, 2, 3, 1, 1)
LOST_FRAMES = sum((c - 1) * d for c, d in zip(CONTEXTS, DILATIONS))
"""14: frames the unpadded TDNN stack consumes; `expert.py` masks `frames - 14` outputs."""


class TDNN(nn.Module):
    """Linear over `context` frames spaced `dilation` apart (no padding), then ReLU: `(B, T, in) -> (B, T - span + 1, out)`."""

    def __init__(self, input_dim: int, output_dim: int, context: int, dilation: int):
        super().__init__()
        self.context, self.dilation = context, dilation
        self.kernel = nn.Linear(input_dim * context, output_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        span = (self.context - 1) * self.dilation + 1
        windows = x.unfold(1, span, 1)[..., :: self.dilation]  # size (B, T', in, context)
        windows = windows.transpose(2, 3).reshape(x.shape[0], windows.shape[1], -1)  # frame-major, as F.unfold orders it
        return F.relu(self.kernel(windows))


class IndicASV(nn.Module):
    """`features (B, T, hidden)`, `lengths (B,)` -> training vectors `(B, 512)`; `embed` -> trial embeddings."""

    def __init__(self, input_dim: int, *, model_dim: int = 512, agg_dim: int = 1500):
        super().__init__()
        self.connector = nn.Linear(input_dim, model_dim)
        dims = [model_dim] * len(CONTEXTS) + [agg_dim]
        self.tdnn = nn.Sequential(*(TDNN(i, o, c, d) for i, o, c, d in zip(dims[:-1], dims[1:], CONTEXTS, DILATIONS)))
        self.linear1 = nn.Linear(2 * agg_dim, model_dim)
        self.linear2 = nn.Linear(model_dim, model_dim)

    def _pooled(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.connector(features)
        if x.shape[1] <= LOST_FRAMES:  # the official code cannot run on < 15 frames; pad with zeros
            x = F.pad(x, (0, 0, 0, LOST_FRAMES + 1 - x.shape[1]))
        x = self.tdnn(x)  # size (B, T - 14, agg_dim)
        valid = (lengths.to(x.device) - LOST_FRAMES).clamp(min=1)
        # official: length = first masked index + 1 on padded rows, all frames otherwise
        pooled = torch.where(valid < x.shape[1], valid + 1, torch.full_like(valid, x.shape[1]))
        rows = []
        for row, n in zip(x, pooled.tolist()):
            frames = row[:n]
            std = frames.std(0) if n > 1 else torch.zeros_like(frames[0])
            rows.append(torch.cat([frames.mean(0), std]))
        return torch.stack(rows)  # size (B, 2 * agg_dim)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        return F.relu(self.linear2(F.relu(self.linear1(self._pooled(features, lengths)))))

    def embed(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Trial embeddings (`inference`): linear1 + ReLU, each row pooled over its own frames only."""
        rows = [self._pooled(f[None, : int(n)], n[None]) for f, n in zip(features, lengths)]
        return F.relu(self.linear1(torch.cat(rows)))


class IndicAMSoftmax(nn.Module):
    """AM-softmax as `indic_asv/model.py`: weight `(hidden, speakers)`, Xavier-normal; `-mean(log p)` with margin."""

    def __init__(self, hidden_dim: int, speakers: int, *, s: float = 30.0, m: float = 0.4):
        super().__init__()
        self.s, self.m = s, m
        self.W = nn.Parameter(torch.empty(hidden_dim, speakers))
        nn.init.xavier_normal_(self.W, gain=1)

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        wf = F.normalize(x, dim=1) @ F.normalize(self.W, dim=0)  # size (B, speakers)
        margin = F.one_hot(labels, wf.shape[1]).to(wf.dtype) * self.m
        # numerator s(cos_y - m), denominator exp(num) + sum_{j != y} exp(s cos_j): a cross-entropy
        return F.cross_entropy(self.s * (wf - margin), labels)
