"""Unit tests of the shared adversarial core (generative/core)."""

from __future__ import annotations

import math
import os
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from genplay.generative.core import (
    DISCRIMINATOR_LOSSES,
    EMA,
    DiscriminatorStepConfig,
    atomic_write,
    bce_discriminator_loss,
    cnn,
    discriminator_loss,
    discriminator_step,
    hinge_discriminator_loss,
    least_squares_discriminator_loss,
    mlp,
    r1_penalty,
    seed_everything,
    select_device,
    wasserstein_discriminator_loss,
    wgan_gp_penalty,
)
from genplay.generative.core.losses import (
    hinge_generator_loss,
    least_squares_generator_loss,
    non_saturating_generator_loss,
)

# ---------------------------------------------------------------------------- networks


def test_mlp_shapes_and_layers():
    net = mlp(5, 3, (16, 8), activation="relu")
    assert net(torch.randn(7, 5)).shape == (7, 3)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(5, 16), (16, 8), (8, 3)]
    assert sum(isinstance(m, nn.ReLU) for m in net) == 2
    assert not isinstance(net[-1], nn.ReLU)  # no output activation


def test_mlp_without_hidden_layers_is_one_linear():
    net = mlp(4, 2, ())
    assert len(net) == 1 and isinstance(net[0], nn.Linear)
    assert net(torch.randn(3, 4)).shape == (3, 2)


def test_mlp_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation"):
        mlp(2, 1, (4,), activation="nope")


def test_cnn_nature_shape_on_84x84():
    net = cnn(4, (84, 84), 10)
    assert net(torch.rand(2, 4, 84, 84)).shape == (2, 10)
    assert net[-1].in_features == 64 * 7 * 7  # the Nature-DQN flattened size


def test_cnn_small_input_small_kernels():
    net = cnn(3, (16, 16), 5, channels=(8, 16), kernels=(3, 3), strides=(2, 1))
    assert net(torch.rand(2, 3, 16, 16)).shape == (2, 5)
    assert net[-1].in_features == 16 * 5 * 5  # 16 -> 7 -> 5


def test_cnn_rejects_mismatched_lengths():
    with pytest.raises(ValueError, match="same length"):
        cnn(3, (16, 16), 5, channels=(8, 16), kernels=(3,), strides=(2, 1))


def test_spectral_norm_option_on_every_layer():
    net = mlp(6, 1, (32, 32), spectral_norm=True)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert len(linears) == 3 and all(parametrize.is_parametrized(m, "weight") for m in linears)
    conv = cnn(3, (16, 16), 2, channels=(4,), kernels=(3,), strides=(1,), spectral_norm=True)
    layers = [m for m in conv if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert len(layers) == 2 and all(parametrize.is_parametrized(m, "weight") for m in layers)
    plain = mlp(6, 1, (32,))
    assert not any(parametrize.is_parametrized(m, "weight") for m in plain if isinstance(m, nn.Linear))


def test_spectral_norm_bounds_the_largest_singular_value():
    torch.manual_seed(0)
    net = mlp(6, 4, (32,), spectral_norm=True)
    with torch.no_grad():
        for m in net:
            if isinstance(m, nn.Linear):
                m.parametrizations.weight.original.mul_(50.0)
    net.train()
    for _ in range(30):  # power iteration runs on each training-mode forward
        net(torch.randn(8, 6))
    for m in net:
        if isinstance(m, nn.Linear):
            sigma = torch.linalg.matrix_norm(m.weight.detach(), ord=2)
            assert sigma == pytest.approx(1.0, abs=0.05)


# ---------------------------------------------------------------------------- losses


def test_bce_loss_at_zero_logits_is_two_log_two():
    z = torch.zeros(5)
    assert float(bce_discriminator_loss(z, z)) == pytest.approx(2 * math.log(2))


def test_bce_loss_hand_computed_and_sign():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0])
    expected = 0.5 * (math.log1p(math.exp(-1)) + math.log1p(math.exp(-3))) + math.log1p(math.exp(-2))
    assert float(bce_discriminator_loss(real, fake)) == pytest.approx(expected, rel=1e-6)
    # a discriminator that is right has a lower loss than one that is wrong
    assert bce_discriminator_loss(real, fake) < bce_discriminator_loss(-real, -fake)
    assert float(bce_discriminator_loss(torch.tensor([30.0]), torch.tensor([-30.0]))) == pytest.approx(0.0, abs=1e-6)


