"""The exportable RUL network: a small dilated 1D CNN over [batch, window, features].

Framework-free torch (no training code here) so it exports to ONNX as is. Dilations 1, 2, 4
give a receptive field of 15 cycles at the top layer; the head reads the last cycle (where the
engine is now), the mean over the window (its recent level) and the max (its worst excursion).
The output is RUL in cycles: the net predicts a fraction of the cap and scales it back, which
keeps the regression target near unit scale. Importing this module imports torch: only training
and export code may import it.
"""

from __future__ import annotations

import torch
from torch import nn


class RulCnn(nn.Module):
    """Dilated residual 1D CNN: [batch, window, features] -> RUL [batch, 1] in cycles."""

    def __init__(
        self, n_features: int, channels: int = 64, dropout: float = 0.2, cap_cycles: float = 125.0
    ):
        super().__init__()
        self.cap_cycles = float(cap_cycles)
        self.inp = nn.Conv1d(n_features, channels, kernel_size=5, padding=2)
        self.blocks = nn.ModuleList(
            [nn.Conv1d(channels, channels, kernel_size=3, dilation=d, padding=d) for d in (2, 4)]
        )
        self.act = nn.GELU()
        self.head = nn.Sequential(
            nn.Linear(3 * channels, 64),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(64, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.act(self.inp(x.transpose(1, 2)))
        for conv in self.blocks:
            h = h + self.act(conv(h))
        pooled = torch.cat([h[:, :, -1], h.mean(dim=2), h.amax(dim=2)], dim=1)
        return self.head(pooled) * self.cap_cycles


class RulEnsemble(nn.Module):
    """Mean of several members: one ONNX graph, one prediction."""

    def __init__(self, members: list[nn.Module]):
        super().__init__()
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([m(x) for m in self.members], dim=0).mean(dim=0)
