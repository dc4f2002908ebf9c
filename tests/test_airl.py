"""AIRL: the shaped reward and its logit on hand-made rows, the trainer's log-probabilities, the run
contract, the exported reward (round trip, damaged files refused) and a learning test."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from gymnasium import spaces

from genplay.envs import EnvFactory
from genplay.errors import CheckpointError
from genplay.gail.algos.airl import AIRL, AIRLConfig, airl_config, airl_preset, train_airl
from genplay.gail.algos.config import replace
from genplay.gail.algos.registry import algorithm
from genplay.gail.evaluation.evaluate import episode_returns
from genplay.gail.learners.reward_env import LearnedRewardVecEnv, RewardRLConfig, train_on_reward
from genplay.gail.rewards.airl import AIRLRewardNet, AIRLStore
from genplay.gail.rewards.export import export_reward, load_reward

OBS = spaces.Box(-5.0, 5.0, shape=(3,), dtype=np.float32)
ACT = spaces.Discrete(2)
GAMMA = 0.9


def net(state_only: bool = False) -> AIRLRewardNet:
    torch.manual_seed(0)
    model = AIRLRewardNet(OBS, ACT, gamma=GAMMA, hidden=(8,), h_hidden=(8,), state_only=state_only)
    with torch.no_grad():  # a non-trivial absorbing logit and scaling, so they cannot pass by accident
        model.absorbing_logit.fill_(0.7)
        model.scaling.mean.copy_(torch.tensor([0.1, -0.2, 0.3]))
        model.scaling.std.copy_(torch.tensor([1.0, 2.0, 0.5]))
    return model


def hand_rows(model: AIRLRewardNet, dones=(0.0, 1.0, 0.0), log_pi=(-0.5, -1.5, -0.1)):
    obs = np.array([[0.1, 0.2, 0.3], [1.0, -1.0, 0.5], [-0.4, 0.0, 2.0]], np.float32)
    next_obs = obs[::-1].copy()
    acts = np.array([0, 1, 1])
    return obs, acts, next_obs, model.rows(obs, acts, next_obs, np.array(dones), np.array(log_pi))


def by_hand(model: AIRLRewardNet, obs, acts, next_obs, dones) -> dict[str, torch.Tensor]:
    """g, h(s), h(s') computed from the sub-networks directly (not through ``terms``)."""
    scale = lambda x: (torch.as_tensor(x) - model.scaling.mean) / model.scaling.std  # noqa: E731
    s, s2 = scale(obs), scale(next_obs)
    g_in = s if model.state_only else torch.cat([s, torch.nn.functional.one_hot(torch.as_tensor(acts), 2).float()], 1)
    g = model.net(g_in).squeeze(-1)
    h, h2 = model.h(s).squeeze(-1), model.h(s2).squeeze(-1)
    f = g + GAMMA * (1 - torch.as_tensor(dones, dtype=torch.float32)) * h2 - h
    return {"g": g, "h": h, "h_next": h2, "f": f}


@torch.no_grad()
@pytest.mark.parametrize("state_only", [False, True])
def test_shaped_reward_is_g_plus_discounted_potential_difference(state_only):
    model = net(state_only)
    obs, acts, next_obs, x = hand_rows(model)
    want = by_hand(model, obs, acts, next_obs, [0.0, 1.0, 0.0])
    got = model.terms(x)
    for key in ("g", "h", "h_next"):
        torch.testing.assert_close(got[key], want[key])
    torch.testing.assert_close(model.shaped(x), want["f"])
    # at the terminating row h(s') is 0: f = g - h(s) exactly
    torch.testing.assert_close(model.shaped(x)[1], want["g"][1] - want["h"][1])
    torch.testing.assert_close(model.part(x, "g"), want["g"])


@torch.no_grad()
def test_logit_is_f_minus_log_pi_so_d_is_exp_f_over_exp_f_plus_pi():
    model = net()
    log_pi = np.array([-0.5, -1.5, -0.1])
    *_, x = hand_rows(model, log_pi=tuple(log_pi))
    f, logit = model.shaped(x), model(x)
    torch.testing.assert_close(logit, f - torch.as_tensor(log_pi, dtype=torch.float32))
    d = torch.sigmoid(logit)
    torch.testing.assert_close(d, torch.exp(f) / (torch.exp(f) + torch.exp(torch.as_tensor(log_pi).float())))
    absorbing = model.absorbing_features(2)
    torch.testing.assert_close(model(absorbing), torch.full((2,), 0.7))
    torch.testing.assert_close(model.shaped(absorbing), torch.full((2,), 0.7))


def test_state_only_g_ignores_the_action_and_the_penalty_sees_no_log_pi():
    model = net(state_only=True)
    obs, _, next_obs, _ = hand_rows(model)
    a = model.rows(obs, np.array([0, 0, 0]), next_obs, np.zeros(3), np.zeros(3))
    b = model.rows(obs, np.array([1, 1, 1]), next_obs, np.zeros(3), np.zeros(3))
    assert model.act_dim == 0 and torch.equal(a, b)
    x = hand_rows(net())[-1].requires_grad_(True)
    (grad,) = torch.autograd.grad(net()(x).sum(), x)
    o, k = 3, 2
    assert torch.all(grad[:, 2 * o + k :] == 0)  # done, log pi, flag: R1 regularises f in (s, a, s') only
    assert grad[:, : 2 * o + k].abs().sum() > 0


def test_config_refuses_what_airl_cannot_do():
    with pytest.raises(ValueError, match="use_next_obs"):
        replace(AIRLConfig(), use_next_obs=False)
    with pytest.raises(ValueError, match="airl_reward"):
        replace(AIRLConfig(), airl_reward="g")
    with pytest.raises(ValueError, match="reward_form"):
        replace(AIRLConfig(), airl_reward="f", reward_form="positive")
    with pytest.raises(ValueError, match="airl_h_hidden"):
        replace(AIRLConfig(), airl_h_hidden=(0,))
    assert airl_preset("Pendulum-v1").ppo.gamma == 0.9 and isinstance(airl_preset("CartPole-v1"), AIRLConfig)
    assert airl_preset("MountainCar-v0").reward.airl_reward == "f"
    assert airl_preset("Acrobot-v1").reward.airl_reward == "logit"
    assert algorithm("airl").load()[1] is AIRLConfig


def test_registry_gives_airl_the_env_preset():
    """`genplay train --algo airl` and bench_family start from airl_preset (Pendulum: gSDE PPO), not bare defaults."""
    pendulum = algorithm("airl").default_config("Pendulum-v1")
    assert isinstance(pendulum, AIRLConfig) and pendulum.ppo.use_sde and pendulum.run.n_envs == 4
    assert algorithm("airl").default_config("CartPole-v1") == airl_preset("CartPole-v1")


def tiny(**changes) -> AIRLConfig:
    base = dict(n_envs=2, disc_batch_size=64, disc_updates=2, checkpoint_every=0, bc_epochs=0, device="cpu")
    cfg = airl_config(airl_preset("CartPole-v1"), **{**base, **changes})
    from genplay.gail.algos.config import replace

    return replace(cfg, ppo_n_steps=64, ppo_batch_size=64, ppo_n_epochs=2)


def test_rows_carry_collection_time_log_pi_and_demo_terminations(cartpole_random_demos):
    demos = cartpole_random_demos
    trainer = AIRL(venv=demos.env_factory.make_vec(2, seed=0), demos=demos, config=tiny())
    ends = np.cumsum(demos.episode_lengths) - 1
    assert trainer.expert.dones.sum() == demos.terminated.sum() and trainer.expert.dones[ends].all()
    seen = []
    original = trainer._rollout_store

    def spy(rollout):
        store = original(rollout)
        buf = trainer.gen_algo.rollout_buffer
        seen.append((store, buf.log_probs.copy(), rollout["terminated"].copy()))
        return store

    trainer._rollout_store = spy
    trainer.learn(128)
    store, log_probs, terminated = seen[0]
    assert np.allclose(store.log_pi, log_probs.reshape(-1)) and np.array_equal(store.dones, terminated.reshape(-1))
    # expert rows: the current policy's log-probability, evaluated when a batch is drawn
    idx = np.arange(5)
    obs = trainer.policy_obs_norm.normalize_obs(demos.obs[trainer.expert.obs_idx[idx]])
    obs_t, _ = trainer.gen_algo.policy.obs_to_tensor(obs)
    with torch.no_grad():
        _, want, _ = trainer.gen_algo.policy.evaluate_actions(obs_t, torch.as_tensor(demos.acts[idx]))
    np.testing.assert_allclose(trainer.policy_log_prob(trainer.expert, idx), want.numpy(), rtol=1e-5)
    rows = trainer._features(trainer.expert, idx)
    np.testing.assert_allclose(rows[:, -2].numpy(), want.numpy(), rtol=1e-5)
    assert trainer.history and math.isfinite(trainer.history[-1]["loss"])


def test_generator_reward_forms(cartpole_random_demos):
    demos = cartpole_random_demos
    for form in ("logit", "f"):
        trainer = AIRL(venv=demos.env_factory.make_vec(2, seed=0), demos=demos, config=tiny(airl_reward=form))
        trainer.learn(128)
        store = trainer.replay[-1][0]
        with torch.no_grad():
            x = trainer.disc.features(store, np.arange(len(store)))
            want = (trainer.disc(x) if form == "logit" else trainer.disc.shaped(x)).clamp(-10, 10)
        np.testing.assert_allclose(trainer.reward(store), want.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_run_directory_resume_and_exported_reward(cartpole_random_demos, tmp_path):
    demos, out = cartpole_random_demos, tmp_path / "run"
    train_airl("CartPole-v1", demos, 128, config=tiny(), out_dir=out)
    for name in ("checkpoint.pt", "config.json", "policy.zip", "history.json", "learning_curve.png"):
        assert (out / name).is_file(), name
    resumed = train_airl("CartPole-v1", demos, 256, out_dir=out, resume=True)
    assert isinstance(resumed, AIRL) and isinstance(resumed.config, AIRLConfig) and resumed.num_timesteps == 256
    assert isinstance(resumed.replay[0][0], AIRLStore) and resumed.replay[0][0].log_pi is not None

    for part in ("g", "f"):
        reward = load_reward(export_reward(out, tmp_path / f"reward_{part}", part=part))
        assert (reward.algo, reward.form, reward.gamma) == ("airl", part, resumed.gamma)
        store = resumed.replay[-1][0]
        idx = np.arange(len(store))
        obs, nxt = store.take_obs(store.obs_idx), store.take_obs(store.next_idx)
        got = reward(obs, store.acts, nxt, store.dones)
        with torch.no_grad():
            want = resumed.disc.part(resumed.disc.features(store, idx, log_pi=np.zeros(len(idx))), part)
            tail = resumed.absorbing_reward() * GAMMA_TAIL(resumed.gamma)
        np.testing.assert_allclose(got, want.clamp(-10, 10).numpy() + np.where(store.dones, tail, 0), rtol=1e-5)


def GAMMA_TAIL(gamma: float) -> float:  # noqa: N802
    return gamma / (1 - gamma)


def test_gail_reward_export_and_damaged_files_refused(cartpole_random_demos, tmp_path):
    from genplay.gail.algos.config import replace
    from genplay.gail.algos.presets import preset
    from genplay.gail.runs.pipeline import train_gail

    demos = cartpole_random_demos
    cfg = replace(preset("CartPole-v1"), n_envs=2, ppo_n_steps=64, ppo_batch_size=64, bc_epochs=0, device="cpu")
    trainer = train_gail("CartPole-v1", demos, 128, config=cfg, out_dir=tmp_path / "gail")
    out = export_reward(tmp_path / "gail", tmp_path / "reward")
    reward = load_reward(out)
    store = trainer.replay[-1][0]
    obs = store.take_obs(store.obs_idx)
    nxt = np.concatenate([obs[2:], obs[:2]])  # next obs unused by this discriminator
    np.testing.assert_allclose(reward(obs, store.acts, nxt, np.zeros(len(obs), bool)), trainer.reward(store), rtol=1e-5)
    assert reward.algo == "gail" and reward.form == "logit"

    for name in ("reward.safetensors", "reward.json"):
        path = out / name
        good = path.read_bytes()
        data = bytearray(good)
        data[len(data) // 2] ^= 0x01
        path.write_bytes(bytes(data))
        with pytest.raises(CheckpointError, match="checksum|not readable JSON|malformed"):
            load_reward(out)
        path.write_bytes(good)
    model = json.loads((out / "reward.json").read_text())
    model["form"] = "positive"  # a well-formed edit is refused too: the checksum covers the description
    (out / "reward.json").write_text(json.dumps(model))
    with pytest.raises(CheckpointError, match="checksum"):
        load_reward(out)
    with pytest.raises(CheckpointError, match="no such file"):
        load_reward(tmp_path / "nowhere")

    # the command line: `genplay reward export RUN --out DIR` (refuses to overwrite without --force)
    import argparse

    from genplay.cli_reward import add_reward_parser, env_from_flags
    from genplay.errors import GenplayError

    parser = argparse.ArgumentParser()
    add_reward_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["reward", "export", str(tmp_path / "gail"), "--out", str(tmp_path / "cli")])
    args.func(args)
    assert load_reward(tmp_path / "cli").form == "logit"
    with pytest.raises(GenplayError, match="--out: .* already holds a reward"):
        args.func(args)
    with pytest.raises(GenplayError, match="--env-kwargs: expected a JSON object"):
        env_from_flags(reward.model["env"], None, "[1]")
    assert env_from_flags(reward.model["env"], "Pendulum-v1", '{"g": 12.0}').kwargs == {"g": 12.0}


@pytest.mark.slow
def test_reward_wrapper_replaces_the_env_reward(cartpole_random_demos, tmp_path):
    demos = cartpole_random_demos
    train_airl("CartPole-v1", demos, 128, config=tiny(), out_dir=tmp_path / "run")
    reward = load_reward(export_reward(tmp_path / "run", tmp_path / "reward", part="f"))
    venv = LearnedRewardVecEnv(demos.env_factory.make_vec(2, seed=0), reward)
    obs = venv.reset()
    for _ in range(40):
        acts = np.array([0, 1])
        nxt, r, dones, infos = venv.step(acts)
        after = np.stack([infos[i]["terminal_observation"] if d else nxt[i] for i, d in enumerate(dones)])
        term = np.array([d and not infos[i].get("TimeLimit.truncated", False) for i, d in enumerate(dones)])
        np.testing.assert_allclose(r, reward(obs, acts, after, term), rtol=1e-6)
        assert all(info["env_reward"] == 1.0 for info in infos)
        obs = nxt
    learner = train_on_reward(
        "CartPole-v1", tmp_path / "reward", 128, config=RewardRLConfig(n_envs=2, device="cpu"), out_dir=tmp_path / "a"
    )
    assert (tmp_path / "a" / "policy.zip").is_file() and learner.num_timesteps >= 128
    with pytest.raises(CheckpointError, match="observation_space"):
        LearnedRewardVecEnv(EnvFactory("Pendulum-v1").make_vec(1), reward)


@pytest.mark.slow
def test_airl_learns_cartpole_from_scratch(cartpole_demos):
    """No BC warm start: the policy reaches the expert only through the discriminator's reward."""
    cfg = airl_config(airl_preset("CartPole-v1"), bc_epochs=0, device="cpu", checkpoint_every=0)
    trainer = train_airl("CartPole-v1", cartpole_demos, 40_000, config=cfg)
    returns = episode_returns("CartPole-v1", trainer, 10, seed=123)
    assert returns.mean() >= 400, returns