def test_weighted_bce_loss_is_the_weighted_mean():
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.5])
    real_w, fake_w = torch.tensor([0.25, 0.75]), torch.tensor([2.0, 1.0])  # weights need not sum to 1
    expected = (0.25 * math.log1p(math.exp(-1)) + 0.75 * math.log1p(math.exp(-3))) + (
        2.0 * math.log1p(math.exp(-2)) + 1.0 * math.log1p(math.exp(0.5))
    ) / 3.0
    assert float(bce_discriminator_loss(real, fake, real_w, fake_w)) == pytest.approx(expected, rel=1e-6)
    assert float(bce_discriminator_loss(real, fake)) != pytest.approx(expected, rel=1e-3)  # the weights matter
    # integer weights are row repetitions
    repeated = bce_discriminator_loss(real[[0, 1, 1, 1]], fake[[0, 0, 1]])
    assert float(bce_discriminator_loss(real, fake, torch.tensor([1.0, 3.0]), fake_w)) == pytest.approx(float(repeated))
    # one side weighted, the other plain
    one_side = math.log1p(math.exp(-1)) + 0.5 * (math.log1p(math.exp(-2)) + math.log1p(math.exp(0.5)))
    assert float(bce_discriminator_loss(real, fake, torch.tensor([1.0, 0.0]))) == pytest.approx(one_side, rel=1e-6)


@pytest.mark.parametrize("name", sorted(DISCRIMINATOR_LOSSES))
def test_uniform_weights_give_the_unweighted_loss(name):
    loss = discriminator_loss(name)
    real, fake = torch.tensor([1.0, 3.0, -0.5]), torch.tensor([-2.0, 0.5, 0.0, 1.5])
    plain = float(loss(real, fake))
    for c in (1.0, 0.1, 7.0):
        assert float(loss(real, fake, torch.full((3,), c), torch.full((4,), c))) == pytest.approx(plain, rel=1e-6)
    skewed = float(loss(real, fake, torch.tensor([5.0, 0.0, 1.0]), torch.tensor([0.0, 1.0, 3.0, 0.0])))
    assert skewed != pytest.approx(plain, rel=1e-3)


def test_least_squares_loss():
    assert float(least_squares_discriminator_loss(torch.ones(3), torch.zeros(4))) == 0.0
    assert float(least_squares_discriminator_loss(torch.zeros(3), torch.ones(4))) == pytest.approx(1.0)
    assert float(least_squares_discriminator_loss(torch.tensor([3.0]), torch.tensor([-1.0]))) == pytest.approx(2.5)


def test_hinge_loss():
    assert float(hinge_discriminator_loss(torch.tensor([1.5, 4.0]), torch.tensor([-1.2, -7.0]))) == 0.0
    assert float(hinge_discriminator_loss(torch.zeros(2), torch.zeros(3))) == pytest.approx(2.0)
    assert float(hinge_discriminator_loss(torch.tensor([0.5]), torch.tensor([-0.5]))) == pytest.approx(1.0)


def test_wasserstein_loss_is_mean_fake_minus_mean_real():
    real, fake = torch.tensor([1.0, 2.0, 6.0]), torch.tensor([-1.0, 0.0])
    assert float(wasserstein_discriminator_loss(real, fake)) == pytest.approx(-0.5 - 3.0)


def test_generator_losses():
    assert float(non_saturating_generator_loss(torch.zeros(3))) == pytest.approx(math.log(2))
    assert float(least_squares_generator_loss(torch.ones(3))) == 0.0
    assert float(hinge_generator_loss(torch.tensor([1.0, 3.0]))) == pytest.approx(-2.0)


def test_discriminator_loss_lookup():
    for name, fn in DISCRIMINATOR_LOSSES.items():
        assert discriminator_loss(name) is fn
    with pytest.raises(ValueError, match="unknown discriminator loss 'nope'"):
        discriminator_loss("nope")


# ---------------------------------------------------------------------------- penalties


def _linear(w: list[float], bias: float = 0.3) -> nn.Linear:
    lin = nn.Linear(len(w), 1)
    with torch.no_grad():
        lin.weight.copy_(torch.tensor([w]))
        lin.bias.fill_(bias)
    return lin


def test_r1_penalty_of_linear_net_is_squared_weight_norm():
    net = _linear([1.0, 2.0, -2.0])
    assert float(r1_penalty(net, torch.randn(16, 3)).detach()) == pytest.approx(9.0, rel=1e-5)


def test_r1_penalty_is_differentiable_wrt_parameters():
    net = _linear([1.0, 2.0, -2.0])
    r1_penalty(net, torch.randn(4, 3)).backward()
    np.testing.assert_allclose(net.weight.grad.numpy(), [[2.0, 4.0, -4.0]], rtol=1e-5)  # d||w||^2/dw = 2w


def test_wgan_gp_penalty_of_unit_norm_linear_net_is_zero():
    net = _linear([0.6, 0.0, -0.8])
    assert float(wgan_gp_penalty(net, torch.randn(16, 3), torch.randn(16, 3)).detach()) == pytest.approx(0.0, abs=1e-6)


