"""DAC with a DQN learner: relabelled rewards, replay rows, learning, checkpoints, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genplay.envs import EnvFactory
from genplay.errors import CheckpointError, EnvError
from genplay.gail.algos.config import GAILConfig
from genplay.gail.algos.dac import DAC
from genplay.gail.algos.dac_config import DQNConfig
from genplay.gail.evaluation.evaluate import episode_returns

SMALL = DQNConfig(
    buffer_size=20_000,
    learning_starts=1_000,
    learning_rate=5e-4,
    target_update_interval=1_000,
    disc_every=500,
    net_arch=(64, 64),
    exploration_fraction=0.1,
)
DISC = GAILConfig(disc_updates=4, disc_batch_size=128)


def make_dac(demos, dqn: DQNConfig = SMALL, config: GAILConfig = DISC, seed: int = 0) -> DAC:
    venv = EnvFactory("CartPole-v1").make_vec(4, seed=seed)
    return DAC(venv=venv, demos=demos, config=config, dqn=dqn)


@pytest.mark.slow
def test_dac_learns_cartpole(cartpole_demos):
    """The default recipe (expert rows, margin loss, relabelled rewards) balances the pole within 10k steps."""
    dac = make_dac(cartpole_demos)
    best = 0.0
    for steps in (6_000, 10_000):
        dac.learn(steps)
        best = max(best, float(episode_returns("CartPole-v1", dac, 10, seed=1).mean()))
    assert best >= 475.0
    assert {"accuracy_expert", "td_loss", "margin_loss", "true_return"} <= set(dac.history[-1])


def test_rewards_are_the_current_discriminators_plus_the_absorbing_tail(cartpole_demos):
    dac = make_dac(cartpole_demos)
    dac.learn(1_200)
    store, _ = dac.replay_batch(16)
    terminated = np.zeros(16, dtype=bool)
    terminated[:4] = True
    before = dac.rewards(store, terminated)
    with torch.no_grad():
        dac.disc.absorbing_logit.fill_(3.0)
    after = dac.rewards(store, terminated)
    assert torch.allclose(before[4:], after[4:])  # live rows: unchanged discriminator net
    assert (after[:4] > before[:4] + 1.0).all()  # terminating rows carry the (larger) absorbing tail
    dac.dqn_config = DQNConfig(**{**SMALL.__dict__, "reward_scale": 0.1})
    torch.testing.assert_close(dac.rewards(store, terminated), 0.1 * after)
    dac.dqn_config = SMALL
    for p in dac.disc.net.parameters():  # relabelled when sampled: a new discriminator, new rewards
        torch.nn.init.normal_(p)
    assert not torch.allclose(dac.rewards(store, terminated)[4:], after[4:])


def test_replay_batch_pairs_each_row_with_its_next_observation(cartpole_demos):
    dac = make_dac(cartpole_demos)
    dac.learn(1_100)
    store, terminated = dac.replay_batch(256)
    obs, nxt = store.obs[:256], store.obs[256:]
    live = ~terminated
    # CartPole's x moves by at most tau * |x_dot| per step: next rows follow their rows
    assert np.all(np.abs(nxt[live, 0] - obs[live, 0]) <= 0.02 * np.abs(obs[live, 1]) + 1e-4)
    assert terminated.any() and store.acts.dtype == np.int64


@pytest.mark.slow
def test_same_seed_same_weights(cartpole_demos):
    weights = []
    for _ in range(2):
        dac = make_dac(cartpole_demos, DQNConfig(**{**SMALL.__dict__, "learning_starts": 500}))
        dac.learn(1_500)
        weights.append(torch.cat([p.detach().flatten() for p in dac.algo.policy.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_checkpoint_round_trip_and_resume(cartpole_demos, tmp_path):
    dac = make_dac(cartpole_demos)
    path = str(tmp_path / "ckpt")
    dac.learn(1_500, checkpoint_path=path)
    loaded = DAC.load(path, venv=EnvFactory("CartPole-v1").make_vec(4, seed=1), demos=cartpole_demos)
    assert loaded.num_timesteps == 1_500 and loaded.history == dac.history
    for a, b in zip(dac.algo.policy.parameters(), loaded.algo.policy.parameters()):
        assert torch.equal(a, b)
    rb, lb = dac.algo.replay_buffer, loaded.algo.replay_buffer
    assert np.array_equal(rb.observations, lb.observations) and lb.pos == rb.pos
    loaded.learn(2_000)
    assert loaded.num_timesteps == 2_000


def test_bad_inputs_get_one_clear_error(cartpole_demos, tmp_path):
    with pytest.raises(ValueError, match="DQNConfig.margin"):
        DQNConfig(margin=-1.0)
    with pytest.raises(ValueError, match="DQNConfig.buffer_size"):
        DQNConfig(buffer_size=1)
    with pytest.raises(EnvError, match="Discrete action space"):
        DAC(venv=EnvFactory("Pendulum-v1").make_vec(1), demos=cartpole_demos)
    bad = tmp_path / "not-a-checkpoint"
    bad.write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not-a-checkpoint"):
        DAC.load(str(bad), venv=EnvFactory("CartPole-v1").make_vec(4), demos=cartpole_demos)
