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
import torch.distributed as torch_dist
import torch.nn.functional as F
from torch import nn

from genplay.generative.core.distributed import DistContext, allreduce_grads, rank_draw
from genplay.generative.core.losses import GENERATOR_LOSSES
from genplay.generative.core.step import DiscriminatorStepConfig, discriminator_step
from genplay.generative.core.utils import EMA
from genplay.settings import Int, Real, check_fields

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


def diff_augment(x: torch.Tensor, strength: float = 1.0, *, generator: torch.Generator | None = None) -> torch.Tensor:
    """DiffAugment (Zhao et al. 2020): a random translation, then a random cutout, of each image.

    Why: on small data the critic memorises the real images and its verdicts stop teaching the
    generator anything general. Augmenting *both* real and fake images before the critic (in the
    critic's and the generator's steps) hides the exact pixels without teaching the generator to
    draw augmented images, and because both operations are differentiable in ``x`` (an indexed
    crop of a zero-padded copy, and a multiplicative mask), the generator's gradient flows through.

    ``strength`` scales the paper's defaults: shifts of up to ``strength / 8`` of each side (zero
    fill) and a square hole of ``strength / 2`` of each side; 0 returns ``x`` itself. Draws come
    from ``generator`` (default: torch's global RNG), one per image.
    """
    if strength < 0:
        raise ValueError(f"strength must be >= 0, got {strength}")
    b, _, h, w = x.shape
    shift_h, shift_w = round(h * strength / 8), round(w * strength / 8)
    hole_h, hole_w = round(h * strength / 2), round(w * strength / 2)
    dev = x.device

    def draw(low: int, high: int) -> torch.Tensor:  # (B, 1, 1) integers in [low, high]
        return torch.randint(low, high + 1, (b, 1, 1), generator=generator).to(dev)

    if shift_h or shift_w:  # out[i, :, r, c] = x[i, :, r + dy_i, c + dx_i], zero outside
        dy, dx = draw(-shift_h, shift_h), draw(-shift_w, shift_w)
        padded = F.pad(x, (shift_w, shift_w, shift_h, shift_h))
        rows = torch.arange(h, device=dev)[None, :, None] + dy + shift_h  # (B, H, 1)
        cols = torch.arange(w, device=dev)[None, None, :] + dx + shift_w  # (B, 1, W)
        x = padded[torch.arange(b, device=dev)[:, None, None], :, rows, cols].permute(0, 3, 1, 2)
    if hole_h and hole_w:  # zero a hole_h x hole_w square centred anywhere on the image (it may overhang)
        top, left = draw(0, h - 1) - hole_h // 2, draw(0, w - 1) - hole_w // 2
        r = torch.arange(h, device=dev)[None, :, None]
        c = torch.arange(w, device=dev)[None, None, :]
        hole = (r >= top) & (r < top + hole_h) & (c >= left) & (c < left + hole_w)  # (B, H, W)
        x = x * (~hole).unsqueeze(1).to(x.dtype)
    return x


class AugmentedCritic(nn.Module):
    """``critic(augment(x)[, labels])``: a critic that sees every input, real or fake, through DiffAugment."""

    def __init__(self, critic: nn.Module, strength: float) -> None:
        super().__init__()
        self.critic, self.strength = critic, strength

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return call(self.critic, diff_augment(x, self.strength), labels)


