"""GAIL keeps its BC warm start: action noise matched to BC's error, the critic fitted before PPO's first update."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

from genplay.envs import EnvFactory
from genplay.envs.scripted import SCRIPTED_EXPERTS
from genplay.gail.algos.bc import fit_value_on_rollout, match_action_noise
from genplay.gail.algos.config import GAILConfig, PPOConfig, replace
from genplay.gail.algos.gail import GAIL
from genplay.gail.algos.presets import preset
from genplay.gail.data.collect import collect_demos
from genplay.gail.evaluation.evaluate import episode_returns, normalized_return


@pytest.fixture(scope="module")
def pendulum_demos():
    return collect_demos("Pendulum-v1", SCRIPTED_EXPERTS["Pendulum-v1"], 20, seed=30_000)


def _mean_std(policy, obs: np.ndarray) -> float:
    with torch.no_grad():
        return float(policy.get_distribution(policy.obs_to_tensor(obs)[0]).distribution.stddev.mean())


@pytest.mark.parametrize("use_sde", [False, True])
def test_match_action_noise_sets_the_mean_std(use_sde):
    venv = EnvFactory("Pendulum-v1").make_vec(2, seed=0)
    policy = PPO("MlpPolicy", venv, use_sde=use_sde, n_steps=64, batch_size=64, seed=0, device="cpu").policy
    obs = np.random.default_rng(0).normal(size=(500, 3)).astype(np.float32)
    mean_before = policy.predict(obs, deterministic=True)[0]
    factor = match_action_noise(policy, obs, 0.15)
    assert _mean_std(policy, obs) == pytest.approx(0.15, rel=1e-4) and factor < 1
    np.testing.assert_array_equal(policy.predict(obs, deterministic=True)[0], mean_before)  # the mean is kept


class _FitAtRolloutEnd(BaseCallback):
    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:  # where GAIL calls it: returns computed, update not yet run
        buf = self.model.rollout_buffer
        self.before = float(np.mean((buf.values - buf.returns) ** 2))
        self.actor = [p.detach().clone() for n, p in self.model.policy.named_parameters() if "value" not in n]
        self.after = fit_value_on_rollout(self.model, epochs=50)
        self.consistent = np.allclose(buf.advantages + buf.values, buf.returns, rtol=1e-5, atol=1e-5)
        self.actor_kept = all(
            torch.equal(w, p)
            for w, p in zip(self.actor, [p for n, p in self.model.policy.named_parameters() if "value" not in n])
        )


def test_fit_value_on_rollout_fits_returns_and_recomputes_advantages():
    algo = PPO("MlpPolicy", EnvFactory("CartPole-v1").make_vec(2, seed=0), n_steps=128, batch_size=64, seed=0)
    probe = _FitAtRolloutEnd()
    algo.learn(256, callback=probe)
    assert probe.after < 0.7 * probe.before and probe.consistent and probe.actor_kept
    with pytest.raises(ValueError, match="already handed to the update"):
        fit_value_on_rollout(algo)  # after the update the buffer is flattened: refused, not misread


def test_gail_switches_between_bc_and_ppo(pendulum_demos):
    """pretrain_bc matches the noise and arms the critic fit; the first rollout consumes it; off switches off."""
    ppo = PPOConfig(n_steps=64, batch_size=64, n_epochs=1, use_sde=True)
    for on in (True, False):
        config = replace(
            GAILConfig(), n_envs=2, bc_epochs=3, bc_match_noise=on, bc_fit_value=on, disc_batch_size=64, ppo=ppo
        )
        trainer = GAIL(venv=EnvFactory("Pendulum-v1").make_vec(2, seed=0), demos=pendulum_demos, config=config)
        obs = trainer.policy_obs_norm.normalize_obs(pendulum_demos.transitions()["obs"])
        fresh = _mean_std(trainer.gen_algo.policy, obs)
        stats = trainer.pretrain_bc()
        assert (_mean_std(trainer.gen_algo.policy, obs) < 0.5 * fresh) == on
        assert ("bc_noise_factor" in stats) == on and trainer.fit_value_next == on
        trainer.learn(256)
        assert not trainer.fit_value_next
        assert ("bc_value_mse" in trainer.history[0]) == on and "bc_value_mse" not in trainer.history[-1]


class _Probe(BaseCallback):
    """Deterministic returns when PPO starts (BC alone) and after each update; stops after ``n`` updates."""

    def __init__(self, n: int) -> None:
        super().__init__()
        self.n, self.returns = n, []

    def _evaluate(self) -> None:
        trainer = self.trainer
        self.returns.append(float(episode_returns("Pendulum-v1", trainer, 20, seed=50_000).mean()))

    def _on_training_start(self) -> None:
        self._evaluate()

    def _on_rollout_start(self) -> None:
        if self.model.num_timesteps > 0:
            self._evaluate()

    def _on_step(self) -> bool:
        return len(self.returns) <= self.n


@pytest.mark.slow
def test_first_updates_keep_the_bc_policy_on_pendulum(pendulum_demos):
    """After each of the first two PPO updates the policy keeps >= 0.9 of BC alone's normalised return
    (issue 29, item 5): 0.993 -> 0.992 / 0.992. With the warm start switched off (``bc_match_noise`` and
    ``bc_fit_value`` False, a recorded run since 2026-12-07, not a second test) the first update loses
    the clone: 0.993 -> 0.146 / 0.419. (Each half alone keeps it on some seeds and not on others:
    scripts/bench_warmstart.py --set, in the report.)"""
    config = replace(preset("Pendulum-v1"), bc_match_noise=True, bc_fit_value=True)
    trainer = GAIL(
        venv=EnvFactory("Pendulum-v1").make_vec(config.run.n_envs, seed=0), demos=pendulum_demos, config=config
    )
    probe = _Probe(2)
    probe.trainer = trainer
    trainer.learn(100_000, callback=probe)  # a full run's budget: PPO's step size as it is at the start
    random = float(episode_returns("Pendulum-v1", "random", 20, seed=50_000).mean())
    expert = float(pendulum_demos.episode_returns().mean())
    bc, *after = (normalized_return(r, expert, random) for r in probe.returns)
    assert bc >= 0.8 and len(after) == 2
    assert min(after) >= 0.9 * bc, (bc, after)
