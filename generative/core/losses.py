"""Adversarial losses and gradient penalties, as pure functions on logits.

Convention everywhere in genplay: the discriminator outputs *logits* and **real/expert
is high**. For the BCE family ``D = sigmoid(logits)`` is the probability of "real".
Every discriminator loss takes optional per-row weights for each side, so a batch can
stand for a weighted distribution (GAIL's absorbing states, importance sampling).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

Loss = Callable[..., torch.Tensor]


def weighted_mean(x: torch.Tensor, weights: torch.Tensor | None = None) -> torch.Tensor:
    """Mean of ``x``, or its ``weights``-weighted mean (weights need not sum to 1).

    ``x`` and ``weights`` must have the same shape: ``(B, 1)`` logits times ``(B,)`` weights
    would broadcast to ``(B, B)`` and silently give a wrong loss.
    """
    if weights is None:
        return x.mean()
    if weights.shape != x.shape:
        raise ValueError(f"weighted_mean: weights of shape {tuple(weights.shape)} for values of shape {tuple(x.shape)}")
    return (x * weights).sum() / weights.sum()


def bce_discriminator_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    real_weights: torch.Tensor | None = None,
    fake_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """-log D(real) - log(1 - D(fake)) (Goodfellow et al. 2014)."""
    return weighted_mean(F.softplus(-real_logits), real_weights) + weighted_mean(F.softplus(fake_logits), fake_weights)


def least_squares_discriminator_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    real_weights: torch.Tensor | None = None,
    fake_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """LSGAN (Mao et al. 2017) with targets 1 for real and 0 for fake, halved."""
    return 0.5 * weighted_mean((real_logits - 1.0) ** 2, real_weights) + 0.5 * weighted_mean(
        fake_logits**2, fake_weights
    )


def hinge_discriminator_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    real_weights: torch.Tensor | None = None,
    fake_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Hinge loss (Lim & Ye 2017; used by SN-GAN, BigGAN)."""
    return weighted_mean(F.relu(1.0 - real_logits), real_weights) + weighted_mean(
        F.relu(1.0 + fake_logits), fake_weights
    )


def wasserstein_discriminator_loss(
    real_logits: torch.Tensor,
    fake_logits: torch.Tensor,
    real_weights: torch.Tensor | None = None,
    fake_weights: torch.Tensor | None = None,
) -> torch.Tensor:
    """Critic loss of WGAN (Arjovsky et al. 2017); pair it with a gradient penalty."""
    return weighted_mean(fake_logits, fake_weights) - weighted_mean(real_logits, real_weights)


def non_saturating_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    """-log D(fake): the generator loss that keeps gradients when D wins early."""
    return F.softplus(-fake_logits).mean()


def least_squares_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return 0.5 * ((fake_logits - 1.0) ** 2).mean()


def hinge_generator_loss(fake_logits: torch.Tensor) -> torch.Tensor:
    return -fake_logits.mean()


DISCRIMINATOR_LOSSES: dict[str, Loss] = {
    "bce": bce_discriminator_loss,
    "least_squares": least_squares_discriminator_loss,
    "hinge": hinge_discriminator_loss,
    "wasserstein": wasserstein_discriminator_loss,
}

GENERATOR_LOSSES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "bce": non_saturating_generator_loss,
    "least_squares": least_squares_generator_loss,
    "hinge": hinge_generator_loss,
    "wasserstein": hinge_generator_loss,  # -E[critic(fake)] for both
}


def discriminator_loss(name: str) -> Loss:
    """Look up a discriminator loss by name, with a clear error for typos."""
    if name not in DISCRIMINATOR_LOSSES:
        raise ValueError(f"unknown discriminator loss {name!r}; expected one of {sorted(DISCRIMINATOR_LOSSES)}")
    return DISCRIMINATOR_LOSSES[name]


def _input_grad_sq_norm(net: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(net(x).sum(), x, create_graph=True)
    return grad.flatten(1).pow(2).sum(dim=1)


def r1_penalty(net: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """R1 (Mescheder et al. 2018): E ||grad_x D(x)||^2 on real data; weight it by gamma/2."""
    return _input_grad_sq_norm(net, real).mean()


def wgan_gp_penalty(
    net: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    *,
    generator: torch.Generator | None = None,
    uniform: Callable[[tuple[int, ...]], torch.Tensor] | None = None,
) -> torch.Tensor:
    """WGAN-GP (Gulrajani et al. 2017): E (||grad D(x_hat)|| - 1)^2 on random interpolates.

    ``uniform(shape)`` draws the interpolation weights instead of ``torch.rand`` (data-parallel
    ranks draw their rows of the global batch's, ``core.distributed.rank_draw``).
    """
    n = min(len(real), len(fake))
    eps_shape = (n,) + (1,) * (real.dim() - 1)
    draw = uniform or (lambda shape: torch.rand(shape, device=real.device, generator=generator))
    eps = draw(eps_shape)
    x_hat = eps * real[:n].detach() + (1.0 - eps) * fake[:n].detach()
    return (_input_grad_sq_norm(net, x_hat).add(1e-12).sqrt() - 1.0).pow(2).mean()


PENALTIES = ("none", "r1", "wgan_gp")
