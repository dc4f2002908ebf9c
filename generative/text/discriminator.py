"""Sequence discriminator: a CNN over token embeddings (Kim 2014; SeqGAN's choice), logit real-high.

The core's ``cnn`` is an image stack (Conv2d, strides); text needs 1-D convolutions of several
widths with max-over-time pooling, so this small module is written here. It is split into
``embed`` (token ids -> floats) and ``score`` (floats -> logit) so that the core's R1 / WGAN-GP
penalties act on embeddings, never on integer token ids: ``discriminator_step`` is called
with ``real = embed(real_tokens)``, ``fake = embed(fake_tokens)`` and ``net = score``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class Highway(nn.Module):
    """One highway layer (Srivastava et al. 2015), as in SeqGAN's discriminator."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.transform = nn.Linear(dim, dim)
        self.gate = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        g = torch.sigmoid(self.gate(x))
        return g * torch.relu(self.transform(x)) + (1.0 - g) * x


class CNNDiscriminator(nn.Module):
    """``(N, T)`` tokens -> ``(N,)`` logits; convolutions of each width, max over time, highway, linear."""

    def __init__(
        self,
        *,
        vocab_size: int,
        seq_len: int,
        emb_dim: int = 64,
        filter_sizes: Sequence[int] = (1, 2, 3, 4, 5, 8, 10, 15, 20),
        num_filters: int = 32,
        dropout: float = 0.25,
    ) -> None:
        super().__init__()
        sizes = [k for k in filter_sizes if k <= seq_len] or [seq_len]
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, num_filters, k) for k in sizes)
        n_feat = num_filters * len(sizes)
        self.head = nn.Sequential(Highway(n_feat), nn.Dropout(dropout), nn.Linear(n_feat, 1))

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """``(N, T)`` int64 -> ``(N, T, E)`` floats: the input space of ``score`` and of the penalties."""
        return self.embedding(tokens)

    def embed_soft(self, probs: torch.Tensor) -> torch.Tensor:
        """``(N, T, V)`` (relaxed) one-hots -> ``(N, T, E)``: the same space as ``embed`` of hard tokens."""
        return probs @ self.embedding.weight

    def score(self, emb: torch.Tensor) -> torch.Tensor:
        """``(N, T, E)`` embedded sequences -> ``(N,)`` logits (real high)."""
        x = emb.transpose(1, 2)  # (N, E, T): channels first for Conv1d
        feats = torch.cat([torch.relu(conv(x)).amax(dim=2) for conv in self.convs], dim=1)  # (N, F)
        return self.head(feats).squeeze(1)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.score(self.embed(tokens))
