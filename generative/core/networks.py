"""Network builders shared by every discriminator and generator in genplay.

Small, explicit ``nn.Sequential`` stacks. Spectral normalisation (Miyato et al. 2018) is
an option on every linear/conv layer, because it is the cheapest Lipschitz control for
discriminators of any modality. Two critic pieces against mode collapse live here too, so
every modality's critic can use them: ``MinibatchStd`` (a feature map of the batch's
spread) and ``ProjectionHead`` (the class-conditional output layer of a projection critic).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}


def _maybe_sn(layer: nn.Module, spectral_norm: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer


def _activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def mlp(
    in_dim: int,
    out_dim: int,
    hidden: Sequence[int] = (64, 64),
    *,
    activation: str = "tanh",
    spectral_norm: bool = False,
) -> nn.Sequential:
    """Multi-layer perceptron ``in_dim -> hidden... -> out_dim`` (no output activation)."""
    layers: list[nn.Module] = []
    dims = [in_dim, *hidden]
    for d_in, d_out in zip(dims[:-1], dims[1:]):
        layers += [_maybe_sn(nn.Linear(d_in, d_out), spectral_norm), _activation(activation)]
    layers.append(_maybe_sn(nn.Linear(dims[-1], out_dim), spectral_norm))
    return nn.Sequential(*layers)


def cnn(
    in_channels: int,
    image_hw: tuple[int, int],
    out_dim: int,
    *,
    channels: Sequence[int] = (32, 64, 64),
    kernels: Sequence[int] = (8, 4, 3),
    strides: Sequence[int] = (4, 2, 1),
    activation: str = "relu",
    spectral_norm: bool = False,
) -> nn.Sequential:
    """Nature-DQN style conv stack ``(B, C, H, W) float -> (B, out_dim)``.

    Inputs are channels-first floats (scale uint8 frames to [0, 1] before calling).
    The default kernels/strides are those of Mnih et al. 2015 for 84x84 Atari frames.
    """
    if not (len(channels) == len(kernels) == len(strides)):
        raise ValueError("channels, kernels and strides must have the same length")
    layers: list[nn.Module] = []
    c_in = in_channels
    for c_out, k, s in zip(channels, kernels, strides):
        layers += [_maybe_sn(nn.Conv2d(c_in, c_out, k, s), spectral_norm), _activation(activation)]
        c_in = c_out
    layers.append(nn.Flatten())
    with torch.no_grad():  # infer the flattened size once, instead of guessing it
        n_flat = nn.Sequential(*layers)(torch.zeros(1, in_channels, *image_hw)).shape[1]
    layers += [_maybe_sn(nn.Linear(n_flat, out_dim), spectral_norm)]
    return nn.Sequential(*layers)


class MinibatchStd(nn.Module):
    """Append the batch's mean standard deviation as one more feature map (Karras et al. 2018, ProGAN).

    ``(B, C, H, W) -> (B, C + 1, H, W)``. A collapsed generator's batch has almost no spread, so a
    critic that sees it can tell such a batch from a real one and the generator is pushed to spread
    out. Groups are ``group_size`` *consecutive* rows (the largest divisor of B not above it), so a
    discriminator step's ``cat([real, fake])`` never mixes real and fake rows in one group when the
    real batch's size is a multiple of the group size.
    """

    def __init__(self, group_size: int = 4) -> None:
        super().__init__()
        if group_size < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}")
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        g = next(d for d in range(min(self.group_size, b), 0, -1) if b % d == 0)
        groups = x.reshape(b // g, g, *x.shape[1:])  # (B/g, g, C, H, W): consecutive rows together
        centred = groups - groups.mean(dim=1, keepdim=True)  # by hand: torch's var here is ~5x slower on CPU
        std = (centred.square().mean(dim=1) + 1e-8).sqrt()  # (B/g, C, H, W)
        stat = std.mean(dim=(1, 2, 3))  # (B/g,): one number per group
        stat = stat.repeat_interleave(g).reshape(b, 1, 1, 1).expand(b, 1, h, w)
        return torch.cat([x, stat], dim=1)


class ProjectionHead(nn.Module):
    """Output layer of a projection discriminator (Miyato & Koyama 2018): ``w . phi + b + embed(y) . phi``.

    ``phi (B, F)`` features [+ labels (B,)] ``-> logits (B,)``. The class enters as an inner
    product with the features rather than as an input, which keeps the critic's judgement of
    realism shared across classes and its class term a learned per-class direction. With
    ``n_classes = 0`` it is a plain linear head. ``spectral_norm`` covers both the linear layer
    and the class embedding (as in SN-GAN's projection critic).
    """

    def __init__(self, n_features: int, n_classes: int = 0, *, spectral_norm: bool = False) -> None:
        super().__init__()
        self.n_classes = n_classes
        self.linear = _maybe_sn(nn.Linear(n_features, 1), spectral_norm)
        self.embed = None
        if n_classes:
            embed = nn.Embedding(n_classes, n_features)
            nn.init.normal_(embed.weight, 0.0, 0.02)
            self.embed = _maybe_sn(embed, spectral_norm)

    def forward(self, phi: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        logits = self.linear(phi).squeeze(1)
        if self.embed is None:
            return logits
        if labels is None:
            raise ValueError("this head is class-conditional: pass labels")
        return logits + (self.embed(labels) * phi).sum(dim=1)
