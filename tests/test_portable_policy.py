"""``policy.zip`` under SB3's own loader acts as genplay's loader does, on the env's raw observations.

Tiny runs (a few hundred steps): what is tested is the mapping from raw observations to actions,
not learning. SB3's loaders unpickle; the zips here are the ones the test just wrote.
"""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import torch

from genplay.envs import EnvFactory
from genplay.envs.scripted import SCRIPTED_EXPERTS
from genplay.errors import CheckpointError
from genplay.gail.algos.config import atari_preset, replace
from genplay.gail.algos.gail import GAIL
from genplay.gail.algos.presets import preset
from genplay.gail.data.collect import collect_demos, random_policy
from genplay.gail.data.demos import Demos
from genplay.gail.data.spaces import describe_space
from genplay.gail.evaluation.portable_check import check_portable, raw_observations, same_actions, sb3_load
from genplay.gail.rewards.features import CenteredNatureCNN, ObsScalingExtractor
from genplay.gail.saving.run_files import export_policy, load_policy, load_policy_model
from genplay.gail.saving.sb3_zip import save_sb3_zip

N_OBS = 1000
PONG = "genplay/Pong-v0"
TINY = dict(n_envs=2, ppo_n_steps=64, ppo_batch_size=64, ppo_n_epochs=2, disc_batch_size=64, disc_updates=1)
TINY.update(bc_epochs=3, checkpoint_every=0, device="cpu")  # a BC warm start: the policy is not a coin flip


def _vector_run(tmp_path, env_id: str, demos) -> tuple:
    config = replace(preset(env_id), **TINY)
    trainer = GAIL(venv=demos.env_factory.make_vec(2, seed=0), demos=demos, config=config).learn(256)
    assert trainer.policy_obs_norm is not None  # the run scales the policy's observations
    export_policy(trainer, tmp_path)
    return trainer, tmp_path


@pytest.fixture(scope="module")
def pendulum_demos():
    env = "Pendulum-v1"
    return collect_demos(env, SCRIPTED_EXPERTS[env], 3, seed=0, metadata={"policy": "scripted"})


@pytest.mark.parametrize("env_id", ["CartPole-v1", "Pendulum-v1"])
def test_sb3_loader_and_genplay_act_the_same_on_raw_observations(env_id, tmp_path, cartpole_demos, pendulum_demos):
    demos = cartpole_demos if env_id == "CartPole-v1" else pendulum_demos
    trainer, run = _vector_run(tmp_path, env_id, demos)
    result = check_portable(run, n_obs=N_OBS, n_episodes=0)
    assert result["env"] == env_id and result["n_obs"] == N_OBS
    assert result["same_actions_fraction"] == 1.0
    model = sb3_load(run)
    assert isinstance(model.policy.features_extractor, ObsScalingExtractor)  # the scaling is in the network
    assert not (run / "policy.json").exists()
    # genplay's loader applies no second scaling: its actions are the trainer's own
    policy = load_policy(run, env_id=env_id)
    obs, _ = raw_observations(env_id, policy, 300, seed=3)
    np.testing.assert_array_equal(policy(obs), trainer.predict(obs)[0])
    assert load_policy_model(run)[1] is None


def test_dac_q_network_acts_the_same_under_dqn_load(tmp_path, cartpole_demos):
    from stable_baselines3 import DQN

    from genplay.gail.algos.config import GAILConfig
    from genplay.gail.algos.dac import DAC
    from genplay.gail.algos.dac_config import DACLearnerConfig

    dqn = DACLearnerConfig(
        buffer_size=2_000, learning_starts=100, net_arch=(32,), disc_every=100, target_update_interval=100
    )
    config = replace(GAILConfig(), disc_updates=1, disc_batch_size=32, device="cpu")
    dac = DAC(venv=cartpole_demos.env_factory.make_vec(2, seed=0), demos=cartpole_demos, config=config, dqn=dqn)
    export_policy(dac.learn(300), tmp_path)
    assert isinstance(sb3_load(tmp_path), DQN)
    assert check_portable(tmp_path, n_obs=N_OBS, n_episodes=0)["same_actions_fraction"] == 1.0


