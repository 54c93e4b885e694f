"""The SUPERB ASR head: projection, 2-layer BiLSTM, CTC over characters, greedy decoding.

Linear(hidden -> 1024), a bidirectional LSTM of 2 layers x 1024 units, a linear layer to
the character vocabulary plus the CTC blank (index 0). During training, SpecAugment-style
masks hide feature bands and time spans (s3prl's ASR recipe; its time warping is left out).
"""

from __future__ import annotations

import torch
from torch import nn


class BiLSTMCTC(nn.Module):
    """`features (batch, frames, hidden)`, `lengths (batch,)` -> `log_probs (batch, frames, vocab + 1)`.

    >>> BiLSTMCTC(4, 5, project_dim=8, hidden_dim=6)(torch.ones(2, 7, 4), torch.tensor([7, 3])).shape
    torch.Size([2, 7, 6])
    """

    def __init__(self, input_dim: int, vocab_size: int, *, project_dim: int = 1024, hidden_dim: int = 1024, layers: int = 2):
        super().__init__()
        self.project = nn.Linear(input_dim, project_dim)
        self.lstm = nn.LSTM(project_dim, hidden_dim, num_layers=layers, bidirectional=True, batch_first=True)
        self.output = nn.Linear(2 * hidden_dim, vocab_size + 1)

    def forward(self, features: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        x = self.project(features)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.lstm(packed)
        out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=features.shape[1])
        return self.output(out).log_softmax(-1)


def spec_augment(features: torch.Tensor, generator: torch.Generator, *, freq_masks: int = 4, max_freq_width: int = 50,
                 time_masks: int = 2, max_time_width: int = 40) -> torch.Tensor:
    """Zero random bands of the hidden dimension and random time spans, per utterance: `(batch, frames, hidden)`."""
    out = features.clone()
    batch, frames, hidden = out.shape
    for b in range(batch):
        for _ in range(freq_masks):
            width = int(torch.randint(0, min(max_freq_width, hidden) + 1, (1,), generator=generator))
            start = int(torch.randint(0, max(1, hidden - width + 1), (1,), generator=generator))
            out[b, :, start : start + width] = 0
        for _ in range(time_masks):
            width = int(torch.randint(0, min(max_time_width, frames) + 1, (1,), generator=generator))
            start = int(torch.randint(0, max(1, frames - width + 1), (1,), generator=generator))
            out[b, start : start + width, :] = 0
    return out


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor) -> list[list[int]]:
    """Best path per utterance, repeats merged and blanks (0) dropped -> label ids (1-based)."""
    best = log_probs.argmax(-1).cpu()
    out = []
    for row, length in zip(best, lengths.cpu()):
        ids, previous = [], None
        for token in row[: int(length)].tolist():
            if token != previous and token != 0:
                ids.append(token)
            previous = token
        out.append(ids)
    return out
