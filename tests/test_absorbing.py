"""The absorbing-state objective of gail/rewards/reward.py, checked against numbers computed here by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from genplay.envs import EnvFactory
from genplay.gail import GAIL, GAILConfig, PPOConfig, collect_demos
from genplay.gail.algos.config import replace
from genplay.gail.data.store import TransitionStore
from genplay.gail.rewards.reward import absorbing_mass, generator_rewards

TINY = dict(n_envs=2, disc_batch_size=64, disc_updates=2, bc_epochs=0, device="cpu", checkpoint_every=0)


def test_tail_is_the_self_loop_value_whatever_the_termination_step():
    g, r_a = 0.99, -0.7
    disc = np.array([[0.5, 1.0], [2.0, -1.0]])
    terminated = np.array([[False, True], [True, False]])
    out = generator_rewards(disc, terminated, r_a, g)
    tail = sum(r_a * g**k for k in range(1, 10_000))  # r_a every step after the termination, for ever
    np.testing.assert_allclose(out, disc + np.where(terminated, tail, 0.0), rtol=1e-9)
    np.testing.assert_array_equal(generator_rewards(disc, terminated, None, g), disc)  # absorbing off


def test_absorbing_mass_counts_terminations_not_their_time():
    g = 0.9
    tail = sum(g**k for k in range(1, 10_000))
    # a termination at the horizon weighs what an early one does, on both sides
    assert absorbing_mass(3, g, prior=0.0) == pytest.approx(3 * tail)
    assert absorbing_mass(0, g, prior=1.0) == pytest.approx(tail)


def test_wasserstein_with_a_free_absorbing_logit_and_gamma_one_are_refused():
    with pytest.raises(ValueError, match="wasserstein"):
        replace(GAILConfig(), disc_loss="wasserstein", disc_penalty="wgan_gp")
    # fine without absorbing states
    replace(GAILConfig(), disc_loss="wasserstein", disc_penalty="wgan_gp", absorbing=False)
    with pytest.raises(ValueError, match="gamma < 1"):
        GAILConfig(ppo=PPOConfig(gamma=1.0))


@pytest.mark.slow
def test_gamma_one_without_absorbing_states_trains_on_finite_numbers(cartpole_random_demos):
    config = replace(
        GAILConfig(), **TINY, absorbing=False, ppo=PPOConfig(gamma=1.0, n_steps=64, batch_size=64, n_epochs=2)
    )
    trainer = GAIL(venv=EnvFactory("CartPole-v1").make_vec(2), demos=cartpole_random_demos, config=config)
    trainer.learn(256)
    assert all(math.isfinite(v) for h in trainer.history for v in h.values())


@pytest.mark.slow
def test_absorbing_logit_stays_bounded_when_the_generator_never_terminates(cartpole_random_demos):
    """The expert always terminates; the generator's rows never do: the logit settles at the prior's ratio."""
    config = replace(GAILConfig(), **TINY, absorbing_prior=1.0)
    trainer = GAIL(venv=EnvFactory("CartPole-v1").make_vec(2), demos=cartpole_random_demos, config=config)
    e = trainer.expert
    never = TransitionStore(e.obs, e.obs_idx, e.acts)  # live rows only, no termination
    for _ in range(150):
        trainer.train_discriminator(never, 0)
    mass_g = absorbing_mass(0, trainer.gamma, 1.0)  # the prior alone, once for the whole replay
    share_e = trainer.expert_absorbing / (trainer.expert_absorbing + len(e))
    share_g = mass_g / (mass_g + len(trainer.replay) * len(e))
    optimum = math.log(share_e / share_g)  # BCE optimum of a free scalar with these weights
    logit = float(trainer.disc.absorbing_logit.detach())
    assert 0 < optimum < 10 and logit == pytest.approx(optimum, abs=0.3)


def test_relabelled_truncations_keep_sb3s_bootstrap(cartpole_demos):
    """Episodes cut by a 10-step time limit: the buffer holds the discriminator term plus
    gamma * V(terminal obs) that SB3 adds on truncation, computed here from the value net."""
    factory = EnvFactory("genplay/CartPoleFixedHorizon-v0", {"max_episode_steps": 10})
    demos = collect_demos(factory, lambda o: (np.asarray(o)[:, 2] > 0).astype(np.int64), 3, seed=0)
    config = replace(GAILConfig(), **TINY, scale_rewards=False, ppo=PPOConfig(n_steps=32, batch_size=32, n_epochs=1))
    trainer = GAIL(venv=factory.make_vec(2), demos=demos, config=config)
    seen = {}
    collect, relabel = trainer.recorder.collect, trainer._relabel

    def spy_collect():
        seen["rollout"] = out = collect()
        seen["values_before"] = trainer.gen_algo.rollout_buffer.rewards.copy()  # SB3's bootstrap terms only
        return out

    def spy_relabel(rewards):
        seen["rewards"] = rewards.copy()
        relabel(rewards)
        seen["buffer"] = trainer.gen_algo.rollout_buffer.rewards.copy()

    trainer.recorder.collect, trainer._relabel = spy_collect, spy_relabel
    trainer.learn(64)
    rollout = seen["rollout"]
    dones = rollout["dones"]
    assert dones.sum() >= 4 and not rollout["terminated"].any()  # truncations only
    policy, g = trainer.gen_algo.policy, trainer.gamma
    # independent expectation: SB3's bootstrap on truncated steps
    terminal = torch.as_tensor(trainer.policy_obs_norm.normalize_obs(rollout["terminal_obs"]))
    with torch.no_grad():
        v_terminal = policy.predict_values(terminal).numpy().ravel()
    bootstrap = np.zeros(dones.shape)
    bootstrap[dones] = g * v_terminal
    np.testing.assert_allclose(seen["values_before"], bootstrap, rtol=1e-5, atol=1e-6)
    n = dones.size
    store = TransitionStore(rollout["obs"].reshape(n, -1), np.arange(n), rollout["acts"].reshape(-1))
    with torch.no_grad():
        disc_term = np.clip(trainer.disc(trainer.disc.features(store, np.arange(n))).numpy(), -10, 10)
    np.testing.assert_allclose(seen["buffer"], disc_term.reshape(dones.shape) + bootstrap, rtol=1e-5, atol=1e-5)
