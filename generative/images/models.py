"""DCGAN-style generator and critic for small images, optionally class-conditional.

pytorch/examples' DCGAN (Radford et al. 2016) shrunk to two up/down-sampling stages, so one
architecture serves 8x8 digits and 28x28 MNIST (H and W multiples of 4). Conditioning:
the generator concatenates a label embedding to the noise; the critic ends in the core's
projection head (Miyato & Koyama 2018): ``logit = w . phi(x) + embed(y) . phi(x)``, and can see
the batch's spread through the core's minibatch standard deviation layer (Karras et al. 2018).
"""

from __future__ import annotations

import torch
from torch import nn

from genplay.generative.core.builders import dcgan_init, down_block, norm_layer, up_block
from genplay.generative.core.networks import MinibatchStd, ProjectionHead


class Generator(nn.Module):
    """``z (B, z_dim)`` [+ labels (B,)] ``-> images (B, C, H, W)`` in [-1, 1]."""

    def __init__(
        self, *, z_dim: int, image_shape: tuple[int, int, int], n_classes: int = 0, base_channels: int = 64
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        if h % 4 or w % 4:
            raise ValueError(f"image height and width must be multiples of 4, got {h}x{w}")
        self.z_dim, self.image_shape, self.n_classes = z_dim, image_shape, n_classes
        embed_dim = 32 if n_classes else 0
        self.embed = nn.Embedding(n_classes, embed_dim) if n_classes else None
        c0 = 2 * base_channels
        self.project = nn.Sequential(  # (B, z_dim + embed_dim) -> (B, 2b, H/4, W/4)
            nn.Linear(z_dim + embed_dim, c0 * (h // 4) * (w // 4), bias=False),
            nn.Unflatten(1, (c0, h // 4, w // 4)),
            norm_layer("batch", c0),
            nn.ReLU(),
        )
        self.body = nn.Sequential(
            up_block(c0, base_channels, norm="batch", act="relu"),  # (B, b, H/2, W/2)
            nn.ConvTranspose2d(base_channels, c, 4, 2, 1),  # (B, C, H, W)
            nn.Tanh(),
        )
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.embed is not None:
            if labels is None:
                raise ValueError("this generator is class-conditional: pass labels")
            z = torch.cat([z, self.embed(labels)], dim=1)
        return self.body(self.project(z))


class Critic(nn.Module):
    """``images (B, C, H, W)`` [+ labels (B,)] ``-> logits (B,)``, real high.

    ``norm`` applies to the second stage only (DCGAN leaves the first unnormalised); use
    ``none`` or ``layer`` with WGAN-GP, whose per-sample penalty batch norm would break.
    ``spectral_norm`` covers every layer, the projection head included; ``minibatch_std``
    adds the batch-spread feature map before the second stage, over groups of ``minibatch_std_group`` rows.
    """

    def __init__(
        self,
        *,
        image_shape: tuple[int, int, int],
        n_classes: int = 0,
        base_channels: int = 64,
        norm: str = "none",
        spectral_norm: bool = False,
        minibatch_std: bool = False,
        minibatch_std_group: int = 4,
    ) -> None:
        super().__init__()
        c, h, w = image_shape
        n_features = 2 * base_channels * (h // 4) * (w // 4)
        extra = 1 if minibatch_std else 0
        self.features = nn.Sequential(
            down_block(c, base_channels, spectral_norm=spectral_norm),  # (B, b, H/2, W/2)
            MinibatchStd(minibatch_std_group) if minibatch_std else nn.Identity(),  # (B, b + extra, H/2, W/2)
            down_block(base_channels + extra, 2 * base_channels, norm=norm, spectral_norm=spectral_norm),
            nn.Flatten(),  # (B, 2b * H/4 * W/4)
        )
        self.apply(dcgan_init)
        self.head = ProjectionHead(n_features, n_classes, spectral_norm=spectral_norm)
        if not spectral_norm:
            dcgan_init(self.head.linear)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        if self.head.n_classes and labels is None:
            raise ValueError("this critic is class-conditional: pass labels")
        return self.head(self.features(x), labels)
