"""A time-conditioned MLP for vector data (2D densities, low-dimensional states)."""

from __future__ import annotations

import torch
from torch import nn

from genlab.core.nn.embeddings import SinusoidalEmbedding
from genlab.core.tensors import check_time


class TimeMLP(nn.Module):
    """``model(x, t, y=None) -> prediction`` for x of shape [B, dim] and t of shape [B].

    Time (and an optional class label) enter through an embedding added to every hidden layer,
    so the field can change shape along t rather than only shift.
    """

    def __init__(
        self, dim: int, hidden: int = 256, depth: int = 4, num_classes: int = 0, out_dim: int | None = None
    ):
        super().__init__()
        self.dim, self.num_classes = dim, num_classes
        self.time = nn.Sequential(SinusoidalEmbedding(hidden), nn.Linear(hidden, hidden), nn.SiLU())
        self.label = nn.Embedding(num_classes + 1, hidden) if num_classes else None  # last index = no label
        self.inp = nn.Linear(dim, hidden)
        self.layers = nn.ModuleList(nn.Linear(hidden, hidden) for _ in range(depth - 1))
        self.out = nn.Linear(hidden, out_dim or dim)

    def forward(self, x: torch.Tensor, t: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        if x.ndim != 2 or x.shape[1] != self.dim:
            raise ValueError(f"TimeMLP expects x of shape [B, {self.dim}], got {tuple(x.shape)}")
        check_time(t, x[:, 0])
        emb = self.time(t)
        if self.label is not None:
            labels = torch.full_like(t, self.num_classes, dtype=torch.long) if y is None else y
            emb = emb + self.label(labels)
        h = torch.nn.functional.silu(self.inp(x) + emb)
        for layer in self.layers:
            h = torch.nn.functional.silu(layer(h) + emb)
        return self.out(h)
