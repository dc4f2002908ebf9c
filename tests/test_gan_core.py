"""The GAN pieces of the core: conditional critics, the generator step, n-critic rounds, layer builders."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genplay.generative.core import EMA, DiscriminatorStepConfig, discriminator_step
from genplay.generative.core.builders import dcgan_init, down_block, norm_layer, up_block
from genplay.generative.core.gan import ConditionalCritic, GANStepConfig, adversarial_round, generator_step


class LabelEcho(nn.Module):
    """Critic whose logit is ``w * sum(x) + label``: shows which labels reached which rows."""

    def __init__(self) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.w * x.flatten(1).sum(1) + labels.float()


def test_conditional_critic_routes_labels_by_row_count():
    real_y, fake_y = torch.tensor([1, 2, 3]), torch.tensor([7, 8, 9])
    net = ConditionalCritic(LabelEcho(), real_y, fake_y)
    zeros = torch.zeros(6, 2)
    assert net(zeros).tolist() == [1, 2, 3, 7, 8, 9]  # discriminator_step's cat([real, fake])
    assert net(zeros[:3]).tolist() == [1, 2, 3]  # R1 on real
    assert net(zeros[:2]).tolist() == [1, 2]  # WGAN-GP interpolates real[:n], fake[:n]
    with pytest.raises(ValueError, match="rows"):
        net(torch.zeros(5, 2))


@pytest.mark.parametrize("penalty", ["none", "r1", "wgan_gp"])
def test_discriminator_step_trains_a_conditional_critic(penalty):
    critic = LabelEcho()
    opt = torch.optim.SGD(critic.parameters(), lr=0.1)
    real, fake = torch.ones(4, 2), -torch.ones(4, 2)
    y = torch.zeros(4, dtype=torch.long)
    cfg = DiscriminatorStepConfig(loss="wasserstein", penalty=penalty, penalty_weight=0.1)
    before = critic.w.item()
    stats = discriminator_step(ConditionalCritic(critic, y, y), opt, real, fake, cfg)
    assert critic.w.item() > before  # raising w raises real logits and lowers fake ones
    assert (stats["penalty"] > 0) == (penalty != "none")


def test_generator_step_moves_fakes_up_the_critic_and_leaves_it_alone():
    gen = nn.Linear(2, 1)
    critic = nn.Linear(1, 1)
    with torch.no_grad():
        critic.weight.fill_(1.0)
        critic.bias.zero_()
    critic_before = [p.clone() for p in critic.parameters()]
    opt = torch.optim.SGD(gen.parameters(), lr=0.5)
    z = torch.randn(64, 2)
    start = gen(z).mean().item()
    for _ in range(20):
        generator_step(gen, nn.Sequential(critic, nn.Flatten(0)), opt, z, loss="bce")
    assert gen(z).mean().item() > start + 1.0
    assert all(torch.equal(a, b) for a, b in zip(critic_before, critic.parameters()))
    assert all(p.requires_grad and p.grad is None for p in critic.parameters())
    with pytest.raises(ValueError, match="generator loss"):
        generator_step(gen, critic, opt, z, loss="nope")


def test_adversarial_round_takes_n_critic_batches_and_updates_ema():
    gen, critic = nn.Linear(3, 2), nn.Sequential(nn.Linear(2, 1), nn.Flatten(0))
    ema = EMA(gen, decay=0.5)
    g_opt = torch.optim.Adam(gen.parameters(), 1e-2)
    d_opt = torch.optim.Adam(critic.parameters(), 1e-2)
    taken = []

    def stream():
        while True:
            taken.append(1)
            yield torch.randn(8, 2) + 3.0, None

    cfg = GANStepConfig(discriminator=DiscriminatorStepConfig(loss="wasserstein", penalty="wgan_gp"), n_critic=3)
    ema_before = ema.module.weight.clone()
    stats = adversarial_round(
        generator=gen,
        critic=critic,
        g_optimizer=g_opt,
        d_optimizer=d_opt,
        batches=stream(),
        z_dim=3,
        config=cfg,
        ema=ema,
    )
    assert len(taken) == 3
    assert {"d_loss", "d_penalty", "g_loss"} <= set(stats)
    assert not torch.equal(ema.module.weight, ema_before)
    with pytest.raises(ValueError, match="n_critic"):
        GANStepConfig(n_critic=0)


def test_builders_shapes_norms_and_init():
    x = torch.randn(2, 8, 4, 6)
    assert up_block(8, 3)(x).shape == (2, 3, 8, 12)
    assert down_block(8, 5, norm="layer", spectral_norm=True)(x).shape == (2, 5, 2, 3)
    for name in ("none", "batch", "layer", "instance"):
        assert norm_layer(name, 8)(x).shape == x.shape
    with pytest.raises(ValueError, match="unknown norm"):
        norm_layer("group", 8)
    conv = nn.Conv2d(64, 64, 3)
    dcgan_init(conv)
    assert abs(conv.weight.std().item() - 0.02) < 0.002 and conv.bias.abs().max().item() == 0.0
