"""GAIL's transition discriminator: input flattening, reward forms, absorbing rows, features."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gymnasium import spaces

from genplay.errors import EnvError
from genplay.gail.discriminator import (
    TransitionDiscriminator,
    absorbing_mass,
    flat_dim,
    flatten_batch,
    make_transition_batch,
    reward_from_logits,
)

OBS_SPACE = spaces.Box(-np.inf, np.inf, (4,), np.float32)
ACT_SPACE = spaces.Discrete(2)

# ---------------------------------------------------------------------------- flatten_batch


def test_discrete_becomes_one_hot():
    out = flatten_batch(spaces.Discrete(3), np.array([0, 2, 1, 2]))
    np.testing.assert_array_equal(out, np.eye(3)[[0, 2, 1, 2]])
    assert out.dtype == np.float32 and out.shape == (4, flat_dim(spaces.Discrete(3)))


def test_discrete_with_start_offset():
    out = flatten_batch(spaces.Discrete(3, start=-1), np.array([-1, 1, 0]))
    np.testing.assert_array_equal(out, [[1, 0, 0], [0, 0, 1], [0, 1, 0]])


def test_bounded_box_actions_scale_to_minus_one_one():
    space = spaces.Box(low=np.array([-2.0, 0.0], np.float32), high=np.array([2.0, 10.0], np.float32))
    x = np.array([[-2.0, 0.0], [2.0, 10.0], [0.0, 5.0], [1.0, 7.5], [4.0, -5.0]])
    out = flatten_batch(space, x, scale_box=True)
    np.testing.assert_allclose(out, [[-1, -1], [1, 1], [0, 0], [0.5, 0.5], [1, -1]], atol=1e-6)  # last row clipped
    assert out.dtype == np.float32
    np.testing.assert_allclose(flatten_batch(space, x), x)  # without scale_box: unchanged


def test_unbounded_box_is_not_scaled_and_is_flattened():
    x = np.arange(12, dtype=np.float32).reshape(2, 2, 3) * 100
    space = spaces.Box(-np.inf, np.inf, (2, 3), np.float32)
    np.testing.assert_array_equal(flatten_batch(space, x, scale_box=True), x.reshape(2, 6))
    assert flat_dim(space) == 6


def test_multidiscrete_multibinary_and_dict():
    md = spaces.MultiDiscrete([2, 3])
    np.testing.assert_array_equal(flatten_batch(md, np.array([[1, 2], [0, 0]])), [[0, 1, 0, 0, 1], [1, 0, 1, 0, 0]])
    assert flat_dim(md) == 5
    mb = spaces.MultiBinary(3)
    np.testing.assert_array_equal(flatten_batch(mb, np.array([[1, 0, 1]])), [[1.0, 0.0, 1.0]])
    d = spaces.Dict({"a": spaces.Discrete(2), "b": spaces.Box(-1, 1, (1,), np.float32)})
    out = flatten_batch(d, {"a": np.array([1, 0]), "b": np.array([[0.5], [-0.5]])})
    np.testing.assert_allclose(out, [[0, 1, 0.5], [1, 0, -0.5]])
    assert flat_dim(d) == 3


def test_image_observations_are_refused():
    space = spaces.Box(0, 255, (8, 8, 3), np.uint8)
    with pytest.raises(EnvError, match="image"):
        flatten_batch(space, np.zeros((1, 8, 8, 3), np.uint8))


# ---------------------------------------------------------------------------- reward forms


LOGITS = torch.tensor([-8.0, -3.0, -0.5, 0.0, 0.5, 2.0, 8.0])


def test_reward_logit_form_is_the_logit():
    assert torch.equal(reward_from_logits(LOGITS, "logit"), LOGITS)
    assert torch.equal(reward_from_logits(LOGITS), LOGITS)  # the default


def test_reward_positive_form_is_softplus_and_always_positive():
    r = reward_from_logits(LOGITS, "positive")
    torch.testing.assert_close(r, F.softplus(LOGITS))
    torch.testing.assert_close(r, -torch.log(1 - torch.sigmoid(LOGITS)), rtol=1e-4, atol=1e-6)  # -log(1 - D)
    assert (r > 0).all()
    assert (r[1:] > r[:-1]).all()  # more expert-like, more reward


def test_reward_negative_form_is_log_d_and_always_negative():
    r = reward_from_logits(LOGITS, "negative")
    torch.testing.assert_close(r, torch.log(torch.sigmoid(LOGITS)), rtol=1e-4, atol=1e-6)  # log D
    assert (r < 0).all()
    assert (r[1:] > r[:-1]).all()


def test_reward_forms_differ_by_the_logit():
    # log D - log(1 - D) = l  <=>  negative + positive = logit
    torch.testing.assert_close(reward_from_logits(LOGITS, "positive") + reward_from_logits(LOGITS, "negative"), LOGITS)


def test_reward_unknown_form():
    with pytest.raises(ValueError, match="unknown reward form"):
        reward_from_logits(LOGITS, "survival")


# ---------------------------------------------------------------------------- batches and features


def _transitions(n: int = 4, seed: int = 0):
    rng = np.random.default_rng(seed)
    obs = rng.normal(size=(n, 4)).astype(np.float32)
    next_obs = rng.normal(size=(n, 4)).astype(np.float32)
    acts = np.array([0, 1, 1, 0][:n])
    return obs, acts, next_obs


@pytest.mark.parametrize("use_next_obs", [False, True])
def test_transition_batch_holds_only_the_live_rows(use_next_obs):
    disc = TransitionDiscriminator(OBS_SPACE, ACT_SPACE, use_next_obs=use_next_obs)
    obs, acts, next_obs = _transitions()
    b = make_transition_batch(disc, obs, acts, next_obs)
    assert set(b) == {"obs", "acts", "next_obs", "absorbing"}  # no per-row weight any more
    assert b["obs"].shape == (4, 4) and b["acts"].shape == (4, 2)
    assert b["next_obs"].shape == (4, 4 if use_next_obs else 0)
    np.testing.assert_array_equal(b["absorbing"].numpy(), [0, 0, 0, 0])
    np.testing.assert_array_equal(b["obs"].numpy(), obs)
    np.testing.assert_array_equal(b["acts"].numpy(), np.eye(2)[acts])
    if use_next_obs:
        np.testing.assert_array_equal(b["next_obs"].numpy(), next_obs)
    assert all(v.dtype == torch.float32 for v in b.values())


def test_no_absorbing_rows_whatever_the_terminal_flags():
    disc = TransitionDiscriminator(OBS_SPACE, ACT_SPACE)
    obs, acts, next_obs = _transitions()
    plain = make_transition_batch(disc, obs, acts, next_obs)
    # terminal flags and absorbing steps (the old interface, e.g. ``**demos.transitions()``) are ignored
    for terminal in (np.ones(4, bool), np.array([False, True, False, True])):
        b = make_transition_batch(disc, obs, acts, next_obs, terminal=terminal, absorbing_steps=np.array([10, 0]))
        assert len(b["obs"]) == 4 and (b["absorbing"] == 0).all() and "weight" not in b
        assert set(b) == set(plain) and all(torch.equal(b[k], plain[k]) for k in b)
    # the absorbing state's weight comes from absorbing_mass alone, zero when nothing terminated
    assert absorbing_mass((500 - np.array([20, 30]))[np.zeros(2, bool)]) == 0.0


def test_absorbing_mass_is_the_steps_left_with_at_least_one_each():
    assert absorbing_mass(np.array([10, 0])) == 11.0  # an episode ending at the horizon still counts one step
    assert absorbing_mass(np.array([3, 5, 0, -2])) == 10.0
    assert absorbing_mass(np.array([490, 475, 1])) == 966.0
    assert absorbing_mass(np.zeros(0, int)) == 0.0  # no terminated episode: no absorbing mass
    assert isinstance(absorbing_mass(np.array([2, 7])), float)


@pytest.mark.parametrize("use_next_obs", [False, True])
def test_absorbing_batch_is_one_zero_row_with_the_flag(use_next_obs):
    disc = TransitionDiscriminator(OBS_SPACE, ACT_SPACE, use_next_obs=use_next_obs)
    a = disc.absorbing_batch()
    assert set(a) == {"obs", "acts", "next_obs", "absorbing"}
    assert a["obs"].shape == (1, 4) and a["acts"].shape == (1, 2)
    assert a["next_obs"].shape == (1, 4 if use_next_obs else 0)
    np.testing.assert_array_equal(a["absorbing"].numpy(), [1])
    for key in ("obs", "acts", "next_obs"):
        assert (a[key] == 0).all()
    assert all(v.dtype == torch.float32 for v in a.values())


def _live_and_absorbing(disc: TransitionDiscriminator, obs, acts, next_obs) -> dict[str, torch.Tensor]:
    """Rows 0-3 live, rows 4-5 the absorbing state."""
    live, absorbing = make_transition_batch(disc, obs, acts, next_obs), disc.absorbing_batch()
    return {k: torch.cat([live[k], absorbing[k], absorbing[k]]) for k in live}


@pytest.mark.parametrize("use_next_obs", [False, True])
def test_features_zero_out_absorbing_rows(use_next_obs):
    torch.manual_seed(0)
    disc = TransitionDiscriminator(OBS_SPACE, ACT_SPACE, use_next_obs=use_next_obs)
    obs, acts, next_obs = _transitions()
    disc.update_normalizer(obs * 3 + 1)  # mean and std far from 0 and 1: zero rows would not stay zero
    f = disc.features(_live_and_absorbing(disc, obs, acts, next_obs))
    width = 4 * (2 if use_next_obs else 1) + 2 + 1
    assert f.shape == (6, width)
    assert (f[4:, :-1] == 0).all() and (f[4:, -1] == 1).all()
    assert (f[:4, -1] == 0).all()
    torch.testing.assert_close(f[:4, :4], disc.normalize(torch.from_numpy(obs)))
    torch.testing.assert_close(f[:4, 4:6], torch.from_numpy(np.eye(2, dtype=np.float32)[acts]))
    if use_next_obs:
        torch.testing.assert_close(f[:4, 6:10], disc.normalize(torch.from_numpy(next_obs)))
    absorbing = disc.features(disc.absorbing_batch())
    assert absorbing.shape == (1, width)
    torch.testing.assert_close(absorbing, f[4:5])
    # the zeroing is done by features itself: live inputs flagged absorbing lose them too
    flagged = make_transition_batch(disc, obs, acts, next_obs)
    flagged["absorbing"] = torch.tensor([0.0, 1.0, 0.0, 1.0])
    g = disc.features(flagged)
    torch.testing.assert_close(g[[1, 3]], absorbing.expand(2, -1))
    torch.testing.assert_close(g[[0, 2]], f[[0, 2]])


def test_forward_gives_one_logit_per_row_and_the_absorbing_logit_on_absorbing_rows():
    torch.manual_seed(0)
    disc = TransitionDiscriminator(OBS_SPACE, ACT_SPACE)
    with torch.no_grad():
        disc.absorbing_logit.fill_(-1.25)
    obs, acts, next_obs = _transitions()
    features = disc.features(_live_and_absorbing(disc, obs, acts, next_obs))
    with torch.no_grad():
        logits = disc(features)
        assert logits.shape == (6,)
        torch.testing.assert_close(logits[4:], torch.full((2,), -1.25))
        torch.testing.assert_close(logits[:4], disc.net(features[:4, :-1]).squeeze(-1))  # the net on live rows
        assert not torch.allclose(logits[:4], torch.full((4,), -1.25))
        assert float(disc(disc.features(disc.absorbing_batch()))[0]) == pytest.approx(-1.25)
    # the absorbing logit is a learned parameter: only absorbing rows send it gradient, and not to the net
    disc(features)[4:].sum().backward()
    assert float(disc.absorbing_logit.grad) == pytest.approx(2.0)
    assert all(p.grad is None or (p.grad == 0).all() for p in disc.net.parameters())
    disc.zero_grad(set_to_none=True)
    disc(features)[:4].sum().backward()
    assert disc.absorbing_logit.grad is None or float(disc.absorbing_logit.grad) == 0.0


def test_normalizer_tracks_running_mean_and_std_and_clamps():
    disc = TransitionDiscriminator(OBS_SPACE, ACT_SPACE)
    rng = np.random.default_rng(0)
    data = rng.normal(loc=[1, -2, 3, 0], scale=[1, 2, 3, 0.5], size=(5000, 4))
    disc.update_normalizer(data[:2500])
    disc.update_normalizer(data[2500:])
    np.testing.assert_allclose(disc._mean.numpy(), data.mean(0), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(disc._std.numpy(), data.std(0), rtol=1e-3)
    z = disc.normalize(torch.tensor(data[:100], dtype=torch.float32))
    assert abs(float(z.mean())) < 0.3
    far = disc.normalize(torch.tensor([[1e6, -1e6, 3.0, 0.0]]))
    assert far[0, 0] == 10.0 and far[0, 1] == -10.0
