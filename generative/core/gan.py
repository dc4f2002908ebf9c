"""What every GAN needs beyond the shared discriminator step: conditional critics, the generator
step and one n-critic training round. GAIL needs none of it (its generator is an RL policy).

Conventions (as in the rest of the core): critic logits are high for real data. A conditional
module is called as ``module(x, labels)``, an unconditional one as ``module(x)``; ``labels`` is
``None`` for unconditional models everywhere in this file.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

from genplay.generative.core.distributed import DistContext, allreduce_grads, rank_draw
from genplay.generative.core.losses import GENERATOR_LOSSES
from genplay.generative.core.step import DiscriminatorStepConfig, discriminator_step
from genplay.generative.core.utils import EMA
from genplay.settings import Int, check_fields

Batch = tuple[torch.Tensor, torch.Tensor | None]


def call(module: Callable[..., torch.Tensor], x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
    """``module(x)`` or ``module(x, labels)``: one call site for conditional and unconditional nets."""
    return module(x) if labels is None else module(x, labels)


class ConditionalCritic:
    """A conditional critic with its labels bound, so ``discriminator_step`` (which calls ``net(x)``) trains it.

    ``discriminator_step`` calls the net on ``cat([real, fake])``, R1 on ``real`` and WGAN-GP on
    interpolates of ``real[:n]`` and ``fake[:n]``; the labels are chosen by row count to match.
    Interpolates carry the real labels, so with WGAN-GP the fakes must be generated from the
    real labels (``adversarial_round`` does so), otherwise an interpolate has no single label.
    """

    def __init__(self, critic: Callable[..., torch.Tensor], real_labels: torch.Tensor, fake_labels: torch.Tensor):
        self.critic, self.real_labels, self.fake_labels = critic, real_labels, fake_labels

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        n_real, n_fake = len(self.real_labels), len(self.fake_labels)
        if len(x) == n_real + n_fake:
            labels = torch.cat([self.real_labels, self.fake_labels])
        elif len(x) <= n_real:
            labels = self.real_labels[: len(x)]
        else:
            raise ValueError(f"{len(x)} rows match neither real ({n_real}) nor real+fake ({n_real + n_fake})")
        return self.critic(x, labels)


def generator_step(
    generator: nn.Module,
    critic: nn.Module | Callable[..., torch.Tensor],
    optimizer: torch.optim.Optimizer,
    z: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    loss: str = "bce",
    grad_hook: Callable[[], None] | None = None,
) -> dict[str, float]:
    """One optimiser step of the generator on ``GENERATOR_LOSSES[loss](critic(generator(z)))``.

    A module critic's parameters are frozen for the step, so no gradient is spent on them.
    ``grad_hook`` runs between backward and the step (data-parallel gradient averaging).
    """
    if loss not in GENERATOR_LOSSES:
        raise ValueError(f"unknown generator loss {loss!r}; expected one of {sorted(GENERATOR_LOSSES)}")
    params = critic.parameters() if isinstance(critic, nn.Module) else []
    frozen = [p for p in params if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    try:
        logits = call(critic, call(generator, z, labels), labels)
        g_loss = GENERATOR_LOSSES[loss](logits)
        optimizer.zero_grad(set_to_none=True)
        g_loss.backward()
        if grad_hook is not None:
            grad_hook()
        optimizer.step()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return {"loss": float(g_loss.detach()), "logits_fake": float(logits.detach().mean())}


@dataclass(frozen=True)
class GANStepConfig:
    """One training round: ``n_critic`` discriminator steps, then one generator step."""

    discriminator: DiscriminatorStepConfig = field(default_factory=DiscriminatorStepConfig)
    """Loss and penalty of each critic step (the core's ``discriminator_step``)."""
    n_critic: int = 1
    """Critic steps per generator step (5 for WGAN-GP, 1 for DCGAN)."""

    def __post_init__(self) -> None:
        check_fields(self, {"n_critic": Int(1, 10_000)})


def adversarial_round(
    *,
    generator: nn.Module,
    critic: nn.Module,
    g_optimizer: torch.optim.Optimizer,
    d_optimizer: torch.optim.Optimizer,
    batches: Iterator[Batch],
    z_dim: int,
    config: GANStepConfig = GANStepConfig(),
    ema: EMA | None = None,
    dist: DistContext | None = None,
) -> dict[str, float]:
    """``n_critic`` critic steps on fresh real batches, one generator step, then the EMA update.

    ``batches`` yields ``(real, labels)`` with labels ``None`` for unconditional models; fakes
    are drawn with the real batch's labels, so the critic sees the same label mix on both
    sides and the generator learns the data's class balance. Noise comes from torch's global
    RNG (seed it with ``seed_everything``). Returns the last critic step's statistics
    (prefixed ``d_``) and the generator's (prefixed ``g_``).

    Data-parallel (``dist`` with N ranks): ``batches`` yields this rank's share of each
    global batch, noise is this rank's rows of the global noise, and both networks'
    gradients are averaged over ranks before each optimiser step, so the ranks step as one
    process on the whole batch (statistics returned are this rank's share's).
    """
    d_hook = g_hook = uniform = None
    if dist is not None and dist.world_size > 1:
        d_hook = lambda: allreduce_grads(critic.parameters(), dist)  # noqa: E731
        g_hook = lambda: allreduce_grads(generator.parameters(), dist)  # noqa: E731
    for _ in range(config.n_critic):
        real, labels = next(batches)
        with torch.no_grad():
            fake = call(generator, rank_draw(torch.randn, (len(real), z_dim), real.device, dist), labels)
        net = critic if labels is None else ConditionalCritic(critic, labels, labels)
        if dist is not None and dist.world_size > 1:
            uniform = functools.partial(rank_draw, torch.rand, device=real.device, ctx=dist)
        d_stats = discriminator_step(
            net, d_optimizer, real, fake, config.discriminator, grad_hook=d_hook, uniform=uniform
        )
    z = rank_draw(torch.randn, (len(real), z_dim), real.device, dist)
    g_stats = generator_step(
        generator, critic, g_optimizer, z, labels, loss=config.discriminator.loss, grad_hook=g_hook
    )
    if ema is not None:
        ema.update()
    return {**{f"d_{k}": v for k, v in d_stats.items()}, **{f"g_{k}": v for k, v in g_stats.items()}}
