"""The GAIL trainer: tiny runs, reward relabelling, checkpoints, determinism, BC, resume."""

from __future__ import annotations

import dataclasses
import json
import math
import os

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

from genplay.errors import CheckpointError, GenplayError
from genplay.gail.algos.config import GAILConfig, replace
from genplay.gail.algos.gail import GAIL
from genplay.gail.algos.presets import preset
from genplay.gail.data.store import TransitionStore
from genplay.gail.evaluation.evaluate import compare, episode_returns, normalized_return, render_table
from genplay.gail.runs.pipeline import train_gail
from genplay.gail.saving.checkpoint import read_checkpoint
from genplay.gail.saving.run_files import load_policy, load_policy_model
from genplay.generative.core.state_io import load_state, save_state

ENV = "CartPole-v1"
ROLLOUT = 128  # n_envs * ppo_n_steps of the tiny config


def tiny_config(**changes) -> GAILConfig:
    base = dict(
        n_envs=2,
        ppo_n_steps=64,
        ppo_batch_size=64,
        ppo_n_epochs=4,
        disc_batch_size=64,
        disc_updates=2,
        checkpoint_every=0,
        bc_epochs=0,
        device="cpu",
    )
    return replace(preset(ENV), **{**base, **changes})


def make_trainer(demos, config: GAILConfig | None = None, seed: int | None = None) -> GAIL:
    config = config or tiny_config()
    if seed is not None:
        config = replace(config, seed=seed)
    venv = make_vec_env(ENV, n_envs=config.run.n_envs, seed=config.run.seed)
    return GAIL(venv=venv, demos=demos, config=config)


def params(module: torch.nn.Module) -> torch.Tensor:
    return torch.nn.utils.parameters_to_vector(module.parameters()).detach().clone()


class _RolloutSnapshot(BaseCallback):
    """Copies the rollout buffer after GAIL's relabelling (it runs after GAIL's own callback)."""

    def __init__(self) -> None:
        super().__init__()
        self.snaps: list[dict] = []

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        algo, buf = self.model, self.model.rollout_buffer
        with torch.no_grad():
            last_values = algo.policy.predict_values(algo.policy.obs_to_tensor(algo._last_obs)[0]).numpy().ravel()
        self.snaps.append(
            {
                "rewards": buf.rewards.copy(),
                "values": buf.values.copy(),
                "advantages": buf.advantages.copy(),
                "returns": buf.returns.copy(),
                "episode_starts": buf.episode_starts.copy(),
                "last_values": last_values,
                "dones": np.asarray(algo._last_episode_starts, dtype=np.float32).copy(),
                "gamma": buf.gamma,
                "gae_lambda": buf.gae_lambda,
            }
        )


def learn_with_spies(trainer: GAIL, total: int) -> tuple[list[dict], list[dict]]:
    """``trainer.learn(total)``, keeping a copy of every recorded rollout and of the relabelled buffer."""
    rollouts: list[dict] = []
    collect = trainer.recorder.collect

    def spy():
        out = collect()
        rollouts.append({k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in out.items()})
        return out

    trainer.recorder.collect = spy
    snapshot = _RolloutSnapshot()
    trainer.learn(total, callback=snapshot)
    return rollouts, snapshot.snaps


@pytest.fixture(scope="module")
def trained(cartpole_demos):
    """A tiny 2048-step run, with the recorded rollouts and buffer snapshots kept for inspection."""
    torch.set_num_threads(1)
    trainer = make_trainer(cartpole_demos)
    rollouts, snaps = learn_with_spies(trainer, 2048)
    return trainer, rollouts, snaps


def expected_rewards(trainer: GAIL, rollout: dict) -> np.ndarray:
    """Independently of gail/rewards/reward.py: clip(logit) of each step, plus on terminating steps the
    absorbing self-loop's discounted tail, summed term by term (logit form, unscaled)."""
    n_steps, n_envs = rollout["terminated"].shape
    obs = rollout["obs"].reshape(n_steps * n_envs, -1)
    store = TransitionStore(obs, np.arange(len(obs)), rollout["acts"].reshape(-1))
    with torch.no_grad():
        logits = trainer.disc(trainer.disc.features(store, np.arange(len(obs)))).numpy()
        r_abs = float(trainer.disc.absorbing_logit.clamp(-10, 10))
    g = trainer.gamma
    tail = sum(r_abs * g**k for k in range(1, 5000))
    return np.clip(logits, -10, 10).reshape(n_steps, n_envs) + np.where(rollout["terminated"], tail, 0.0)


