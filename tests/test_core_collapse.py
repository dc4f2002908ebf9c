"""The core's pieces against mode collapse: hinge loss, projection head, minibatch std, DiffAugment."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genplay.generative.core.gan import (
    AugmentedCritic,
    GANStepConfig,
    adversarial_round,
    diff_augment,
    mode_seeking_penalty,
    sorted_by_label,
)
from genplay.generative.core.losses import hinge_discriminator_loss, hinge_generator_loss
from genplay.generative.core.networks import MinibatchStd, ProjectionHead
from genplay.generative.core.step import DiscriminatorStepConfig
from genplay.generative.images.models import Critic


def test_hinge_losses_on_hand_made_logits():
    real = torch.tensor([2.0, 0.5])  # margins: 0 and 0.5
    fake = torch.tensor([-2.0, 0.5])  # margins: 0 and 1.5
    assert hinge_discriminator_loss(real, fake).item() == pytest.approx(0.25 + 0.75)
    weights = torch.tensor([0.0, 1.0])
    assert hinge_discriminator_loss(real, fake, weights, weights).item() == pytest.approx(0.5 + 1.5)
    assert hinge_generator_loss(fake).item() == pytest.approx(0.75)


def test_projection_head_adds_the_class_embedding_dot_features():
    head = ProjectionHead(3, n_classes=2)
    with torch.no_grad():
        head.linear.weight.copy_(torch.tensor([[1.0, 0.0, 0.0]]))
        head.linear.bias.fill_(0.5)
        head.embed.weight.copy_(torch.tensor([[0.0, 2.0, 0.0], [0.0, 0.0, -1.0]]))
    phi = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    logits = head(phi, torch.tensor([0, 1]))
    assert logits.shape == (2,)
    assert logits.tolist() == pytest.approx([1.0 + 0.5 + 2.0, 1.0 + 0.5 - 1.0])
    with pytest.raises(ValueError, match="pass labels"):
        head(phi)
    plain = ProjectionHead(3)
    assert plain.embed is None and torch.equal(plain(phi), plain.linear(phi).squeeze(1))


def test_projection_head_spectral_norm_covers_linear_and_embedding():
    head = ProjectionHead(4, n_classes=3, spectral_norm=True)
    assert hasattr(head.linear, "parametrizations") and hasattr(head.embed, "parametrizations")
    critic = Critic(image_shape=(1, 8, 8), n_classes=3, base_channels=4, spectral_norm=True)
    assert hasattr(critic.head.embed, "parametrizations")


def test_minibatch_std_shape_and_groups():
    x = torch.randn(8, 3, 4, 5)
    out = MinibatchStd(group_size=4)(x)
    assert out.shape == (8, 4, 4, 5)
    assert torch.equal(out[:, :3], x)
    # consecutive rows form a group: a varied first half and an identical second half stay apart
    x[4:] = x[4]
    out = MinibatchStd(group_size=4)(x)
    assert out[:4, 3].min() > 0.3 and out[4:, 3].max() < 1e-3
    assert MinibatchStd(group_size=4)(torch.randn(6, 2, 3, 3)).shape == (6, 3, 3, 3)  # groups of 3


def test_critic_with_minibatch_std_sees_the_batch_spread():
    critic = Critic(image_shape=(1, 8, 8), base_channels=4, minibatch_std=True)
    x = torch.randn(4, 1, 8, 8)
    same = x[:1].expand(4, 1, 8, 8)
    # the first row's logit changes with the other rows only through the batch statistic
    assert not torch.allclose(critic(x)[0], critic(torch.cat([x[:1], same[1:]]))[0])


def test_diff_augment_is_identity_at_zero_and_differentiable():
    x = torch.randn(5, 2, 8, 8, requires_grad=True)
    assert diff_augment(x, 0.0) is x
    g = torch.Generator().manual_seed(0)
    y = diff_augment(x, 1.0, generator=g)
    assert y.shape == x.shape and not torch.equal(y, x)
    (y * torch.randn_like(y)).sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    x64 = torch.randn(2, 1, 8, 8, dtype=torch.float64, requires_grad=True)
    seed = 3
    assert torch.autograd.gradcheck(lambda t: diff_augment(t, 1.0, generator=torch.Generator().manual_seed(seed)), x64)


def test_diff_augment_shifts_and_cuts_out():
    x = torch.zeros(200, 1, 8, 8)
    x[:, :, 4, 4] = 1.0
    y = diff_augment(x, 1.0, generator=torch.Generator().manual_seed(0))  # shifts of at most 1, holes 4x4
    kept = y.flatten(1).sum(1)
    assert set(kept.tolist()) <= {0.0, 1.0} and 0 < kept.sum() < 200  # the pixel moves, or a hole covers it
    rows, cols = torch.nonzero(y[:, 0] > 0, as_tuple=True)[1:]
    assert rows.min() >= 3 and rows.max() <= 5 and cols.min() >= 3 and cols.max() <= 5
    ones = diff_augment(torch.ones(200, 1, 8, 8), 1.0, generator=torch.Generator().manual_seed(1))
    zeroed = (ones == 0).flatten(1).sum(1)
    assert zeroed.max() <= 4 * 4 + 2 * 8 + 2 * 8 and zeroed.min() >= 1


class _Recorder(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.zeros(()))
        self.seen: list[torch.Tensor] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append(x.detach())
        return x.flatten(1).mean(1) * self.w


def test_adversarial_round_shows_the_critic_augmented_images_in_both_steps():
    gen = nn.Sequential(nn.Linear(2, 64), nn.Unflatten(1, (1, 8, 8)))
    critic = _Recorder()
    opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (gen, critic)]
    real = torch.ones(4, 1, 8, 8)
    cfg = GANStepConfig(discriminator=DiscriminatorStepConfig(loss="hinge"), diffaugment=1.0)
    torch.manual_seed(0)
    adversarial_round(
        generator=gen,
        critic=critic,
        g_optimizer=opts[0],
        d_optimizer=opts[1],
        batches=iter([(real, None)]),
        z_dim=2,
        config=cfg,
    )
    d_input, g_input = critic.seen
    assert (d_input[:4] == 0).any()  # the real ones went through a cutout
    assert g_input.shape == (4, 1, 8, 8)
    assert isinstance(AugmentedCritic(critic, 1.0), nn.Module)
    with pytest.raises(ValueError):
        GANStepConfig(diffaugment=-1.0)


def test_sorted_by_label_keeps_each_image_with_its_label():
    labels = torch.tensor([3, 0, 2, 0, 3, 1])
    real = torch.arange(6.0).reshape(6, 1, 1, 1)
    (x, y), (u, none) = sorted_by_label(iter([(real, labels), (real, None)]))
    assert y.tolist() == [0, 0, 1, 2, 3, 3] and x.flatten().tolist() == [1, 3, 5, 2, 0, 4]
    assert none is None and torch.equal(u, real)


def test_mode_seeking_penalty_grows_as_images_stop_following_the_noise():
    z = torch.tensor([[0.0, 0.0], [1.0, 1.0], [0.0, 0.0], [3.0, 3.0], [5.0, 5.0]])  # row 4 has no pair
    spread = torch.tensor([[0.0], [2.0], [0.0], [6.0], [9.0]])  # image distance = 2 x noise distance
    labels = torch.tensor([0, 0, 1, 1, 2])
    assert mode_seeking_penalty(spread, z, labels).item() == pytest.approx(0.5, rel=1e-3)
    assert mode_seeking_penalty(spread, z).item() == pytest.approx(0.5, rel=1e-3)
    # only pairs that share a label count: here the second pair's images are identical
    assert mode_seeking_penalty(torch.tensor([[0.0], [2.0], [0.0], [0.0]]), z[:4], labels[:4]).item() == pytest.approx(
        1.0 / (1.0 / 2.0 + 1e-5)
    )
    assert mode_seeking_penalty(spread, z, torch.tensor([0, 1, 2, 3, 4])).item() == 0.0  # no pair shares a label
    assert mode_seeking_penalty(spread * 0, z, labels).item() > 1e4  # collapsed: image distance 0


def test_mode_seeking_reaches_the_generator_step():
    def round_with(weight: float) -> torch.Tensor:
        torch.manual_seed(0)
        gen = nn.Sequential(nn.Linear(2, 64), nn.Unflatten(1, (1, 8, 8)))
        critic = _Recorder()
        opts = [torch.optim.SGD(m.parameters(), lr=0.1) for m in (gen, critic)]
        cfg = GANStepConfig(discriminator=DiscriminatorStepConfig(loss="hinge"), mode_seeking=weight)
        batches = iter([(torch.ones(4, 1, 8, 8), None)])
        adversarial_round(
            generator=gen, critic=critic, g_optimizer=opts[0], d_optimizer=opts[1], batches=batches, z_dim=2, config=cfg
        )
        return gen[0].weight.detach().clone()

    assert not torch.equal(round_with(0.0), round_with(1.0))
    with pytest.raises(ValueError):
        GANStepConfig(mode_seeking=-1.0)