def test_wgan_gp_penalty_of_linear_net_with_norm_three():
    net = _linear([0.0, 3.0, 0.0])
    assert float(wgan_gp_penalty(net, torch.randn(8, 3), torch.randn(5, 3)).detach()) == pytest.approx(4.0, rel=1e-5)


# ---------------------------------------------------------------------------- one discriminator step


STATS_KEYS = {"loss", "adversarial_loss", "penalty", "accuracy_real", "accuracy_fake", "logits_real", "logits_fake"}


def _toy_problem(n: int = 64):
    g = torch.Generator().manual_seed(0)
    real = torch.randn(n, 2, generator=g) + torch.tensor([2.0, 2.0])
    fake = torch.randn(n, 2, generator=g) - torch.tensor([2.0, 2.0])
    return real, fake


@pytest.mark.parametrize(
    "loss, penalty",
    [("bce", "none"), ("bce", "r1"), ("least_squares", "none"), ("hinge", "none"), ("wasserstein", "wgan_gp")],
)
def test_discriminator_step_learns_a_separable_problem(loss, penalty):
    torch.manual_seed(0)
    real, fake = _toy_problem()
    net = mlp(2, 1, (16,))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    config = DiscriminatorStepConfig(loss=loss, penalty=penalty, penalty_weight=0.1)
    history = [discriminator_step(lambda x: net(x).squeeze(-1), opt, real, fake, config) for _ in range(50)]
    for stats in history:
        assert set(stats) == STATS_KEYS
        assert 0.0 <= stats["accuracy_real"] <= 1.0 and 0.0 <= stats["accuracy_fake"] <= 1.0
        assert all(math.isfinite(v) for v in stats.values())
        assert stats["loss"] == pytest.approx(stats["adversarial_loss"] + 0.1 * stats["penalty"], rel=1e-5, abs=1e-6)
    assert history[-1]["adversarial_loss"] < history[0]["adversarial_loss"] - 0.1
    assert history[-1]["logits_real"] > history[-1]["logits_fake"]
    if loss in ("bce", "hinge"):  # accuracy (logit sign) is meaningful for these
        assert history[-1]["accuracy_real"] > 0.95 and history[-1]["accuracy_fake"] > 0.95
    if loss == "least_squares":  # targets 1 (real) and 0 (fake)
        assert history[-1]["logits_real"] == pytest.approx(1.0, abs=0.25)
        assert history[-1]["logits_fake"] == pytest.approx(0.0, abs=0.25)
    if penalty == "none":
        assert all(s["penalty"] == 0.0 for s in history)
    else:
        assert all(s["penalty"] > 0.0 for s in history)


def test_discriminator_step_clips_the_parameter_gradient():
    real, fake = _toy_problem()
    net = mlp(2, 1, (16,))
    before = torch.nn.utils.parameters_to_vector(net.parameters()).detach().clone()
    opt = torch.optim.SGD(net.parameters(), lr=1.0)
    config = DiscriminatorStepConfig(max_grad_norm=1e-3)
    discriminator_step(lambda x: net(x).squeeze(-1), opt, real * 100, fake * 100, config)
    change = torch.nn.utils.parameters_to_vector(net.parameters()).detach() - before
    assert 0 < float(change.norm()) <= 1e-3 * (1 + 1e-4)


def test_discriminator_step_accepts_real_and_fake_weights():
    real = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 1.0]])
    fake = torch.tensor([[-1.0, 0.5], [2.0, -2.0]])
    real_w, fake_w = torch.tensor([1.0, 0.0, 3.0]), torch.tensor([0.0, 2.0])
    weighted, reference = _linear([0.5, -1.0]), _linear([0.5, -1.0])
    with torch.no_grad():
        real_logits, fake_logits = weighted(real).squeeze(-1), weighted(fake).squeeze(-1)
    stats = discriminator_step(
        lambda x: weighted(x).squeeze(-1),
        torch.optim.SGD(weighted.parameters(), lr=0.1),
        real,
        fake,
        real_weights=real_w,
        fake_weights=fake_w,
    )
    expected = float(bce_discriminator_loss(real_logits, fake_logits, real_w, fake_w))
    assert stats["adversarial_loss"] == pytest.approx(expected, rel=1e-6)
    assert stats["adversarial_loss"] != pytest.approx(float(bce_discriminator_loss(real_logits, fake_logits)), rel=1e-3)
    assert stats["logits_real"] == pytest.approx(float((real_logits * real_w).sum() / 4.0), rel=1e-6)
    assert stats["logits_fake"] == pytest.approx(float(fake_logits[1]), rel=1e-6)
    assert stats["accuracy_real"] == pytest.approx(float(((real_logits > 0).float() * real_w).sum() / 4.0))
    assert stats["accuracy_fake"] == pytest.approx(float(fake_logits[1] < 0))
    # the step equals an unweighted one on the same rows repeated by their (integer) weights
    discriminator_step(
        lambda x: reference(x).squeeze(-1),
        torch.optim.SGD(reference.parameters(), lr=0.1),
        real[[0, 2, 2, 2]],
        fake[[1, 1]],
    )
    for p, q in zip(weighted.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q)