def mode_seeking_penalty(
    fake: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None = None, *, dist: DistContext | None = None
) -> torch.Tensor:
    """Mode seeking (Mao et al. 2019, MSGAN): ``1 / (mean |G(z1) - G(z2)| / mean |z1 - z2|)``.

    Why: a collapsed conditional generator maps different noise to the same image; the ratio of
    image distance to noise distance is then near 0 and this term large, so adding it to the
    generator's loss pushes it to use its noise. Pairs are consecutive rows ``(0, 1), (2, 3), ...``
    that share a label (all pairs without labels): a batch sorted by label (``sorted_by_label``)
    keeps most of them. Returns 0 when no pair shares a label.

    On N ranks (``dist``) the means are the global batch's (one all-reduce) and the returned term's
    gradient is this rank's part of the global term's, times N (``allreduce_grads`` averages), so
    N ranks step as one process when each rank's share of the batch has an even number of rows.
    """
    n = len(z) // 2 * 2
    keep = torch.ones(n // 2, dtype=torch.bool, device=z.device)
    if labels is not None:
        keep = labels[0:n:2] == labels[1:n:2]
    image_gap = (fake[0:n:2] - fake[1:n:2])[keep].abs()
    noise_gap = (z[0:n:2] - z[1:n:2])[keep].abs()
    if dist is None or dist.world_size == 1:
        if not bool(keep.any()):
            return fake.sum() * 0.0
        return 1.0 / (image_gap.mean() / noise_gap.mean() + 1e-5)
    counts = [float(image_gap.numel()), float(noise_gap.numel())]
    sums = torch.tensor([0.0, counts[0], 0.0, counts[1]], dtype=torch.float64, device=fake.device)
    sums[0], sums[2] = image_gap.detach().sum(), noise_gap.sum()
    torch_dist.all_reduce(sums)
    if float(sums[1]) == 0.0:
        return fake.sum() * 0.0
    image_mean, noise_mean = sums[0] / sums[1], sums[2] / sums[3]
    value = 1.0 / (image_mean / noise_mean + 1e-5)
    slope = -(value**2) / noise_mean  # d value / d image_mean
    local = image_gap.sum() / sums[1].to(fake.dtype)  # this rank's part of the global image mean
    return (value + dist.world_size * slope * (local.double() - local.detach().double())).to(fake.dtype)


def generator_step(
    generator: nn.Module,
    critic: nn.Module | Callable[..., torch.Tensor],
    optimizer: torch.optim.Optimizer,
    z: torch.Tensor,
    labels: torch.Tensor | None = None,
    *,
    loss: str = "bce",
    grad_hook: Callable[[], None] | None = None,
    mode_seeking: float = 0.0,
    dist: DistContext | None = None,
) -> dict[str, float]:
    """One optimiser step of the generator on ``GENERATOR_LOSSES[loss](critic(generator(z)))``.

    ``mode_seeking`` > 0 adds that multiple of ``mode_seeking_penalty`` (against collapse; ``dist``: over N ranks).
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
        fake = call(generator, z, labels)
        logits = call(critic, fake, labels)
        g_loss = GENERATOR_LOSSES[loss](logits)
        total = g_loss + mode_seeking * mode_seeking_penalty(fake, z, labels, dist=dist) if mode_seeking > 0 else g_loss
        optimizer.zero_grad(set_to_none=True)
        total.backward()
        if grad_hook is not None:
            grad_hook()
        optimizer.step()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return {"loss": float(g_loss.detach()), "logits_fake": float(logits.detach().mean())}


def sorted_by_label(batches: Iterator[Batch]) -> Iterator[Batch]:
    """Each ``(real, labels)`` batch with its rows sorted by label (stable); unconditional ones as they come.

    A critic's minibatch statistics (``networks.MinibatchStd``: groups of consecutive rows) then
    measure the spread within a class, which is where a conditional generator collapses; fakes
    take the real batch's labels, so they are sorted too. Sort the *global* batch, before
    ``distributed.rank_rows`` splits it, so N ranks see the rows one process would.
    """
    for real, labels in batches:
        if labels is not None:
            order = torch.argsort(labels, stable=True)
            real, labels = real[order], labels[order]
        yield real, labels


@dataclass(frozen=True)
class GANStepConfig:
    """One training round: ``n_critic`` discriminator steps, then one generator step."""

    discriminator: DiscriminatorStepConfig = field(default_factory=DiscriminatorStepConfig)
    """Loss and penalty of each critic step (the core's ``discriminator_step``)."""
    n_critic: int = 1
    """Critic steps per generator step (5 for WGAN-GP, 1 for DCGAN)."""
    diffaugment: float = 0.0
    """DiffAugment strength (``diff_augment``) on the critic's inputs in both steps; 0 = none."""
    mode_seeking: float = 0.0
    """Weight of the generator's mode-seeking term (``mode_seeking_penalty``); 0 = none."""

    def __post_init__(self) -> None:
        check_fields(
            self, {"n_critic": Int(1, 10_000), "diffaugment": Real(0.0, 2.0), "mode_seeking": Real(0.0, 100.0)}
        )


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
    sides and the generator learns the data's class balance (pass conditional batches through
    ``sorted_by_label`` for a critic with ``MinibatchStd``). Noise comes from torch's global RNG
    (seed it with ``seed_everything``). Returns the last critic step's statistics (prefixed
    ``d_``) and the generator's (prefixed ``g_``).

    Data-parallel (``dist`` with N ranks): ``batches`` yields this rank's share of each
    global batch, noise is this rank's rows of the global noise, and both networks'
    gradients are averaged over ranks before each optimiser step, so the ranks step as one
    process on the whole batch (statistics returned are this rank's share's).
    """
    d_hook = g_hook = uniform = None
    if config.diffaugment > 0:  # both steps judge augmented images (Zhao et al. 2020)
        critic = AugmentedCritic(critic, config.diffaugment)
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
        generator,
        critic,
        g_optimizer,
        z,
        labels,
        loss=config.discriminator.loss,
        grad_hook=g_hook,
        mode_seeking=config.mode_seeking,
        dist=dist,
    )
    if ema is not None:
        ema.update()
    return {**{f"d_{k}": v for k, v in d_stats.items()}, **{f"g_{k}": v for k, v in g_stats.items()}}