# ---------------------------------------------------------------------------- a tiny run


@pytest.mark.slow
def test_tiny_run_fills_history_with_finite_stats(trained):
    trainer, rollouts, _ = trained
    assert trainer.num_timesteps == 2048
    assert trainer.n_rollouts == len(trainer.history) == len(rollouts) == 2048 // ROLLOUT
    assert [h["timesteps"] for h in trainer.history] == list(range(ROLLOUT, 2049, ROLLOUT))
    expected = {
        "timesteps", "loss", "penalty", "accuracy_expert", "accuracy_generator", "absorbing_logit",
        "reward_mean", "reward_std", "true_return",
    }  # fmt: skip
    for h in trainer.history:
        assert set(h) == expected or set(h) == expected - {"true_return"}  # until an episode has ended
        assert all(math.isfinite(v) for v in h.values()), h
        assert 0.0 <= h["accuracy_expert"] <= 1.0 and 0.0 <= h["accuracy_generator"] <= 1.0
        assert h.get("true_return", 8) >= 8  # the shortest possible CartPole episode
        assert (
            abs(h["reward_mean"]) <= trainer.config.reward.reward_clip * 100
        )  # clipped rewards plus the absorbing tail
    # the discriminator learned something: expert rows score higher than generator rows
    assert float(trainer.disc.logits(trainer.expert).mean()) > float(trainer.disc.logits(trainer.replay[-1][0]).mean())


@pytest.mark.parametrize("scale_rewards", [True, False])
def test_rollout_buffer_rewards_are_the_discriminator_rewards(cartpole_demos, scale_rewards):
    # long per-env rollouts of a young policy: every env ends some episodes by termination in each rollout
    config = tiny_config(ppo_n_steps=256, ppo_batch_size=128, scale_rewards=scale_rewards)
    trainer = make_trainer(cartpole_demos, config)
    rollouts, snaps = learn_with_spies(trainer, 1024)
    assert len(rollouts) == len(snaps) == 2
    last, snap = rollouts[-1], snaps[-1]  # the discriminator and the scaler are unchanged since this rollout
    assert last["terminated"].shape == (256, 2)
    assert not (snap["rewards"] == 0).all()
    assert last["terminated"].any()  # CartPole terminations happened in this rollout
    assert last["terminated"].sum() == last["dones"].sum()  # and no time-limit bootstrap terms
    expected = expected_rewards(trainer, last)
    if scale_rewards:
        scale = np.sqrt(trainer.return_scaler.rms.var + 1e-8)
        assert scale != pytest.approx(1.0)
    else:
        assert trainer.return_scaler is None
        scale = 1.0
    np.testing.assert_allclose(snap["rewards"] * scale, expected, rtol=1e-4, atol=1e-4)
    assert trainer.absorbing_reward() != 0.0  # the absorbing tail is part of the terminating rewards