def test_discriminator_step_config_validates_names():
    with pytest.raises(ValueError, match="DiscriminatorStepConfig.loss: expected one of bce"):
        DiscriminatorStepConfig(loss="nope")
    with pytest.raises(ValueError, match="DiscriminatorStepConfig.penalty: expected one of none"):
        DiscriminatorStepConfig(penalty="r2")
    assert DiscriminatorStepConfig(loss="hinge", penalty="wgan_gp").penalty == "wgan_gp"


# ---------------------------------------------------------------------------- utils


def test_ema_update_follows_decay_math():
    src = nn.Linear(3, 2)
    ema = EMA(src, decay=0.9)
    w0 = src.weight.detach().clone()
    assert torch.equal(ema.module.weight, w0) and ema.module.weight.data_ptr() != src.weight.data_ptr()
    assert not any(p.requires_grad for p in ema.module.parameters())
    with torch.no_grad():
        src.weight.fill_(1.0)
    ema.update()
    expected = 0.9 * w0 + 0.1 * 1.0
    torch.testing.assert_close(ema.module.weight, expected)
    ema.update()
    torch.testing.assert_close(ema.module.weight, 0.9 * expected + 0.1 * 1.0)
    # it moved towards the source, and the source itself is untouched
    assert (ema.module.weight - 1.0).abs().sum() < (w0 - 1.0).abs().sum()
    assert torch.equal(src.weight, torch.ones(2, 3))


def test_ema_zero_decay_copies_and_buffers_follow():
    src = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    ema = EMA(src, decay=0.0)
    src.train()
    src(torch.randn(8, 2) + 5.0)  # moves the BatchNorm running mean
    with torch.no_grad():
        src[0].weight.add_(1.0)
    ema.update()
    torch.testing.assert_close(ema.module[0].weight, src[0].weight)
    torch.testing.assert_close(ema.module[1].running_mean, src[1].running_mean)


def test_ema_state_dict_round_trip_and_decay_validation():
    src = nn.Linear(2, 2)
    ema = EMA(src, decay=0.5)
    with torch.no_grad():
        src.weight.add_(1.0)
    ema.update()
    other = EMA(nn.Linear(2, 2), decay=0.99)
    other.load_state_dict(ema.state_dict())
    assert other.decay == 0.5
    torch.testing.assert_close(other.module.weight, ema.module.weight)
    for bad in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="decay"):
            EMA(src, decay=bad)


def test_seed_everything_reproduces_all_rngs():
    def draw():
        return random.random(), float(np.random.rand()), float(torch.rand(()))

    seed_everything(123)
    a = draw()
    seed_everything(123)
    assert draw() == a
    seed_everything(124)
    assert draw() != a


def test_select_device():
    assert select_device("cpu") == torch.device("cpu")
    assert select_device("auto") == torch.device("cuda" if torch.cuda.is_available() else "cpu")


def test_atomic_write_writes_and_leaves_no_temp_file(tmp_path):
    target = tmp_path / "sub" / "out.bin"
    atomic_write(target, lambda tmp: Path(tmp).write_bytes(b"hello"))
    assert target.read_bytes() == b"hello"
    assert os.listdir(target.parent) == ["out.bin"]
    atomic_write(target, lambda tmp: Path(tmp).write_bytes(b"second"))
    assert target.read_bytes() == b"second"
    assert os.listdir(target.parent) == ["out.bin"]


def test_atomic_write_keeps_old_file_when_writer_raises(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def bad_writer(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write("half a fi")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError, match="disk full"):
        atomic_write(target, bad_writer)
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_atomic_write_respects_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "out.bin", lambda tmp: Path(tmp).write_bytes(b"x"))
    finally:
        os.umask(old)
    assert (tmp_path / "out.bin").stat().st_mode & 0o777 == 0o644


def test_weighted_mean_refuses_shapes_that_would_broadcast():
    import torch

    from genplay.generative.core.losses import weighted_mean

    x, w = torch.tensor([1.0, 3.0]), torch.tensor([1.0, 3.0])
    assert float(weighted_mean(x, w)) == 2.5
    with pytest.raises(ValueError, match="weights of shape"):
        weighted_mean(x[:, None], w)  # (B, 1) x (B,) would be a (B, B) sum
