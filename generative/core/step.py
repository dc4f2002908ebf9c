"""One discriminator update, shared by GAIL and every GAN in genplay."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

from genplay.generative.core.losses import (
    DISCRIMINATOR_LOSSES,
    PENALTIES,
    discriminator_loss,
    r1_penalty,
    weighted_mean,
    wgan_gp_penalty,
)
from genplay.settings import NON_NEGATIVE, OneOf, check_fields, check_float, field_label


@dataclass(frozen=True)
class DiscriminatorStepConfig:
    """How one discriminator step is computed."""

    loss: str = "bce"
    """One of bce, least_squares, hinge, wasserstein."""
    penalty: str = "none"
    """Gradient penalty on the inputs: none, r1 (on real), wgan_gp (on interpolates)."""
    penalty_weight: float = 10.0
    """Multiplier of the penalty term (gamma/2 for R1, lambda for WGAN-GP)."""
    max_grad_norm: float | None = None
    """Clip the parameter gradient norm, if set."""

    def __post_init__(self) -> None:
        losses = OneOf(tuple(DISCRIMINATOR_LOSSES))
        check_fields(self, {"loss": losses, "penalty": OneOf(PENALTIES), "penalty_weight": NON_NEGATIVE})
        if self.max_grad_norm is not None:
            check_float(field_label(self, "max_grad_norm"), self.max_grad_norm, 0.0, low_open=True)


def discriminator_step(
    net: torch.nn.Module | Callable[[torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    real: torch.Tensor,
    fake: torch.Tensor,
    config: DiscriminatorStepConfig = DiscriminatorStepConfig(),
    *,
    real_weights: torch.Tensor | None = None,
    fake_weights: torch.Tensor | None = None,
    parameters: list[torch.nn.Parameter] | None = None,
    grad_hook: Callable[[], None] | None = None,
    uniform: Callable[[tuple[int, ...]], torch.Tensor] | None = None,
) -> dict[str, float]:
    """Take one optimiser step on ``loss(net(real), net(fake)) + weight * penalty``.

    ``real`` and ``fake`` are float feature tensors (the same layout), optionally with
    per-row weights (the batch then stands for that weighted distribution). Returns logged
    statistics: total loss, adversarial loss, penalty, and the accuracy on each side
    (logit > 0 counts as "real", so accuracy is only meaningful for BCE-like losses).
    ``grad_hook`` runs after backward, before clipping and the step: data-parallel
    training averages the gradients over ranks there (``core.distributed.allreduce_grads``)
    and passes ``uniform`` for WGAN-GP's interpolation weights (see ``wgan_gp_penalty``).
    """
    real_logits = net(torch.cat([real, fake]))
    real_logits, fake_logits = real_logits[: len(real)], real_logits[len(real) :]
    adv = discriminator_loss(config.loss)(real_logits, fake_logits, real_weights, fake_weights)
    if config.penalty == "r1":
        penalty = r1_penalty(net, real)
    elif config.penalty == "wgan_gp":
        penalty = wgan_gp_penalty(net, real, fake, uniform=uniform)
    else:
        penalty = torch.zeros((), device=real.device)
    loss = adv + config.penalty_weight * penalty
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if grad_hook is not None:
        grad_hook()
    _refuse_non_finite_grads(optimizer, loss)
    if config.max_grad_norm is not None:
        params = parameters if parameters is not None else [p for g in optimizer.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, config.max_grad_norm)
    optimizer.step()
    with torch.no_grad():
        return {
            "loss": float(loss),
            "adversarial_loss": float(adv),
            "penalty": float(penalty),
            "accuracy_real": float(weighted_mean((real_logits > 0).float(), real_weights)),
            "accuracy_fake": float(weighted_mean((fake_logits < 0).float(), fake_weights)),
            "logits_real": float(weighted_mean(real_logits, real_weights)),
            "logits_fake": float(weighted_mean(fake_logits, fake_weights)),
        }


def _refuse_non_finite_grads(optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
    """Stop before a NaN/inf update reaches the weights (and so any checkpoint), for every discriminator.

    Checked on the gradients after ``grad_hook``: under data parallelism they are the all-reduced ones,
    the same on every rank, so all ranks stop together (a rank-local loss check could leave the others
    waiting in the next all-reduce)."""
    grads = [p.grad for g in optimizer.param_groups for p in g["params"] if p.grad is not None]
    if grads and not bool(torch.stack([torch.isfinite(g).all() for g in grads]).all()):
        from genplay.generative.core.checks import NonFiniteError

        raise NonFiniteError(
            f"discriminator step: the gradients hold NaN or inf (loss {float(loss.detach()):.4g}); "
            "the run stopped before the update (the last good checkpoint is kept)"
        )
