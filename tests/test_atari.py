"""Atari: preprocessing, native vs fallback vector envs, frame demos, and a short pixel-GAIL run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from genplay.envs import EnvFactory
from genplay.envs.atari import AtariConfig, make_atari, make_atari_vec
from genplay.errors import DemoError, EnvError
from genplay.gail.algos.config import atari_preset, replace
from genplay.gail.algos.gail import GAIL
from genplay.gail.data.collect import collect_demos
from genplay.gail.data.demos import Demos, load_demos, save_demos
from genplay.gail.data.store import StackedFrames
from genplay.gail.rewards.features import CenteredNatureCNN
from genplay.gail.suites.atari import atari_factory, evaluation_factory

PONG = "genplay/Pong-v0"


def test_preprocessing_shapes_and_dtypes():
    env = make_atari("Pong", record_ram=True)
    obs, info = env.reset(seed=0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
    assert (obs[:3] == 0).all() and obs[3].any()  # zero padding at reset, as the native env pads
    assert info["ram"].dtype == np.uint8 and info["ram"].shape[1] == 128
    obs, reward, terminated, truncated, info = env.step(0)
    assert obs.shape == (4, 84, 84) and info["ram"].shape == (4, 128)  # one RAM row per emulator frame
    assert env.observation_space.shape == (4, 84, 84) and env.action_space.n == 6
    assert AtariConfig("pong").horizon == 27_000
    assert EnvFactory(PONG).max_episode_steps == 27_000


@pytest.mark.slow
def test_native_and_fallback_vector_envs_give_the_same_observations():
    config = AtariConfig("pong", sticky=False, noop_max=0)  # no randomness of either path's own
    native, fallback = make_atari_vec(config, 2, seed=3), make_atari_vec(config, 2, seed=3, native=False)
    a, b = native.reset(), fallback.reset()
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(0)
    for _ in range(150):
        actions = rng.integers(6, size=2)
        a, ra, da, _ = native.step(actions)
        b, rb, db, _ = fallback.step(actions)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ra, rb)
        np.testing.assert_array_equal(da, db)


def test_atari_options_are_validated_where_they_enter():
    with pytest.raises(EnvError, match="unknown Atari game 'pongg'; did you mean pong"):
        AtariConfig("pongg")
    with pytest.raises(EnvError, match="noop_max: expected an integer >= 0"):
        AtariConfig("pong", noop_max=-1)
    with pytest.raises(EnvError, match="unknown Atari option 'stiky'"):
        EnvFactory(PONG, {"stiky": True})
    training = atari_factory("pong", clip_reward=True, terminal_on_life_loss=True)
    assert training.kwargs == {"clip_reward": True, "terminal_on_life_loss": True}
    assert evaluation_factory(training).kwargs == {}


def test_stacked_frames_store_each_frame_once():
    env = make_atari("pong")
    episodes = []
    for seed in (0, 1):
        obs = [env.reset(seed=seed)[0]]
        obs += [env.step(a)[0] for a in np.random.default_rng(seed).integers(6, size=60)]
        episodes.append(np.stack(obs))
    stacks = np.concatenate(episodes)
    frames = StackedFrames.from_stacks(stacks, np.array([len(e) for e in episodes]))
    np.testing.assert_array_equal(frames[np.arange(len(stacks))], stacks)
    assert len(frames.frames) == sum(len(e) + 3 for e in episodes)  # one new frame a step, 4 at each start
    assert stacks.nbytes / frames.nbytes > 3.5


def short_pong_demos(n: int = 2, steps: int = 40) -> Demos:
    factory = EnvFactory(PONG)

    def policy(obs):
        return np.zeros(len(obs), dtype=np.int64)

    demos = collect_demos(factory, policy, n, seed=0)  # full games of a no-op player would be long:
    keep = np.minimum(demos.episode_lengths, steps)  # keep each game's first ``steps`` steps
    starts = np.concatenate([[0], np.cumsum(demos.episode_lengths)[:-1]])
    obs_starts = starts + np.arange(n)
    acts = np.concatenate([np.arange(s, s + k) for s, k in zip(starts, keep)])
    obs_rows = np.concatenate([np.arange(s, s + k + 1) for s, k in zip(obs_starts, keep)])
    return dataclasses.replace(
        demos,
        obs=demos.obs.subset(obs_rows),
        acts=demos.acts[acts],
        rewards=demos.rewards[acts],
        episode_lengths=keep,
        terminated=np.zeros(n, dtype=bool),
    )


@pytest.fixture(scope="module")
def pong_demos() -> Demos:
    return short_pong_demos()


def test_frame_demos_round_trip_and_are_validated(tmp_path, pong_demos):
    assert isinstance(pong_demos.obs, StackedFrames)
    path = tmp_path / "pong.npz"
    save_demos(path, pong_demos)
    loaded = load_demos(path, PONG)
    assert isinstance(loaded.obs, StackedFrames)
    every = np.arange(len(pong_demos.obs))
    np.testing.assert_array_equal(loaded.obs[every], pong_demos.obs[every])
    np.testing.assert_array_equal(loaded.acts, pong_demos.acts)

    arrays = dict(np.load(path))
    bad = dict(arrays, obs_frame_index=arrays["obs_frame_index"] + 10_000)
    np.savez(tmp_path / "bad_index.npz", **bad)
    with pytest.raises(DemoError, match="bad_index.npz: field 'obs_frame_index' points outside"):
        load_demos(tmp_path / "bad_index.npz")
    bad = dict(arrays, obs_frames=arrays["obs_frames"][:, :80])
    np.savez(tmp_path / "bad_frames.npz", **bad)
    with pytest.raises(DemoError, match="field 'obs_frames' must be uint8 of shape"):
        load_demos(tmp_path / "bad_frames.npz")
    np.savez(tmp_path / "both.npz", **arrays, obs=np.zeros(3, np.uint8))
    with pytest.raises(DemoError, match="both 'obs' and 'obs_frames'"):
        load_demos(tmp_path / "both.npz")
    del arrays["obs_frames"]
    np.savez(tmp_path / "half.npz", **arrays)
    with pytest.raises(DemoError, match="come together"):
        load_demos(tmp_path / "half.npz")


def tiny_pixel_config(**changes):
    base = dict(n_envs=2, ppo_n_steps=32, ppo_batch_size=32, ppo_n_epochs=1, disc_batch_size=16, device="cpu")
    return replace(atari_preset(), **{**base, "checkpoint_every": 0, **changes})


@pytest.mark.slow
def test_pixel_gail_runs_checkpoints_and_resumes(tmp_path, pong_demos):
    factory = EnvFactory(PONG)
    config = tiny_pixel_config()
    trainer = GAIL(venv=factory.make_vec(2, seed=0), demos=pong_demos, config=config)
    centred = [m for m in trainer.gen_algo.policy.modules() if isinstance(m, CenteredNatureCNN)]
    assert centred and float(centred[0].frame_mean.abs().sum()) > 0  # the policy sees demo-centred frames
    assert float(centred[0].frame_std) > 1.0
    path = str(tmp_path / "ckpt")
    trainer.learn(64, checkpoint_path=path)
    assert trainer.num_timesteps == 64 and len(trainer.history) == 1
    rollout_bytes = trainer.replay[-1][0].obs.nbytes
    assert trainer.replay[-1][0].obs.dtype == np.uint8 and rollout_bytes == 64 * 4 * 84 * 84  # uint8 until the batch

    resumed = GAIL.load(path, venv=factory.make_vec(2, seed=0), demos=pong_demos)
    assert resumed.num_timesteps == 64
    for a, b in zip(trainer.gen_algo.policy.state_dict().values(), resumed.gen_algo.policy.state_dict().values()):
        torch.testing.assert_close(a, b)
    resumed.learn(128)
    assert resumed.num_timesteps == 128
    actions, _ = resumed.predict(pong_demos.obs[np.arange(3)])
    assert actions.shape == (3,)


@pytest.mark.slow
def test_pixel_dac_runs_checkpoints_and_resumes(tmp_path, pong_demos):
    """The off-policy variant on frames: centred Q-network, uint8 replay, a checkpoint that resumes."""
    import dataclasses

    from genplay.gail.algos.dac import DAC
    from genplay.gail.algos.dac_config import dac_atari_preset

    config, dqn = dac_atari_preset()
    config = replace(config, disc_batch_size=16, disc_updates=1, device="cpu")
    small = dict(buffer_size=512, learning_starts=64, batch_size=8, expert_batch_size=8, disc_every=32)
    dqn = dataclasses.replace(dqn, **small)
    dac = DAC(venv=EnvFactory(PONG).make_vec(2, seed=0), demos=pong_demos, config=config, dqn=dqn)
    centred = [m for m in dac.algo.policy.modules() if isinstance(m, CenteredNatureCNN)]
    assert len(centred) == 2 and float(centred[0].frame_std) > 1.0  # Q-net and target see demo-centred frames
    assert dac.algo.replay_buffer.observations.dtype == np.uint8
    path = str(tmp_path / "dac")
    dac.learn(128, checkpoint_path=path)
    assert dac.history and dac.history[-1]["timesteps"] >= 64
    resumed = DAC.load(path, venv=EnvFactory(PONG).make_vec(2, seed=0), demos=pong_demos)
    assert resumed.num_timesteps == 128
    resumed.learn(160)
    assert resumed.num_timesteps == 160
    obs = pong_demos.obs[np.arange(0, 60, 20)]
    actions, _ = resumed.predict(obs)
    assert actions.shape == (3,)
    from genplay.gail.saving.run_files import export_policy, load_policy, load_policy_model

    (tmp_path / "run").mkdir()
    export_policy(resumed, tmp_path / "run")  # the Q-network with its frame centring, for `evaluate` and the suite
    np.testing.assert_array_equal(load_policy(tmp_path / "run", env_id=PONG)(obs), actions)
    model = load_policy_model(tmp_path / "run")[0]
    with torch.no_grad():
        frames = torch.as_tensor(obs)
        torch.testing.assert_close(model.q_net(frames), resumed.algo.q_net(frames))


def test_discriminator_can_hide_the_score_display(pong_demos):
    """Hidden rows read as the mean demo frame whatever the pixels; the rest is untouched."""
    from genplay.envs.atari import score_rows
    from genplay.gail.data.store import TransitionStore
    from genplay.gail.rewards.discriminator import TransitionDiscriminator

    assert score_rows("Pong") == 9 and score_rows("skiing") == 10 and score_rows("space_invaders") == 0
    store = TransitionStore.from_episodes(pong_demos.obs, pong_demos.acts, pong_demos.episode_lengths, with_next=False)
    space, actions = EnvFactory(PONG).make().observation_space, EnvFactory(PONG).make().action_space
    rows = np.arange(8)
    seen = TransitionDiscriminator(space, actions, hide_top_rows=0)
    hidden = TransitionDiscriminator(space, actions, hide_top_rows=9)
    for disc in (seen, hidden):
        disc.fit_scaling(store)
    full, masked = (d.features(store, rows)[:, : d.obs_dim].reshape(8, 4, 84, 84) for d in (seen, hidden))
    assert float(full[:, :, :9].abs().sum()) > 0 and float(masked[:, :, :9].abs().sum()) == 0.0
    torch.testing.assert_close(full[:, :, 9:], masked[:, :, 9:])
    assert replace(atari_preset("pong"), n_envs=2).reward.disc_hide_top_rows == 9
    with pytest.raises(EnvError, match="some must stay"):
        TransitionDiscriminator(space, actions, hide_top_rows=84)
    with pytest.raises(EnvError, match="disc_hide_top_rows needs"):
        TransitionDiscriminator(EnvFactory("CartPole-v1").make().observation_space, actions, hide_top_rows=2)


def test_state_only_discriminator_ignores_actions(pong_demos):
    config = tiny_pixel_config(disc_use_action=False, use_next_obs=True)
    trainer = GAIL(venv=EnvFactory(PONG).make_vec(2, seed=0), demos=pong_demos, config=config)
    rows = trainer.disc.features(trainer.expert, np.arange(4))
    assert rows.shape[1] == 2 * 4 * 84 * 84 + 1  # obs, next obs, absorbing flag: no action columns


@pytest.mark.slow
def test_any_sb3_atari_model_is_an_expert_loaded_without_unpickling(cnn_zip, monkeypatch):
    import pickle

    from genplay.gail.saving.run_files import load_policy

    def refuse(*args, **kwargs):
        raise AssertionError("unpickling attempted")

    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(pickle, "load", refuse)
    policy = load_policy(str(cnn_zip), env_id=PONG)
    demos = collect_demos(EnvFactory(PONG), policy, 1, seed=0)
    assert isinstance(demos.obs, StackedFrames) and demos.n_episodes == 1 and demos.terminated.all()


def test_scripted_expert_demos_keep_only_frames_and_cut_games_are_truncated(tmp_path, monkeypatch):
    from genplay.cli import main
    from genplay.gail.suites.atari import scripted_expert_demos

    demos = scripted_expert_demos(atari_factory("pong"), 1, seed=0, max_steps=40)
    assert isinstance(demos.obs, StackedFrames) and demos.obs.shape == (41, 4, 84, 84)
    assert demos.n_transitions == 40 and not demos.terminated.any()  # cut short: nobody lost it
    assert demos.metadata["policy"] == "scripted:pong"
    with pytest.raises(EnvError, match="no scripted expert for genplay/Alien-v0"):
        scripted_expert_demos(atari_factory("alien"), 1)
    out = tmp_path / "d.npz"  # the CLI's expert on an Atari id is this collector
    import genplay.gail.suites.atari as atari_module

    calls = []
    original = atari_module.scripted_expert_demos
    monkeypatch.setattr(
        atari_module, "scripted_expert_demos", lambda f, n, **kw: calls.append(n) or original(f, n, max_steps=20)
    )
    argv = ["demos", "collect", "--env", PONG, "--policy", "expert", "--n-episodes", "1", "--out", str(out)]
    assert main(argv) == 0
    assert calls == [1] and load_demos(out, PONG).n_transitions == 20
