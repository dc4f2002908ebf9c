"""The fixed-horizon CartPole, env-id resolution, the env factory and the scripted experts."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from genplay.envs import FIXED_HORIZON_CARTPOLE_ID, check_env_id, make_env
from genplay.errors import EnvError


def _rollout(seed: int, n_steps: int | None = None, action_seed: int | None = None):
    env = make_env(FIXED_HORIZON_CARTPOLE_ID)
    env.action_space.seed(seed if action_seed is None else action_seed)
    obs, _ = env.reset(seed=seed)
    all_obs, rewards, thetas, xs = [obs], [], [], []
    steps, truncated = 0, False
    while not truncated and (n_steps is None or steps < n_steps):
        obs, reward, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        x, _, theta, _ = env.unwrapped.state
        all_obs.append(obs)
        rewards.append(reward)
        thetas.append(theta)
        xs.append(x)
        steps += 1
    env.close()
    return np.array(all_obs), np.array(rewards), np.array(thetas), np.array(xs), steps, truncated


def test_registered_with_a_500_step_limit():
    spec = check_env_id(FIXED_HORIZON_CARTPOLE_ID)
    assert spec.max_episode_steps == 500
    assert spec.id in gym.registry


def test_passes_gymnasium_check_env():
    env = make_env(FIXED_HORIZON_CARTPOLE_ID)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the checker's warnings count as failures
        check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_random_policy_runs_exactly_500_steps_without_terminating(seed):
    obs, rewards, _, _, steps, truncated = _rollout(seed)
    assert steps == 500 and truncated
    assert rewards.shape == (500,)
    assert obs.dtype == np.float32
    space = make_env(FIXED_HORIZON_CARTPOLE_ID).observation_space
    assert all(space.contains(o) for o in obs)


def test_reward_is_one_while_upright_and_zero_after_the_pole_falls():
    _, rewards, thetas, xs, _, _ = _rollout(0)
    base = gym.make("CartPole-v1").unwrapped
    upright = (np.abs(thetas) <= base.theta_threshold_radians) & (np.abs(xs) <= base.x_threshold)
    np.testing.assert_array_equal(rewards, upright.astype(float))
    fallen = int(np.argmin(upright))
    assert 0 < fallen < 100 and not upright[fallen]  # a random policy drops the pole early
    assert rewards[:fallen].min() == 1.0 and rewards[fallen] == 0.0
    assert rewards.sum() < 100  # CartPole-v1 would have ended the episode; here it stays 0 afterwards
    assert set(np.unique(rewards)) <= {0.0, 1.0}


def test_same_seed_same_rollout_and_different_seed_differs():
    a_obs, a_rew, *_ = _rollout(7, n_steps=200)
    b_obs, b_rew, *_ = _rollout(7, n_steps=200)
    np.testing.assert_array_equal(a_obs, b_obs)
    np.testing.assert_array_equal(a_rew, b_rew)
    c_obs, *_ = _rollout(8, n_steps=200)
    assert not np.array_equal(a_obs, c_obs)


def test_check_env_id_unknown_suggests_close_matches():
    with pytest.raises(EnvError, match=r"unknown env id 'CartPole-v9'; did you mean .*CartPole-v1"):
        check_env_id("CartPole-v9")


def test_check_env_id_unknown_without_close_match():
    with pytest.raises(EnvError, match="unknown env id 'zzqqxx-v0'") as info:
        check_env_id("zzqqxx-v0")
    assert "did you mean" not in str(info.value)


def test_make_env_checks_the_id_and_builds_known_envs():
    with pytest.raises(EnvError, match="NoSuchEnv-v0"):
        make_env("NoSuchEnv-v0")
    env = make_env("CartPole-v1")
    assert env.spec.id == "CartPole-v1"
    env.close()


# ---------------------------------------------------------------------------- the env factory


def test_env_factory_round_trips_as_json_and_builds_the_same_env():
    import json

    from genplay.envs import EnvFactory

    factory = EnvFactory("CartPole-v1", {"sutton_barto_reward": True}, ("time_aware_observation",))
    again = EnvFactory.from_dict(json.loads(json.dumps(factory.to_dict())))
    assert again == factory
    env = again.make()
    assert env.observation_space.shape == (5,)  # the wrapper added the time
    env.reset(seed=0)
    assert env.step(0)[1] == 0.0  # the env's own option reached it (Sutton & Barto's reward: 0 per step)
    venv = factory.make_vec(3, seed=1)
    assert venv.num_envs == 3 and venv.observation_space.shape == (5,)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"env_id": "CartPole-v1", "kwargs": {"max_episode_steps": 1}}, "env.kwargs.max_episode_steps"),
        ({"env_id": "CartPole-v1", "kwargs": {"max_episode_steps": -1}}, "cannot be set from a file"),
        ({"env_id": "CartPole-v1", "kwargs": {"render_mode": "human"}}, "env.kwargs.render_mode"),
        ({"env_id": "CartPole-v1", "kwargs": {"no_such_option": 1}}, "env.kwargs.no_such_option"),
        ({"env_id": "genplay/Pong-v0", "kwargs": {"game": "breakout"}}, "env.kwargs.game"),
        ({"env_id": "CartPole-v1", "wrappers": ["no_such_wrapper"]}, "unknown env wrapper"),
        ({"env_id": "CartPole-v9"}, "unknown env id"),
        ({"kwargs": {}}, "field 'env'"),
        ("CartPole-v9", "unknown env id"),
    ],
)
def test_env_factory_refuses_bad_descriptions(data, match):
    from genplay.envs import EnvFactory
    from genplay.errors import EnvError

    with pytest.raises(EnvError, match=match):
        EnvFactory.from_dict(data, source="demos.npz")


def test_demos_remember_their_factory_and_training_uses_it(tmp_path):
    from genplay.envs import EnvFactory
    from genplay.gail import collect_demos, load_demos, save_demos

    factory = EnvFactory("Pendulum-v1", {"g": 12.0})  # an option of the env itself, so a file may carry it
    demos = collect_demos(factory, "random", 2, seed=0)
    assert demos.env == factory and factory.make().unwrapped.g == 12.0
    save_demos(tmp_path / "d.npz", demos)
    assert load_demos(tmp_path / "d.npz").env_factory == factory


@pytest.mark.parametrize("env_id", ["MountainCar-v0", "MountainCarContinuous-v0", "Acrobot-v1", "Pendulum-v1"])
def test_scripted_experts_beat_random_by_far(env_id):
    from genplay.envs.scripted import SCRIPTED_EXPERTS
    from genplay.gail.evaluation.evaluate import episode_returns

    expert = episode_returns(env_id, SCRIPTED_EXPERTS[env_id], 6, seed=3).mean()
    rand = episode_returns(env_id, "random", 6, seed=3).mean()
    assert expert > rand + 0.3 * abs(rand), (expert, rand)
