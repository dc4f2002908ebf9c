"""TransitionRecorder, the compact rollout store, and the frozen policy observation scaling."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from genplay.envs import FIXED_HORIZON_CARTPOLE_ID
from genplay.errors import EnvError
from genplay.gail.data.store import TransitionStore
from genplay.gail.learners.rollout import ReturnScaler, TransitionRecorder, policy_obs_normalizer


def _venv(env_id: str, n_envs: int = 2, max_episode_steps: int | None = None, seed: int = 0) -> DummyVecEnv:
    kw = {} if max_episode_steps is None else {"max_episode_steps": max_episode_steps}
    venv = DummyVecEnv([lambda: gym.make(env_id, **kw) for _ in range(n_envs)])
    venv.seed(seed)
    return venv


def _run(rec, n_steps: int, seed: int = 0):
    """Step with random actions; returns what the algorithm would have seen."""
    rng = np.random.default_rng(seed)
    seen = {"obs": [], "rewards": [], "dones": [], "infos": []}
    obs = rec.reset()
    for _ in range(n_steps):
        actions = rng.integers(0, 2, size=rec.num_envs)
        seen["obs"].append(obs)
        obs, rewards, dones, infos = rec.step(actions)
        seen["rewards"].append(rewards)
        seen["dones"].append(dones)
        seen["infos"].append(infos)
    seen["last_obs"] = obs
    return seen


def _with_next_obs(out: dict) -> dict:
    """The rollout with ``next_obs`` rebuilt from the compact store (each obs stored once)."""
    store = TransitionStore.from_rollout(out, with_next=True)
    n_steps, n_envs = out["dones"].shape
    return {**out, "next_obs": store.take_obs(store.next_idx).reshape(n_steps, n_envs, -1)}


def _is_out_of_bounds(obs: np.ndarray) -> bool:
    base = gym.make("CartPole-v1").unwrapped
    return bool(abs(obs[0]) > base.x_threshold or abs(obs[2]) > base.theta_threshold_radians)


def test_recorder_hands_zero_rewards_and_records_raw_transitions():
    rec = TransitionRecorder(_venv("CartPole-v1"))
    seen = _run(rec, 120)
    assert all((r == 0).all() for r in seen["rewards"])
    out = _with_next_obs(rec.collect())
    assert out["obs"].shape == (120, 2, 4) and out["next_obs"].shape == (120, 2, 4)
    assert out["acts"].shape == (120, 2) and out["terminated"].shape == (120, 2)
    assert len(out["terminal_obs"]) == np.stack(seen["dones"]).sum()  # only episode ends add rows
    np.testing.assert_array_equal(out["obs"], np.stack(seen["obs"]))  # what the policy acted on
    dones = np.stack(seen["dones"])
    assert dones.sum() >= 4  # random CartPole episodes end after ~20 steps
    # away from episode ends, next_obs is the next step's obs
    step_obs = np.stack([*seen["obs"][1:], seen["last_obs"]])
    np.testing.assert_array_equal(out["next_obs"][~dones], step_obs[~dones])
    for t, i in zip(*np.nonzero(dones)):
        info = seen["infos"][t][i]
        np.testing.assert_array_equal(out["next_obs"][t, i], info["terminal_observation"])
        assert not np.array_equal(out["next_obs"][t, i], step_obs[t, i])  # not the auto-reset obs
        assert out["terminated"][t, i] == _is_out_of_bounds(info["terminal_observation"])
        assert out["terminated"][t, i]  # nothing reaches the 500-step limit here
    assert not out["terminated"][~dones].any()


def test_collect_clears_the_recording():
    rec = TransitionRecorder(_venv("CartPole-v1"))
    _run(rec, 5)
    assert rec.collect()["obs"].shape[0] == 5
    assert rec.obs == [] and rec.acts == [] and rec.terminated == []
    rng = np.random.default_rng(0)
    for _ in range(3):
        rec.step(rng.integers(0, 2, size=2))
    assert rec.collect()["obs"].shape[0] == 3


def test_time_limit_truncations_are_not_terminations():
    rec = TransitionRecorder(_venv(FIXED_HORIZON_CARTPOLE_ID, max_episode_steps=7))
    seen = _run(rec, 21)
    out = _with_next_obs(rec.collect())
    dones = np.stack(seen["dones"])
    np.testing.assert_array_equal(np.nonzero(dones.all(axis=1))[0], [6, 13, 20])
    assert dones.sum() == 6
    assert not out["terminated"].any()
    for t, i in zip(*np.nonzero(dones)):
        assert seen["infos"][t][i]["TimeLimit.truncated"]
        np.testing.assert_array_equal(out["next_obs"][t, i], seen["infos"][t][i]["terminal_observation"])


def test_terminations_and_truncations_mixed():
    rec = TransitionRecorder(_venv("CartPole-v1", n_envs=4, max_episode_steps=15))
    seen = _run(rec, 300, seed=1)
    out = rec.collect()
    dones = np.stack(seen["dones"])
    n_term = n_trunc = 0
    for t, i in zip(*np.nonzero(dones)):
        info = seen["infos"][t][i]
        truly_terminal = _is_out_of_bounds(info["terminal_observation"])
        assert out["terminated"][t, i] == truly_terminal
        if truly_terminal:
            n_term += 1
        else:
            assert info["TimeLimit.truncated"]
            n_trunc += 1
    assert n_term > 5 and n_trunc > 5  # both kinds happened


def test_policy_obs_normalizer_is_frozen_vecnormalize_and_recorder_sees_raw():
    mean, var = np.array([0.1, -0.2, 0.05, 0.3]), np.array([0.01, 0.25, 0.0004, 4.0])
    rec = TransitionRecorder(_venv("CartPole-v1"))
    norm = policy_obs_normalizer(rec, mean, var)

    def scale(x):
        return np.clip((x - mean) / np.sqrt(var + 1e-8), -10.0, 10.0).astype(np.float32)

    obs = norm.reset()
    np.testing.assert_allclose(obs, scale(rec._last_obs), rtol=1e-5)
    rng = np.random.default_rng(0)
    n_done = 0
    for _ in range(80):
        obs, _, dones, infos = norm.step(rng.integers(0, 2, size=2))
        np.testing.assert_allclose(obs, scale(rec._last_obs), rtol=1e-5)
        for i in np.flatnonzero(dones):
            np.testing.assert_allclose(infos[i]["terminal_observation"], scale(rec.terminal_obs[-1]), rtol=1e-5)
            n_done += 1
    assert n_done > 0
    np.testing.assert_array_equal(norm.obs_rms.mean, mean)  # frozen: statistics never move
    raw = rec.collect()
    assert not np.allclose(raw["obs"], scale(raw["obs"]))  # the recorder keeps raw observations


def test_recorder_refuses_a_vecnormalize_underneath():
    with pytest.raises(EnvError, match="VecNormalize"):
        TransitionRecorder(VecNormalize(_venv("CartPole-v1")))


@pytest.mark.parametrize("n_envs", [1, 2])
def test_recorder_passes_spaces_and_num_envs_through(n_envs):
    venv = _venv("CartPole-v1", n_envs=n_envs)
    rec = TransitionRecorder(venv)
    assert rec.num_envs == n_envs
    assert rec.observation_space == venv.observation_space and rec.action_space == venv.action_space


# ---------------------------------------------------------------------------- ReturnScaler


def test_return_scaler_divides_by_the_std_of_discounted_returns():
    scaler = ReturnScaler(n_envs=2, gamma=0.5)
    rewards = np.array([[1.0, 2.0], [1.0, 0.0], [1.0, 4.0], [1.0, 1.0]])
    dones = np.array([[False, False], [False, True], [False, False], [True, False]])
    out = scaler(rewards, dones)
    # running discounted returns, reset after each done
    returns = np.array([[1.0, 2.0], [1.5, 1.0], [1.75, 4.0], [1.875, 3.0]])
    reference = RunningMeanStd(shape=())
    reference.update(returns.reshape(-1))
    np.testing.assert_allclose(out, rewards / np.sqrt(reference.var + 1e-8))
    np.testing.assert_allclose(scaler.running_return, [0.0, 3.0])  # env 0 just ended; env 1 carries on
    # the running return carries over to the next rollout
    scaler(np.array([[2.0, 2.0]]), np.array([[False, False]]))
    reference.update(np.array([2.0, 3.5]))
    assert scaler.rms.var == pytest.approx(reference.var)


def test_return_scaler_state_round_trip():
    a = ReturnScaler(n_envs=3, gamma=0.9)
    rng = np.random.default_rng(0)
    a(rng.normal(size=(10, 3)), rng.random((10, 3)) < 0.2)
    b = ReturnScaler(n_envs=3, gamma=0.9)
    b.load_state_dict(a.state_dict())
    rewards, dones = rng.normal(size=(5, 3)), np.zeros((5, 3), bool)
    np.testing.assert_array_equal(a(rewards, dones), b(rewards, dones))
