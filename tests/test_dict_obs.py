"""Dict observations flow through demos, BC, the discriminator and PPO (MultiInputPolicy)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
from gymnasium.wrappers import TransformObservation
from stable_baselines3.common.env_util import make_vec_env

from genplay.gail import GAIL, GAILConfig, PPOConfig, collect_demos, load_demos, save_demos
from genplay.gail.algos.config import replace

DICT_SPACE = gym.spaces.Dict({"state": gym.spaces.Box(-np.inf, np.inf, (4,), np.float32)})
ENV_ID = "test/DictCartPole-v0"


def _make_dict_cartpole() -> gym.Env:
    return TransformObservation(gym.make("CartPole-v1"), lambda o: {"state": o}, DICT_SPACE)


if ENV_ID not in gym.registry:
    gym.register(ENV_ID, entry_point=_make_dict_cartpole)


def _heuristic(obs: dict) -> np.ndarray:
    s = obs["state"]
    return (s[:, 2] + 0.5 * s[:, 3] > 0).astype(np.int64)


def test_dict_demos_round_trip(tmp_path):
    demos = collect_demos(ENV_ID, _heuristic, 2, seed=0)
    assert isinstance(demos.obs, dict) and demos.obs["state"].shape == (demos.n_transitions + 2, 4)
    save_demos(tmp_path / "d.npz", demos)
    loaded = load_demos(tmp_path / "d.npz", env_id=ENV_ID)
    np.testing.assert_array_equal(loaded.obs["state"], demos.obs["state"])


def test_gail_trains_on_dict_observations():
    demos = collect_demos(ENV_ID, _heuristic, 2, seed=0)
    config = replace(GAILConfig(), n_envs=2, bc_epochs=2, ppo=PPOConfig(n_steps=128, batch_size=128, n_epochs=2))
    trainer = GAIL(venv=make_vec_env(ENV_ID, n_envs=2, seed=0), demos=demos, config=config)
    trainer.learn(512)
    assert trainer.num_timesteps == 512
    assert len(trainer.history) == 2 and np.isfinite(trainer.history[-1]["loss"])
    assert type(trainer.gen_algo.policy).__name__ == "MultiInputActorCriticPolicy"
    action, _ = trainer.predict({"state": np.zeros((1, 4), np.float32)})
    assert action.shape == (1,)


def test_warm_start_builds_and_clones_a_dict_observation_policy():
    """``make_ppo`` picks SB3's MultiInputPolicy for dict observations, and the warm start clones through it."""
    from stable_baselines3.common.policies import MultiInputActorCriticPolicy

    from genplay.gail.algos.warmstart import make_ppo, warm_start

    demos = collect_demos(ENV_ID, _heuristic, 4, seed=0)
    model = make_ppo(ENV_ID, seed=0, settings={"n_envs": 2, "ppo": {"n_steps": 64}})
    assert isinstance(model.policy, MultiInputActorCriticPolicy)
    stats = warm_start(model, demos, max_epochs=5)
    assert np.isfinite(stats["bc_loss"]) and np.isfinite(stats["value_mse"])
