"""Network builders shared by every discriminator and generator in genplay.

Small, explicit ``nn.Sequential`` stacks. Spectral normalisation (Miyato et al. 2018) is
an option on every linear/conv layer, because it is the cheapest Lipschitz control for
discriminators of any modality.
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