def test_advantages_are_recomputed_from_the_relabelled_rewards(trained):
    _, _, snaps = trained
    for snap in snaps[-3:]:
        r, v, starts = snap["rewards"], snap["values"], snap["episode_starts"]
        g, lam = snap["gamma"], snap["gae_lambda"]
        adv = np.zeros_like(r)
        last = np.zeros(r.shape[1])
        for t in reversed(range(len(r))):
            if t == len(r) - 1:
                non_terminal, next_v = 1.0 - snap["dones"], snap["last_values"]
            else:
                non_terminal, next_v = 1.0 - starts[t + 1], v[t + 1]
            last = r[t] + g * next_v * non_terminal - v[t] + g * lam * non_terminal * last
            adv[t] = last
        np.testing.assert_allclose(snap["advantages"], adv, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(snap["returns"], adv + v, rtol=1e-4, atol=1e-4)


def test_learn_to_a_total_already_reached_does_nothing(trained, tmp_path):
    trainer, _, _ = trained
    before = params(trainer.gen_algo.policy)
    trainer.learn(1024, checkpoint_path=str(tmp_path / "c.pt"))
    assert trainer.num_timesteps == 2048 and len(trainer.history) == 16
    assert torch.equal(before, params(trainer.gen_algo.policy))


def test_expert_absorbing_mass_is_the_tail_weight_per_termination(cartpole_random_demos, cartpole_demos):
    demos = cartpole_random_demos
    assert demos.terminated.all()  # every random episode terminated
    trainer = make_trainer(demos)
    assert len(trainer.expert) == demos.n_transitions  # the expert rows are the live transitions only
    np.testing.assert_array_equal(trainer.expert.take_obs(trainer.expert.obs_idx), demos.transitions()["obs"])
    g, prior = trainer.gamma, trainer.config.reward.absorbing_prior
    tail = sum(g**k for k in range(1, 5000))  # discounted count of absorbing steps after a termination
    assert trainer.expert_absorbing == pytest.approx((5 + prior) * tail)
    mixed = dataclasses.replace(demos, terminated=np.array([True, False, True, False, True]))
    assert make_trainer(mixed).expert_absorbing == pytest.approx((3 + prior) * tail)
    # time-limit truncations: only the prior
    assert make_trainer(cartpole_demos).expert_absorbing == pytest.approx(prior * tail)
    assert make_trainer(demos, tiny_config(absorbing=False)).expert_absorbing == 0.0


def test_weighted_batch_gives_the_absorbing_row_its_share(cartpole_demos):
    trainer = make_trainer(cartpole_demos)
    disc, live = trainer.disc, trainer.expert
    n_live, n = len(live), 64
    all_features = disc.features(live, np.arange(n_live))
    for mass in (500.0, 7.0, 20_000.0):
        features, weights = trainer._weighted_batch([live], mass, n)
        share = mass / (mass + n_live)
        assert features.shape == (n + 1, all_features.shape[1]) and weights.shape == (n + 1,)
        assert float(weights.sum()) == pytest.approx(1.0, rel=1e-6)
        assert float(weights[-1]) == pytest.approx(share, rel=1e-6)
        torch.testing.assert_close(weights[:-1], torch.full((n,), (1.0 - share) / n))  # live rows: equal weights
        torch.testing.assert_close(features[-1:], disc.absorbing_features())
        assert (features[:-1, -1] == 0).all()
        assert (features[:-1, None, :] == all_features[None]).all(-1).any(-1).all()  # live rows are the side's rows
    features, weights = trainer._weighted_batch([live], 0.0, n)
    assert features.shape == (n, all_features.shape[1]) and (features[:, -1] == 0).all()
    torch.testing.assert_close(weights, torch.full((n,), 1.0 / n))


def test_weighted_batch_draws_live_rows_uniformly_across_stores(cartpole_demos):
    trainer = make_trainer(cartpole_demos)
    e = trainer.expert
    parts = [TransitionStore(e.obs, e.obs_idx[:1], e.acts[:1]), TransitionStore(e.obs, e.obs_idx[1:4], e.acts[1:4])]
    rows = trainer.disc.features(e, np.arange(4))
    features, _ = trainer._weighted_batch(parts, 4.0, 20_000)
    match = (features[:-1, None, :] == rows[None]).all(-1)
    assert (match.sum(-1) == 1).all()
    freq = np.bincount(match.float().argmax(-1).numpy(), minlength=4) / 20_000
    np.testing.assert_allclose(freq, [0.25] * 4, atol=0.015)


def test_gail_refuses_demos_of_another_env(cartpole_demos):
    with pytest.raises(GenplayError, match="observation_space"):
        GAIL(venv=make_vec_env("Acrobot-v1", n_envs=2), demos=cartpole_demos, config=tiny_config())


# ---------------------------------------------------------------------------- checkpoints


def test_save_load_restores_everything_and_learning_continues(cartpole_demos, tmp_path):
    a = make_trainer(cartpole_demos)
    a.learn(640)
    path = tmp_path / "ckpt" / "checkpoint.pt"
    a.save(str(path))
    assert os.listdir(path.parent) == ["checkpoint.pt"]  # atomic: no temp file left behind
    b = GAIL.load(str(path), venv=make_vec_env(ENV, n_envs=2, seed=99), demos=cartpole_demos)
    assert b.num_timesteps == 640 and b.n_rollouts == a.n_rollouts == 5
    assert b.history == a.history and b.config == a.config
    assert torch.equal(params(a.gen_algo.policy), params(b.gen_algo.policy))
    for k, v in a.disc.state_dict().items():
        assert torch.equal(v, b.disc.state_dict()[k]), k
    assert len(b.replay) == len(a.replay) == a.config.reward.disc_replay_rollouts
    for (rows_a, k_a), (rows_b, k_b) in zip(a.replay, b.replay):
        np.testing.assert_array_equal(rows_a.obs, rows_b.obs)
        np.testing.assert_array_equal(rows_a.acts, rows_b.acts)
        assert isinstance(k_b, int) and k_b == k_a
    assert any(k > 0 for _, k in a.replay)  # a young CartPole policy terminates episodes
    assert b.expert_absorbing == a.expert_absorbing
    assert b.rng.bit_generator.state == a.rng.bit_generator.state
    opt_a, opt_b = a.disc_opt.state_dict()["state"], b.disc_opt.state_dict()["state"]
    assert opt_a.keys() == opt_b.keys() and all(torch.equal(opt_a[k]["exp_avg"], opt_b[k]["exp_avg"]) for k in opt_a)
    b.learn(1280)
    assert b.num_timesteps == 1280
    assert len(b.history) == 10 and b.history[:5] == a.history
    steps = [h["timesteps"] for h in b.history]
    assert steps == sorted(steps) and len(set(steps)) == 10
    assert not torch.equal(params(a.gen_algo.policy), params(b.gen_algo.policy))


def test_periodic_checkpoints_are_atomic(cartpole_demos, tmp_path):
    trainer = make_trainer(cartpole_demos, tiny_config(checkpoint_every=ROLLOUT))
    saves = []
    save = trainer.save_checkpoint

    def counting_save(path):
        saves.append(trainer.num_timesteps)
        save(path)

    trainer.save_checkpoint = counting_save
    ckpt = tmp_path / "checkpoint.pt"
    trainer.learn(768, checkpoint_path=str(ckpt))
    # every rollout once its PPO update is done (when the next one starts), and at the end
    assert saves == [128, 256, 384, 512, 640, 768]
    assert os.listdir(tmp_path) == ["checkpoint.pt"]
    state = read_checkpoint(ckpt)
    assert len(state["history"]) == 6 and state["n_rollouts"] == 6


@pytest.mark.parametrize(
    "kind", ["missing", "truncated", "garbage", "empty", "old-torch-save", "wrong-version", "flipped-bytes"]
)
def test_corrupt_checkpoint_raises_checkpoint_error(cartpole_demos, tmp_path, kind):
    path = tmp_path / "checkpoint.pt"
    if kind != "missing":
        trainer = make_trainer(cartpole_demos)
        trainer.save(str(path))
        data = path.read_bytes()
        if kind == "truncated":
            path.write_bytes(data[: len(data) // 2])
        elif kind == "garbage":
            path.write_bytes(np.random.default_rng(0).bytes(len(data)))
        elif kind == "empty":
            path.write_bytes(b"")
        elif kind == "old-torch-save":
            torch.save([1, 2, 3], path)
        elif kind == "wrong-version":
            state = load_state(path)
            state["version"] = 99
            save_state(path, state)
        elif kind == "flipped-bytes":  # damage inside the tensors: the checksum refuses it
            raw = bytearray(data)
            start = raw.index(b"tensors.safetensors") + 200
            raw[start : start + 64] = bytes(b ^ 0xFF for b in raw[start : start + 64])
            path.write_bytes(bytes(raw))
    with pytest.raises(CheckpointError) as info:
        GAIL.load(str(path), venv=make_vec_env(ENV, n_envs=2), demos=cartpole_demos)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_checkpoint_for_other_env_is_refused(cartpole_demos, tmp_path):
    path = tmp_path / "checkpoint.pt"
    make_trainer(cartpole_demos).save(str(path))
    other = dataclasses.replace(cartpole_demos, env_id="genplay/CartPoleFixedHorizon-v0")
    with pytest.raises(CheckpointError, match="env_id"):
        GAIL.load(str(path), venv=make_vec_env(ENV, n_envs=2), demos=other)


# ---------------------------------------------------------------------------- determinism


@pytest.mark.slow
def test_same_seed_same_parameters(cartpole_demos):
    config = tiny_config(bc_epochs=2)  # the BC warm start's shuffling is seeded too
    runs = [make_trainer(cartpole_demos, config, seed=s).learn(512) for s in (0, 0, 1)]
    a, b, c = runs
    assert torch.equal(params(a.gen_algo.policy), params(b.gen_algo.policy))
    assert torch.equal(params(a.disc), params(b.disc))
    assert a.history == b.history
    assert not torch.equal(params(a.gen_algo.policy), params(c.gen_algo.policy))


# ---------------------------------------------------------------------------- BC warm start


def _bc_fit(trainer: GAIL, demos) -> tuple[float, float]:
    t = demos.transitions()
    scaled = trainer.policy_obs_norm.normalize_obs(t["obs"]) if trainer.policy_obs_norm else t["obs"]
    obs, acts = torch.as_tensor(scaled), torch.as_tensor(t["acts"])
    with torch.no_grad():
        _, log_prob, _ = trainer.gen_algo.policy.evaluate_actions(obs, acts)
    match = float((trainer.predict(t["obs"])[0] == t["acts"]).mean())
    return float(-log_prob.mean()), match


@pytest.mark.slow
def test_bc_warm_start_fits_the_demos(cartpole_demos):
    trainer = make_trainer(cartpole_demos, tiny_config(bc_epochs=100, bc_lr=3e-3))
    policy = trainer.gen_algo.policy
    value_before = params(policy.value_net)
    nll_before, match_before = _bc_fit(trainer, cartpole_demos)
    stats = trainer.pretrain_bc()
    nll_after, match_after = _bc_fit(trainer, cartpole_demos)
    assert nll_before == pytest.approx(math.log(2), abs=0.05)
    assert nll_after < 0.3 and stats["bc_heldout_loss"] < 0.35 and stats["bc_epochs"] < 100  # stopped early
    assert match_after > 0.9 and match_after > match_before + 0.1
    assert torch.equal(value_before, params(policy.value_net))  # only the actor is trained
    assert trainer.bc_done


@pytest.mark.slow
def test_bc_baseline_clones_continuous_actions_under_gsde():
    """Pendulum's preset (gSDE PPO), 20 demos as in ``genplay demo``: the BC baseline, built as GAIL's
    warm start is, regresses the mean action (-429 here); log-likelihood BC scored -1224 (random -1180)."""
    from genplay.envs.scripted import SCRIPTED_EXPERTS
    from genplay.gail.algos.presets import preset
    from genplay.gail.data.collect import collect_demos
    from genplay.gail.evaluation.evaluate import episode_returns
    from genplay.gail.runs.pipeline import behaviour_cloning

    env = "Pendulum-v1"
    demos = collect_demos(env, SCRIPTED_EXPERTS[env], 20, seed=0)
    trainer = behaviour_cloning(env, demos, replace(preset(env), device="cpu", seed=0))
    assert trainer.gen_algo.use_sde
    assert float(episode_returns(env, trainer, 10, seed=5).mean()) > -650


def test_learn_runs_bc_once_first(cartpole_demos):
    trainer = make_trainer(cartpole_demos, tiny_config(bc_epochs=2))
    calls = []
    pretrain = trainer.pretrain_bc

    def counting():
        calls.append(trainer.num_timesteps)
        return pretrain()

    trainer.pretrain_bc = counting
    assert not trainer.bc_done
    trainer.learn(256)
    trainer.learn(512)
    assert calls == [0] and trainer.bc_done
    assert make_trainer(cartpole_demos, tiny_config(bc_epochs=0)).bc_done  # nothing to do


# ---------------------------------------------------------------------------- pipeline: resume


class _Kill(BaseCallback):
    """Simulates a kill: raises once the generator has passed ``at`` steps."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.at = at

    def _on_step(self) -> bool:
        if self.model.num_timesteps >= self.at:
            raise KeyboardInterrupt("simulated kill")
        return True


def test_train_gail_writes_a_run_directory(cartpole_demos, tmp_path):
    out = tmp_path / "run"
    trainer = train_gail(ENV, cartpole_demos, 512, config=tiny_config(), out_dir=out)
    files = set(os.listdir(out))
    assert {"checkpoint.pt", "policy.zip", "history.json", "config.json", "logs"} <= files
    assert not [f for f in files if f.endswith(".tmp")]
    assert json.loads((out / "config.json").read_text())["env_id"] == ENV
    assert len(json.loads((out / "history.json").read_text())) == len(trainer.history) == 4
    obs = cartpole_demos.transitions()["obs"][:200]
    np.testing.assert_array_equal(load_policy(out)(obs), trainer.predict(obs)[0])


def test_exported_policy_keeps_the_observation_scaling(cartpole_demos, tmp_path):
    out = tmp_path / "run"
    trainer = train_gail(ENV, cartpole_demos, 512, config=tiny_config(normalize_policy_obs=True), out_dir=out)
    assert load_policy_model(out)[2]["obs_scaling"] == "in_network"  # inside policy.zip's network, no policy.json
    assert not (out / "policy.json").exists()
    obs = cartpole_demos.transitions()["obs"][::5]
    np.testing.assert_array_equal(load_policy(out)(obs), trainer.predict(obs)[0])


def test_python_api_save_writes_a_run_directory_the_command_line_reads(tmp_path, capsys):
    """README's Python example: ``GAIL(...).learn(n)`` then ``save(DIR)``; ``genplay evaluate --policy DIR``
    and ``genplay gail train --resume --out DIR`` take it (Pendulum: its expert row needs no training)."""
    from genplay.cli import main
    from genplay.envs.scripted import SCRIPTED_EXPERTS
    from genplay.gail.data.collect import collect_demos

    env = "Pendulum-v1"
    demos = collect_demos(env, SCRIPTED_EXPERTS[env], 2, seed=0)
    tiny = dict(n_envs=2, ppo_n_steps=64, ppo_batch_size=64, ppo_n_epochs=1, disc_batch_size=64, disc_updates=1)
    config = replace(preset(env), **tiny, checkpoint_every=0, bc_epochs=0, device="cpu")
    trainer = GAIL(venv=make_vec_env(env, n_envs=2, seed=0), demos=demos, config=config).learn(128)
    out = tmp_path / "api_run"
    trainer.save(out)
    assert {"checkpoint.pt", "policy.zip", "config.json", "history.json", "demos.npz", "learning_curve.png"} <= set(
        os.listdir(out)
    )
    obs = demos.transitions()["obs"][:100]
    np.testing.assert_allclose(load_policy(out, env_id=env)(obs), trainer.predict(obs)[0])
    capsys.readouterr()
    assert main(["evaluate", "--env", env, "--policy", str(out), "--n-episodes", "2", "--json"]) in (0, None)
    assert out.name in capsys.readouterr().out  # the run's row
    args = ["gail", "train", "--env", env, "--demos", str(out / "demos.npz"), "--timesteps", "256"]
    assert main([*args, "--out", str(out), "--resume", "--quiet"]) in (0, None)
    resumed = GAIL.load(out, venv=make_vec_env(env, n_envs=2, seed=1), demos=demos)
    assert resumed.num_timesteps == 256 and len(resumed.history) == 2


@pytest.mark.slow
def test_python_api_dac_save_writes_a_run_directory_the_command_line_reads(tmp_path, capsys):
    """``DAC(...).learn(n)`` then ``save(DIR)``: ``evaluate --policy DIR`` and ``gail train --algo dac --resume``."""
    from genplay.cli import main
    from genplay.envs.scripted import SCRIPTED_EXPERTS
    from genplay.gail.algos.dac import DAC
    from genplay.gail.algos.dac_config import DACLearnerConfig
    from genplay.gail.data.collect import collect_demos

    env = "Acrobot-v1"  # a scripted expert: evaluate's expert row needs no training
    demos = collect_demos(env, SCRIPTED_EXPERTS[env], 2, seed=0)
    dqn = DACLearnerConfig(
        buffer_size=2_000, learning_starts=100, net_arch=(32,), disc_every=100, target_update_interval=100
    )
    config = replace(GAILConfig(), disc_updates=1, disc_batch_size=32, device="cpu", checkpoint_every=0)
    dac = DAC(venv=make_vec_env(env, n_envs=2, seed=0), demos=demos, config=config, dqn=dqn).learn(200)
    out = tmp_path / "dac_run"
    dac.save(out)
    assert {"checkpoint.pt", "policy.zip", "config.json", "history.json", "demos.npz"} <= set(os.listdir(out))
    capsys.readouterr()
    assert main(["evaluate", "--env", env, "--policy", str(out), "--n-episodes", "1", "--json"]) in (0, None)
    assert out.name in capsys.readouterr().out
    args = ["gail", "train", "--algo", "dac", "--env", env, "--demos", str(out / "demos.npz"), "--timesteps", "300"]
    assert main([*args, "--out", str(out), "--resume", "--quiet"]) in (0, None)
    assert DAC.load(out, venv=make_vec_env(env, n_envs=2, seed=1), demos=demos).num_timesteps == 300


def test_progress_bar_total_is_the_step_count_reached(cartpole_demos, monkeypatch):
    """SB3 finishes whole rollouts (here 128 steps): the bar's total is where training stops, resumed or not."""
    import genplay.gail.algos.gail as trainer_module
    from genplay.gail.learners.learner import ProgressBar

    bars = []

    class Recorded(ProgressBar):
        def _on_training_end(self) -> None:
            bars.append((self.bar.total, self.bar.n, self.bar.initial))
            super()._on_training_end()

    monkeypatch.setattr(trainer_module, "ProgressBar", Recorded)
    trainer = make_trainer(cartpole_demos)  # 2 envs x 64 steps a rollout
    trainer.learn(200, progress_bar=True)
    trainer.learn(300, progress_bar=True)
    assert bars == [(256, 256, 0), (384, 384, 256)] and trainer.num_timesteps == 384


def test_dac_progress_bar_total_is_the_step_count_reached(cartpole_demos, monkeypatch):
    """DAC's DQN steps each of its 3 envs 4 times between checks: 100 steps end at 108, the bar's total."""
    import genplay.gail.algos.dac as dac_module
    from genplay.gail.algos.dac import DAC
    from genplay.gail.algos.dac_config import DACLearnerConfig

    bars = []

    class Recorded(dac_module._ProgressBar):
        def _on_training_end(self) -> None:
            bars.append((self.bar.total, self.bar.n))
            super()._on_training_end()

    monkeypatch.setattr(dac_module, "_ProgressBar", Recorded)
    dqn = DACLearnerConfig(buffer_size=1_000, learning_starts=50, net_arch=(16,), train_freq=4, disc_every=50)
    dac = DAC(venv=make_vec_env(ENV, n_envs=3, seed=0), demos=cartpole_demos, config=tiny_config(), dqn=dqn)
    dac.learn(100, progress_bar=True)
    assert bars == [(108, 108)] and dac.num_timesteps == 108


def test_load_policy_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no trained policy"):
        load_policy(tmp_path)
    (tmp_path / "policy.zip").write_bytes(b"not a zip")
    with pytest.raises(CheckpointError, match="not a readable SB3 policy"):
        load_policy(tmp_path)


@pytest.mark.slow
def test_new_trainer_from_checkpoint_continues_to_twice_the_steps(cartpole_demos, tmp_path):
    out = tmp_path / "run"
    first = train_gail(ENV, cartpole_demos, 512, config=tiny_config(checkpoint_every=ROLLOUT), out_dir=out)
    assert first.num_timesteps == 512 and len(first.history) == 4
    fresh = GAIL.load(str(out / "checkpoint.pt"), venv=make_vec_env(ENV, n_envs=2, seed=5), demos=cartpole_demos)
    assert fresh.num_timesteps == 512 and fresh.history == first.history
    fresh.learn(1024)
    assert fresh.num_timesteps == 1024 and len(fresh.history) == 8
    resumed = train_gail(ENV, cartpole_demos, 1024, config=tiny_config(), out_dir=out, resume=True)
    assert resumed.num_timesteps == 1024 and len(resumed.history) == 8
    assert resumed.history[:4] == first.history


@pytest.mark.slow
def test_resume_after_a_simulated_kill(cartpole_demos, tmp_path):
    out = tmp_path / "run"
    config = tiny_config(checkpoint_every=2 * ROLLOUT)
    with pytest.raises(KeyboardInterrupt):
        train_gail(ENV, cartpole_demos, 1024, config=config, out_dir=out, callback=_Kill(at=700))
    assert not (out / "policy.zip").exists()  # killed before the end
    assert [f for f in os.listdir(out) if f.endswith(".tmp")] == []
    saved = read_checkpoint(out / "checkpoint.pt")
    assert [h["timesteps"] for h in saved["history"]] == [128, 256, 384, 512]  # the last complete checkpoint
    # a different config passed on resume is refused, naming the field, and nothing is written
    mtime = (out / "checkpoint.pt").stat().st_mtime_ns
    with pytest.raises(CheckpointError, match=r"n_envs: 2 -> 4"):
        train_gail(ENV, cartpole_demos, 2048, config=tiny_config(n_envs=4), out_dir=out, resume=True)
    assert (out / "checkpoint.pt").stat().st_mtime_ns == mtime
    trainer = train_gail(ENV, cartpole_demos, 2048, config=config, out_dir=out, resume=True)
    assert trainer.config == config
    assert trainer.num_timesteps == 2048
    assert len(trainer.history) == 4 + (2048 - 512) // ROLLOUT
    assert trainer.history[:4] == saved["history"]
    steps = [h["timesteps"] for h in trainer.history]
    assert steps == list(range(ROLLOUT, 2049, ROLLOUT))
    assert (out / "policy.zip").exists()
    assert len(read_checkpoint(out / "checkpoint.pt")["history"]) == len(trainer.history)


# ---------------------------------------------------------------------------- evaluation helpers


def test_episode_returns_counts_exactly_n_episodes(heuristic_policy):
    np.testing.assert_array_equal(episode_returns(ENV, heuristic_policy, 3, seed=0), [500.0] * 3)
    rand = episode_returns(ENV, "random", 20, seed=0)
    assert len(rand) == 20 and (rand >= 8).all() and rand.mean() < 60
    np.testing.assert_array_equal(rand, episode_returns(ENV, "random", 20, seed=0))  # seeded


def test_compare_normalises_between_random_and_expert(heuristic_policy):
    results = compare(ENV, {"also heuristic": heuristic_policy}, expert=heuristic_policy, n_episodes=4, seed=3)
    by_name = {r.name: r for r in results}
    assert [r.name for r in results] == ["also heuristic", "expert", "random"]
    assert by_name["expert"].mean == 500.0 and by_name["expert"].normalized == pytest.approx(1.0)
    assert by_name["also heuristic"].normalized == pytest.approx(1.0)
    assert by_name["random"].normalized == pytest.approx(0.0)
    assert normalized_return(260.0, 500.0, 20.0) == pytest.approx(0.5)
    assert math.isnan(normalized_return(1.0, 5.0, 5.0))
    table = render_table(ENV, results)
    assert "also heuristic" in table and "500.0" in table


def test_bc_auxiliary_loss_pulls_the_policy_towards_the_demo_actions(cartpole_demos):
    trainer = make_trainer(cartpole_demos, tiny_config(bc_aux_steps=5, bc_batch_size=256))
    first = trainer.bc_auxiliary()
    for _ in range(10):
        last = trainer.bc_auxiliary()
    assert last < first - 0.05  # the demo actions became likelier
    calls = []
    trainer.bc_auxiliary = lambda: calls.append(1) or 0.0
    trainer.learn(3 * ROLLOUT)
    assert len(calls) == 2  # after each generator update but the last (the next rollout starts none)


def test_learning_without_a_log_dir_leaves_no_sb3_folders(cartpole_demos, tmp_path, monkeypatch):
    """SB3's default logger makes an empty ``SB3-<time>`` folder in the temp dir on every ``learn``; the
    trainers and ``make_ppo`` set a logger that writes nowhere instead (fails with SB3's default)."""
    import tempfile

    from genplay.gail.algos.warmstart import make_ppo

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    make_trainer(cartpole_demos).learn(128)
    make_ppo("CartPole-v1", seed=0).learn(64)
    assert not list(tmp_path.glob("SB3-*"))
