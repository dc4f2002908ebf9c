"""Layer builders for GAN generators and critics: normalisation, up- and down-sampling blocks.

GAIL's discriminators are plain MLP/CNN stacks (``networks.py``); image (and spectrogram)
generators also need transposed convolutions and a choice of normalisation that depends on
the loss: batch norm suits DCGAN generators, while a WGAN-GP critic must not use batch norm
(the penalty is per sample, Gulrajani et al. 2017 sec. 4), so critics take layer norm or none.
"""

from __future__ import annotations

from torch import nn

from genplay.generative.core.networks import ACTIVATIONS

NORMS = ("none", "batch", "layer", "instance")


def norm_layer(name: str, channels: int) -> nn.Module:
    """A normalisation over ``channels`` feature maps; ``layer`` is GroupNorm(1), i.e. per sample."""
    if name == "none":
        return nn.Identity()
    if name == "batch":
        return nn.BatchNorm2d(channels)
    if name == "layer":
        return nn.GroupNorm(1, channels)
    if name == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    raise ValueError(f"unknown norm {name!r}; expected one of {NORMS}")


def activation(name: str) -> nn.Module:
    """An activation by name (``leaky_relu`` uses the DCGAN slope 0.2)."""
    if name == "leaky_relu":
        return nn.LeakyReLU(0.2)
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; expected one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def _maybe_sn(layer: nn.Module, spectral_norm: bool) -> nn.Module:
    return nn.utils.parametrizations.spectral_norm(layer) if spectral_norm else layer


def up_block(
    c_in: int, c_out: int, *, norm: str = "batch", act: str = "relu", kernel: int = 4, stride: int = 2, padding: int = 1
) -> nn.Sequential:
    """``(B, c_in, H, W) -> (B, c_out, 2H, 2W)`` with the defaults: ConvTranspose2d, norm, activation.

    The conv has no bias when a norm follows (the norm's shift replaces it), as in DCGAN.
    """
    conv = nn.ConvTranspose2d(c_in, c_out, kernel, stride, padding, bias=norm == "none")
    return nn.Sequential(conv, norm_layer(norm, c_out), activation(act))


def down_block(
    c_in: int,
    c_out: int,
    *,
    norm: str = "none",
    act: str = "leaky_relu",
    kernel: int = 4,
    stride: int = 2,
    padding: int = 1,
    spectral_norm: bool = False,
) -> nn.Sequential:
    """``(B, c_in, H, W) -> (B, c_out, H/2, W/2)`` with the defaults: Conv2d, norm, activation."""
    conv = _maybe_sn(nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=norm == "none"), spectral_norm)
    return nn.Sequential(conv, norm_layer(norm, c_out), activation(act))


def dcgan_init(module: nn.Module) -> None:
    """DCGAN initialisation (Radford et al. 2016): conv weights N(0, 0.02), norm scales N(1, 0.02).

    Use as ``net.apply(dcgan_init)``.
    """
    if isinstance(module, nn.Conv2d | nn.ConvTranspose2d | nn.Linear) and not hasattr(module, "parametrizations"):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d | nn.GroupNorm | nn.InstanceNorm2d) and module.weight is not None:
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)