def test_masked_board_game_policy_acts_the_same_under_maskableppo_load(tmp_path):
    pytest.importorskip("pyspiel")
    from sb3_contrib import MaskablePPO

    from genplay.gail.suites.boardgames import collect_bot_demos

    demos = collect_bot_demos("tic_tac_toe", "random", 6, seed=0)
    venv = demos.env_factory.make_vec(2, seed=0)
    gen = MaskablePPO("MlpPolicy", venv, n_steps=64, batch_size=64, n_epochs=1, seed=0, device="cpu")
    config = replace(preset(demos.env_id), **TINY)
    trainer = GAIL(venv=venv, demos=demos, config=config, gen_algo=gen).learn(128)
    export_policy(trainer, tmp_path)
    model = sb3_load(tmp_path)
    assert isinstance(model, MaskablePPO)
    policy = load_policy(tmp_path, env_id=demos.env_id)
    obs, masks = raw_observations(demos.env_factory, policy, N_OBS, seed=0)
    assert masks is not None and not masks.all()  # moves were illegal at some positions
    assert same_actions(model, policy, obs, masks).all()
    actions = policy(obs, masks)
    assert masks[np.arange(len(obs)), actions].all()  # never an illegal move


def _short_pixel_demos(env_id: str, steps: int = 48) -> Demos:
    """One ``steps``-step stretch of random play as demos (whole Pong games take seconds to collect)."""
    factory = EnvFactory(env_id)
    env = factory.make()
    obs, _ = raw_observations(factory, random_policy(env.action_space, seed=0), steps + 1, seed=0)
    return Demos(
        obs=obs,
        acts=np.random.default_rng(0).integers(env.action_space.n, size=steps),
        rewards=np.zeros(steps, np.float32),
        episode_lengths=np.array([steps]),
        terminated=np.zeros(1, bool),
        env_id=env_id,
        observation_space=describe_space(env.observation_space),
        action_space=describe_space(env.action_space),
    )


@pytest.mark.slow  # Pong frames through a CNN one step at a time: 200 of them (1,000 took ~15 s)
def test_pixel_policy_acts_the_same_under_ppo_load(tmp_path):
    demos = _short_pixel_demos(PONG)
    config = replace(atari_preset(), **{**TINY, "ppo_n_steps": 32, "ppo_batch_size": 32, "disc_batch_size": 16})
    trainer = GAIL(venv=EnvFactory(PONG).make_vec(2, seed=0), demos=demos, config=config).learn(64)
    export_policy(trainer, tmp_path)
    model = sb3_load(tmp_path)
    centred = [m for m in model.policy.modules() if isinstance(m, CenteredNatureCNN)]
    assert centred and float(centred[0].frame_mean.abs().sum()) > 0  # frames centred inside the network
    assert load_policy_model(tmp_path)[2]["obs_scaling"] == "in_network"
    result = check_portable(tmp_path, n_obs=200, n_episodes=0)
    assert result == {**result, "env": PONG, "n_obs": 200, "same_actions_fraction": 1.0}


def test_zips_exported_before_the_scaling_moved_inside_still_load(tmp_path, cartpole_demos):
    """A zip whose genplay.json scales outside the network (older genplay) keeps working, and a zip
    claiming both scalings is refused rather than scaled twice."""
    trainer, run = _vector_run(tmp_path / "new", "CartPole-v1", cartpole_demos)
    norm = trainer.policy_obs_norm
    legacy = {"normalize_obs": True, "env": cartpole_demos.env_factory.to_dict()}
    legacy.update(mean=norm.obs_rms.mean.tolist(), var=norm.obs_rms.var.tolist(), clip=norm.clip_obs)
    old = tmp_path / "old"
    old.mkdir()
    save_sb3_zip(trainer.gen_algo, old / "policy.zip", extra=legacy)
    obs = cartpole_demos.transitions()["obs"][::7]
    np.testing.assert_array_equal(load_policy(old)(obs), trainer.predict(obs)[0])
    np.testing.assert_array_equal(load_policy(run)(obs), trainer.predict(obs)[0])

    bare = tmp_path / "bare.zip"  # genplay.json lost: the weights' scaling buffers rebuild the extractor
    with zipfile.ZipFile(run / "policy.zip") as src, zipfile.ZipFile(bare, "w") as dst:
        for item in src.infolist():
            if item.filename != "genplay.json":
                dst.writestr(item, src.read(item.filename))
    np.testing.assert_array_equal(load_policy(bare, env_id="CartPole-v1")(obs), trainer.predict(obs)[0])

    both = tmp_path / "both"
    both.mkdir()
    portable = sb3_load(run)
    save_sb3_zip(portable, both / "policy.zip", extra=legacy)
    with pytest.raises(CheckpointError, match="scales observations itself"):
        load_policy(both)


