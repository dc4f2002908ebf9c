"""Other generators and spaces through the public API: A2C, MaskablePPO with action masks,
continuous actions, and pixel observations (CnnPolicy + the discriminator's NatureCNN)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from sb3_contrib import MaskablePPO
from stable_baselines3 import A2C

from genplay.envs import EnvFactory
from genplay.gail import GAIL, GAILConfig, PPOConfig, collect_demos, load_demos, save_demos
from genplay.gail.algos.config import replace
from genplay.gail.evaluation.evaluate import episode_returns
from genplay.gail.rewards.features import CenteredNatureCNN

TINY = dict(n_envs=2, disc_batch_size=64, disc_updates=2, bc_epochs=3, device="cpu")


class MaskedChoice(gym.Env):
    """Each step offers 4 actions of which a state-dependent half is legal; the goal action pays 1.

    Observation: one-hot of the goal action and of the legal set's id. 12 steps an episode.
    """

    observation_space = spaces.Box(0.0, 1.0, (6,), np.float32)
    action_space = spaces.Discrete(4)
    LEGAL = (np.array([1, 1, 0, 0], bool), np.array([0, 0, 1, 1], bool))

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._draw(), {}

    def _draw(self):
        self.legal_id = int(self.np_random.integers(2))
        self.goal = int(self.np_random.choice(np.flatnonzero(self.LEGAL[self.legal_id])))
        obs = np.zeros(6, np.float32)
        obs[self.goal], obs[4 + self.legal_id] = 1.0, 1.0
        return obs

    def action_masks(self) -> np.ndarray:
        return self.LEGAL[self.legal_id].copy()

    def step(self, action):
        if not self.LEGAL[self.legal_id][int(action)]:
            raise ValueError(f"illegal action {action}")
        reward = float(int(action) == self.goal)
        self.t += 1
        return self._draw(), reward, False, self.t >= 12, {}


MASKED_ID = "test/MaskedChoice-v0"
if MASKED_ID not in gym.registry:
    gym.register(MASKED_ID, entry_point=MaskedChoice)


def _goal_policy(obs, action_masks=None):
    return np.argmax(np.asarray(obs)[:, :4], axis=1)


def test_masks_are_recorded_in_demos_and_round_trip(tmp_path):
    demos = collect_demos(MASKED_ID, _goal_policy, 3, seed=0)
    assert demos.action_masks is not None and demos.action_masks.shape == (36, 4)
    assert demos.action_masks[np.arange(36), demos.acts].all()  # every demo action was legal
    save_demos(tmp_path / "d.npz", demos)
    loaded = load_demos(tmp_path / "d.npz", env_id=MASKED_ID)
    np.testing.assert_array_equal(loaded.action_masks, demos.action_masks)


def test_maskable_ppo_generator_end_to_end_never_predicts_a_masked_action():
    demos = collect_demos(MASKED_ID, _goal_policy, 6, seed=0)
    venv = demos.env_factory.make_vec(2, seed=0)
    config = replace(GAILConfig(), **TINY, ppo=PPOConfig(n_steps=64, batch_size=64, n_epochs=2))
    gen = MaskablePPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=2, seed=0, device="cpu")
    trainer = GAIL(venv=venv, demos=demos, config=config, gen_algo=gen)
    trainer.learn(1024)  # steps an env that raises on illegal actions: MaskablePPO got the masks
    assert trainer.num_timesteps == 1024 and np.isfinite(trainer.history[-1]["loss"])
    obs = np.random.default_rng(0).random((200, 6)).astype(np.float32)
    masks = np.stack([MaskedChoice.LEGAL[i % 2] for i in range(200)])
    for deterministic in (True, False):
        actions, _ = trainer.predict(obs, deterministic=deterministic, action_masks=masks)
        assert masks[np.arange(200), actions].all()
    returns = episode_returns(MASKED_ID, trainer, 4, seed=1)  # masked evaluation: never an illegal step
    assert len(returns) == 4 and returns.mean() > episode_returns(MASKED_ID, "random", 20, seed=1).mean()


@pytest.mark.slow
def test_a2c_generator_trains_through_the_public_api(cartpole_demos):
    venv = EnvFactory("CartPole-v1").make_vec(2, seed=0)
    trainer = GAIL(
        venv=venv, demos=cartpole_demos, config=replace(GAILConfig(), **TINY), gen_algo=A2C("MlpPolicy", venv)
    )
    trainer.learn(400)
    assert trainer.num_timesteps >= 400 and len(trainer.history) == trainer.n_rollouts > 10


@pytest.mark.parametrize("env_id", ["Pendulum-v1", "MountainCarContinuous-v0"])
def test_continuous_actions_train_through_the_public_api(env_id):
    from genplay.envs.scripted import SCRIPTED_EXPERTS

    demos = collect_demos(env_id, SCRIPTED_EXPERTS[env_id], 2, seed=0)
    config = replace(GAILConfig(), **TINY, ppo=PPOConfig(n_steps=128, batch_size=128, n_epochs=2))
    trainer = GAIL(venv=demos.env_factory.make_vec(2, seed=0), demos=demos, config=config)
    trainer.learn(512)
    action, _ = trainer.predict(demos.obs[:3])
    assert action.shape == (3, 1) and np.isfinite(trainer.history[-1]["reward_mean"])


class TinyPixels(gym.Env):
    """A 36x36 uint8 frame (2 channels, channels-first) showing a dot to steer right; 16 steps."""

    observation_space = spaces.Box(0, 255, (2, 36, 36), np.uint8)
    action_space = spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.x, self.t = int(self.np_random.integers(0, 36)), 0
        return self._frame(), {}

    def _frame(self):
        f = np.zeros((2, 36, 36), np.uint8)
        f[0, 18, self.x] = 255
        f[1, :, : self.t] = 64
        return f

    def step(self, action):
        self.x = int(np.clip(self.x + (1 if action == 1 else -1), 0, 35))
        self.t += 1
        return self._frame(), float(self.x == 35), False, self.t >= 16, {}


PIXELS_ID = "test/TinyPixels-v0"
if PIXELS_ID not in gym.registry:
    gym.register(PIXELS_ID, entry_point=TinyPixels)


def test_pixel_observations_use_cnn_policy_and_natures_cnn_discriminator_and_stay_uint8():
    demos = collect_demos(PIXELS_ID, lambda obs: np.ones(len(obs), np.int64), 3, seed=0)
    assert demos.obs.dtype == np.uint8
    config = replace(GAILConfig(), **TINY, disc_cnn_features=32, ppo=PPOConfig(n_steps=32, batch_size=32, n_epochs=1))
    trainer = GAIL(venv=demos.env_factory.make_vec(2, seed=0), demos=demos, config=config)
    assert isinstance(trainer.gen_algo.policy.features_extractor, CenteredNatureCNN)  # demo-centred frames
    assert type(trainer.disc.encoder.extractor).__name__ == "NatureCNN"
    trainer.learn(128)
    store, _ = trainer.replay[-1]
    assert store.obs.dtype == np.uint8 and trainer.expert.obs.dtype == np.uint8
    assert np.isfinite(trainer.history[-1]["loss"])
