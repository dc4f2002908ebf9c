"""GAIL's discriminator inputs and outputs: SB3 preprocessing, demo scaling, encoders, absorbing rows."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.torch_layers import CombinedExtractor, FlattenExtractor, NatureCNN

from genplay.errors import EnvError
from genplay.gail.data.store import TransitionStore
from genplay.gail.rewards.discriminator import TransitionDiscriminator, reward_from_logits
from genplay.gail.rewards.features import CLIP, DemoScaling, actions_to_flat, flat_width, to_flat

CPU = torch.device("cpu")
OBS_SPACE = spaces.Box(-np.inf, np.inf, (4,), np.float32)
ACT_SPACE = spaces.Discrete(2)
IMAGE_SPACE = spaces.Box(0, 255, (4, 36, 36), np.uint8)

# ---------------------------------------------------------------------------- inputs


def test_discrete_becomes_one_hot_and_start_is_respected():
    out = to_flat(spaces.Discrete(3), np.array([0, 2, 1, 2]), CPU)
    np.testing.assert_array_equal(out.numpy(), np.eye(3)[[0, 2, 1, 2]])
    out = actions_to_flat(spaces.Discrete(3, start=-1), np.array([-1, 1, 0]), CPU)
    np.testing.assert_array_equal(out.numpy(), np.eye(3)[[0, 2, 1]])


def test_bounded_box_actions_scale_to_minus_one_one_and_unbounded_pass_through():
    space = spaces.Box(np.array([-2.0, 0.0], np.float32), np.array([2.0, 10.0], np.float32), dtype=np.float32)
    out = actions_to_flat(space, np.array([[-2.0, 0.0], [2.0, 10.0], [0.0, 5.0], [9.0, -3.0]]), CPU)
    np.testing.assert_allclose(out.numpy(), [[-1, -1], [1, 1], [0, 0], [1, -1]])  # clipped into the bounds
    raw = np.array([[1e3, -7.0, 0.5, 2.0]], np.float32)
    np.testing.assert_array_equal(actions_to_flat(OBS_SPACE, raw, CPU).numpy(), raw)


def test_dict_multidiscrete_multibinary_flatten_in_key_order():
    space = spaces.Dict({"b": spaces.MultiBinary(2), "a": spaces.MultiDiscrete([2, 3]), "c": OBS_SPACE})
    obs = {"a": np.array([[1, 2]]), "b": np.array([[1, 0]]), "c": np.array([[0.5, 1, 2, 3]], np.float32)}
    out = to_flat(space, obs, CPU)
    assert out.shape == (1, flat_width(space)) == (1, 2 + 3 + 2 + 4)
    np.testing.assert_array_equal(out.numpy()[0], [0, 1, 0, 0, 1, 1, 0, 0.5, 1, 2, 3])


def test_unsupported_space_is_refused_with_a_clear_error():
    with pytest.raises(EnvError, match="does not handle"):
        TransitionDiscriminator(spaces.Text(5), ACT_SPACE)


def test_channels_last_images_are_refused_at_the_boundary():
    with pytest.raises(EnvError, match="channels-first"):
        TransitionDiscriminator(spaces.Box(0, 255, (36, 36, 4), np.uint8), ACT_SPACE)


# ---------------------------------------------------------------------------- scaling


def test_demo_scaling_centres_and_scales_per_feature_and_clips():
    scaling = DemoScaling(OBS_SPACE)
    rng = np.random.default_rng(0)
    data = torch.tensor(rng.normal(loc=[1, -2, 3, 0], scale=[1, 2, 3, 0.5], size=(5000, 4)), dtype=torch.float32)
    scaling.fit(iter([data[:2500], data[2500:]]))  # chunks give the same statistics as one pass
    np.testing.assert_allclose(scaling.mean.numpy(), data.mean(0).numpy(), atol=1e-3)
    np.testing.assert_allclose(scaling.std.numpy(), data.std(0, unbiased=False).numpy(), rtol=1e-3)
    far = scaling(torch.tensor([[1e6, -1e6, 3.0, 0.0]]))
    assert far[0, 0] == CLIP and far[0, 1] == -CLIP


def test_a_feature_constant_in_the_demos_does_not_blow_up():
    scaling = DemoScaling(OBS_SPACE)
    data = torch.tensor(np.random.default_rng(0).normal(size=(1000, 4)), dtype=torch.float32)
    data[:, 2] = 1.0  # constant in every demo (a board plane that never changes)
    scaling.fit(iter([data]))
    assert float(scaling.std[2]) >= 0.005  # floored at a fraction of the other features' std
    moved = scaling(torch.tensor([[0.0, 0.0, 0.0, 0.0]]))  # the learner changes it by 1
    assert abs(float(moved[0, 2])) <= CLIP


def test_images_are_centred_on_the_mean_frame_with_one_scalar_std():
    scaling = DemoScaling(IMAGE_SPACE)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 256, size=(64, *IMAGE_SPACE.shape), dtype=np.uint8)
    flat = to_flat(IMAGE_SPACE, frames, CPU)
    scaling.fit(iter([flat]))
    np.testing.assert_allclose(scaling.mean.numpy(), frames.reshape(64, -1).mean(0), rtol=1e-4)
    assert torch.unique(scaling.std).numel() == 1  # one std for every pixel
    assert abs(float(scaling(flat).mean())) < 1e-3


# ---------------------------------------------------------------------------- encoders


@pytest.mark.parametrize(
    ("space", "extractor"),
    [
        (OBS_SPACE, FlattenExtractor),
        (IMAGE_SPACE, NatureCNN),
        (spaces.Dict({"frame": IMAGE_SPACE, "pos": OBS_SPACE}), CombinedExtractor),
    ],
)
def test_encoder_is_sb3s_extractor_for_the_space_and_scores_raw_rows(space, extractor):
    torch.manual_seed(0)
    disc = TransitionDiscriminator(space, ACT_SPACE, use_next_obs=True, cnn_features=32)
    assert isinstance(disc.encoder.extractor, extractor)
    n = 6
    obs = (
        {k: np.stack([s.sample() for _ in range(n + 1)]) for k, s in space.spaces.items()}
        if isinstance(space, spaces.Dict)
        else np.stack([space.sample() for _ in range(n + 1)])
    )
    store = TransitionStore(obs, np.arange(n), np.array([0, 1, 1, 0, 1, 0]), np.arange(1, n + 1))
    disc.fit_scaling(store)
    features = disc.features(store, np.arange(n))
    assert features.shape == (n, disc.width) and features.dtype == torch.float32
    logits = disc.logits(store, chunk=4)  # chunked scoring gives the same logits
    torch.testing.assert_close(logits, disc(features).detach())
    assert logits.shape == (n,) and torch.isfinite(logits).all()


def test_image_rows_stay_uint8_in_the_store():
    frames = np.zeros((10, *IMAGE_SPACE.shape), np.uint8)
    store = TransitionStore.from_episodes(frames, np.zeros(8, np.int64), np.array([3, 5]), with_next=True)
    assert store.obs.dtype == np.uint8 and store.obs is frames  # no copy, no float conversion
    np.testing.assert_array_equal(store.obs_idx, [0, 1, 2, 4, 5, 6, 7, 8])
    np.testing.assert_array_equal(store.next_idx, [1, 2, 3, 5, 6, 7, 8, 9])


# ---------------------------------------------------------------------------- outputs


LOGITS = torch.tensor([-30.0, -2.0, -0.5, 0.0, 0.5, 2.0, 30.0])


def test_reward_forms():
    assert torch.equal(reward_from_logits(LOGITS, "logit"), LOGITS)
    torch.testing.assert_close(reward_from_logits(LOGITS, "positive")[:-1], -torch.log1p(-torch.sigmoid(LOGITS[:-1])))
    assert (reward_from_logits(LOGITS, "positive") >= 0).all() and (reward_from_logits(LOGITS, "negative") <= 0).all()
    torch.testing.assert_close(reward_from_logits(LOGITS, "negative"), F.logsigmoid(LOGITS))
    with pytest.raises(ValueError, match="survival"):
        reward_from_logits(LOGITS, "survival")


@pytest.mark.parametrize("use_next_obs", [False, True])
def test_absorbing_rows_get_the_absorbing_logit_and_only_they_train_it(use_next_obs):
    torch.manual_seed(0)
    disc = TransitionDiscriminator(OBS_SPACE, ACT_SPACE, use_next_obs=use_next_obs)
    with torch.no_grad():
        disc.absorbing_logit.fill_(-1.25)
    obs = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    store = TransitionStore(obs, np.arange(4), np.array([0, 1, 1, 0]), np.arange(1, 5))
    rows = torch.cat([disc.features(store, np.arange(4)), disc.absorbing_features(2)])
    assert rows.shape == (6, 4 * (2 if use_next_obs else 1) + 2 + 1)
    assert (rows[4:, :-1] == 0).all() and (rows[4:, -1] == 1).all() and (rows[:4, -1] == 0).all()
    logits = disc(rows)
    torch.testing.assert_close(logits[4:].detach(), torch.full((2,), -1.25))
    assert not torch.allclose(logits[:4].detach(), torch.full((4,), -1.25))
    logits[4:].sum().backward()
    assert float(disc.absorbing_logit.grad) == pytest.approx(2.0)
    assert all(p.grad is None or (p.grad == 0).all() for p in disc.net.parameters())