def test_scaling_extractor_matches_vecnormalize_and_checks_its_kwargs(cartpole_demos):
    trainer = GAIL(
        venv=cartpole_demos.env_factory.make_vec(2, seed=0),
        demos=cartpole_demos,
        config=replace(preset("CartPole-v1"), **TINY),
    )
    norm = trainer.policy_obs_norm
    std = np.sqrt(norm.obs_rms.var + norm.epsilon)
    space = trainer.gen_algo.observation_space
    ext = ObsScalingExtractor(space, mean=norm.obs_rms.mean.tolist(), std=std.tolist(), clip=norm.clip_obs)
    obs = np.concatenate([cartpole_demos.transitions()["obs"], 50 * np.ones((3, 4), np.float32)])
    np.testing.assert_array_equal(ext(torch.as_tensor(obs)).numpy(), norm.normalize_obs(obs))  # bit for bit
    kwargs = dict(mean=[0.0] * 4, std=[1.0] * 4)
    for bad in (dict(mean=[0.0] * 3), dict(std=[1.0, 0.0, 1.0, 1.0]), dict(clip=0.0), dict(inner="os.system")):
        with pytest.raises(Exception, match="ObsScalingExtractor"):
            ObsScalingExtractor(space, **{**kwargs, **bad})
    from genplay.gail.saving.sb3_zip import with_obs_scaling

    portable = with_obs_scaling(trainer.gen_algo, norm.obs_rms.mean, std, norm.clip_obs)
    np.testing.assert_array_equal(portable.predict(obs, deterministic=True)[0], trainer.predict(obs)[0])
    with pytest.raises(CheckpointError, match="twice"):
        with_obs_scaling(portable, norm.obs_rms.mean, std, norm.clip_obs)


def test_scaling_goes_in_front_of_any_storable_extractor(tmp_path):
    """A user's generator (A2C) over a BoardCNN on float planes: the exported copy on raw observations acts
    as the trained policy on scaled ones, and survives genplay's loader."""
    from gymnasium import spaces
    from stable_baselines3 import A2C

    from genplay.gail.rewards.features import BoardCNN
    from genplay.gail.saving.sb3_zip import load_sb3_zip, spaces_venv, with_obs_scaling

    space = spaces.Box(-5, 5, (2, 3, 3), np.float32)
    cnn = dict(features_extractor_class=BoardCNN, features_extractor_kwargs=dict(channels=8, layers=2))
    algo = A2C("MlpPolicy", spaces_venv(space, spaces.Discrete(9), 2), policy_kwargs=cnn, device="cpu", seed=0)
    rng = np.random.default_rng(0)
    mean, std = rng.normal(size=18), rng.uniform(0.1, 2.0, size=18)
    portable = with_obs_scaling(algo, mean, std, 10.0)
    assert isinstance(portable.policy.features_extractor.inner, BoardCNN)
    obs = (3 * rng.normal(size=(200, 2, 3, 3))).astype(np.float32)
    scaled = np.clip((obs - mean.reshape(2, 3, 3)) / std.reshape(2, 3, 3), -10, 10).astype(np.float32)
    expected = algo.predict(scaled, deterministic=True)[0]
    np.testing.assert_array_equal(portable.predict(obs, deterministic=True)[0], expected)
    save_sb3_zip(portable, tmp_path / "a2c.zip")
    np.testing.assert_array_equal(load_sb3_zip(tmp_path / "a2c.zip")[0].predict(obs, deterministic=True)[0], expected)
