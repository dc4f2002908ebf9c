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
    """The discriminator's reward alone balances the pole: with the margin loss off, expert and learner
    rows learn only from the relabelled rewards (a seed-0 probe: 444 at 5k steps, 482 at 10k). With the
    discriminator frozen at its initial weights (``train_discriminator`` a no-op) the best of the two is
    9.6 and the test fails; with the margin loss on, a frozen discriminator still reached 433 (DQfD's
    margin on expert rows is behaviour cloning), so the margin stays off here."""
    dac = make_dac(cartpole_demos, DQNConfig(**{**SMALL.__dict__, "margin_weight": 0.0}))
    best = 0.0
    for steps in (5_000, 10_000):
        dac.learn(steps)
        best = max(best, float(episode_returns("CartPole-v1", dac, 10, seed=1).mean()))
    assert best >= 400.0
    assert {"accuracy_expert", "td_loss", "margin_loss", "true_return"} <= set(dac.history[-1])


@pytest.mark.slow
def test_classic_preset_learns_cartpole_through_train_dac(cartpole_demos):
    """``train_dac``'s CartPole preset (the registry's, what bench_family.py runs) balances the pole in
    8k steps; the Atari-sized DQN defaults it used before (linear Q, first update at 10k) scored 57."""
    from genplay.gail.runs.dac_run import train_dac

    dac = train_dac("CartPole-v1", cartpole_demos, 8_000)
    assert float(episode_returns("CartPole-v1", dac, 10, seed=1).mean()) >= 475.0


def test_dac_preset_keeps_atari_and_sizes_classic_control_for_short_runs():
    from genplay.gail.algos.dac_config import CLASSIC_ENVS, dac_atari_preset, dac_preset

    assert dac_preset("genplay/Pong-v0") == dac_atari_preset("Pong")
    for env_id in CLASSIC_ENVS:
        _, dqn = dac_preset(env_id)
        assert dqn.net_arch and dqn.learning_starts <= 1_000 and dqn.target_update_interval <= 1_000


def test_absorbing_prior_is_a_rate_so_a_learner_that_stopped_falling_is_not_paid_to_fall(cartpole_demos):
    """CartPole's expert never terminates. A replay buffer 8x the demos with no termination gets the
    expert's absorbing share (the absorbing logit's optimum log(expert / learner share) is 0, not
    log(8) > 0, which paid a fall); learner terminations make the absorbing state the learner's."""
    dac = make_dac(cartpole_demos)
    rb = dac.algo.replay_buffer
    rb.full = True  # 20k rows, none ended
    assert rb.buffer_size * rb.n_envs >= 8 * len(dac.expert)
    expert_share, gen_share = dac.absorbing_shares()
    assert gen_share == pytest.approx(expert_share, rel=1e-9)
    rb.dones[:10, 0] = 1.0  # one fall per 2k rows, against the prior's one per 2.5k demo rows
    expert_share, gen_share = dac.absorbing_shares()
    assert gen_share > 2.0 * expert_share
    dac.config = GAILConfig(**{**DISC.__dict__, "absorbing": False})
    assert dac.absorbing_shares()[1] == 0.0


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


def _cartpole_step(obs: np.ndarray, action: int) -> np.ndarray:
    """CartPole's deterministic physics from an observation: the real next observation of a row."""
    import gymnasium as gym

    env = gym.make("CartPole-v1").unwrapped
    env.reset(seed=0)
    env.state = obs.astype(np.float64)
    env.steps_beyond_terminated = None
    return env.step(int(action))[0]


def test_ended_rows_keep_their_real_final_observation(cartpole_demos):
    """Truncated and terminated rows pair with the episode's real last frame, not the next reset frame
    (one observation array: SB3's next add writes the reset frame over it), across buffer wrap-around."""
    factory = EnvFactory("CartPole-v1", kwargs={"max_episode_steps": 20})  # random play: truncations and terminations
    tiny = DQNConfig(**{**SMALL.__dict__, "buffer_size": 960, "learning_starts": 10_000})  # 240 rows: wraps
    dac = DAC(venv=factory.make_vec(4, seed=0), demos=cartpole_demos, config=DISC, dqn=tiny)
    dac.learn(1_000)
    rb = dac.algo.replay_buffer
    assert rb.full and (rb.timeouts > 0).any() and ((rb.dones > 0) & (rb.timeouts == 0)).any()
    store, terminated = dac.replay_batch(2_000)
    obs, nxt = store.obs[:2_000], store.obs[2_000:]
    expected = np.stack([_cartpole_step(o, a) for o, a in zip(obs, store.acts)])
    ended = np.abs(expected - nxt).max(axis=1) > 1e-4
    assert not ended.any(), f"{ended.sum()} rows (terminated: {terminated[ended].sum()}) show a reset frame"


def test_replay_capacity_counts_all_envs_together(cartpole_demos):
    """DQNConfig.buffer_size is transitions over all envs (SB3 divides by n_envs once, not twice)."""
    rb = make_dac(cartpole_demos).algo.replay_buffer
    assert rb.buffer_size * rb.n_envs == SMALL.buffer_size


def test_final_observation_ring_on_hand_made_rows():
    """Row obs = step count t, episode of env e ends every 3 + e steps: each ended row's next obs is t + 1
    (not the reset 0) through wrap-around and ring growth; SB3's own sample reads the same."""
    from gymnasium import spaces

    from genplay.gail.learners.replay import INITIAL_FINAL_SLOTS, TerminationReplayBuffer

    n_envs, rows = 2, 10
    space = spaces.Box(0, 255, (1,), dtype=np.uint8)
    rb = TerminationReplayBuffer(rows * n_envs, space, spaces.Discrete(2), n_envs=n_envs)
    t = np.zeros(n_envs, dtype=np.uint8)
    for _ in range(4 * INITIAL_FINAL_SLOTS + 7):
        nxt = t + 1
        done = nxt == 3 + np.arange(n_envs)
        infos = [{"TimeLimit.truncated": bool(d and e == 0)} for e, d in enumerate(done)]
        rb.add(t[:, None], nxt[:, None], np.zeros(n_envs), np.zeros(n_envs), done, infos)
        t = np.where(done, 0, nxt).astype(np.uint8)
    live = (np.arange(1, rows) + rb.pos) % rows
    r, e = np.repeat(live, n_envs), np.tile(np.arange(n_envs), len(live))
    np.testing.assert_array_equal(rb.next_obs(r, e)[:, 0], rb.observations[r, e, 0] + 1)
    assert rb.final_count == int(rb.dones.sum()) and rb.timeouts[:, 0].sum() == rb.dones[:, 0].sum()
    rb.check_finals()
    sample = rb.sample(64)
    np.testing.assert_array_equal(sample.next_observations.numpy(), sample.observations.numpy() + 1)
    assert len(rb.final_observations) >= INITIAL_FINAL_SLOTS  # bounded by the ended rows alive, not the buffer
    rb.reset()
    assert rb.final_count == 0 and (rb.final_slot == -1).all()


def test_checkpoint_keeps_final_observations_and_refuses_version_1(cartpole_demos, tmp_path):
    from genplay.generative.core.state_io import load_state, save_state

    factory = EnvFactory("CartPole-v1", kwargs={"max_episode_steps": 20})
    tiny = DQNConfig(**{**SMALL.__dict__, "buffer_size": 400, "learning_starts": 10_000})
    dac = DAC(venv=factory.make_vec(4, seed=0), demos=cartpole_demos, config=DISC, dqn=tiny)
    path = tmp_path / "ckpt.pt"
    dac.learn(600, checkpoint_path=str(path))
    loaded = DAC.load(path, venv=factory.make_vec(4, seed=1), demos=cartpole_demos)
    rb, lb = dac.algo.replay_buffer, loaded.algo.replay_buffer
    rows = np.repeat(np.arange(rb.buffer_size), 4)
    envs = np.tile(np.arange(4), rb.buffer_size)
    assert rb.final_count > 0 and lb.final_count == rb.final_count
    np.testing.assert_array_equal(lb.next_obs(rows, envs), rb.next_obs(rows, envs))
    state = load_state(path)
    state["replay"]["final_slot"][0, 0] = 10**6  # a slot outside the ring
    save_state(tmp_path / "bad.pt", state)
    with pytest.raises(CheckpointError, match="bad.pt: malformed DAC state.*ring"):
        DAC.load(tmp_path / "bad.pt", venv=factory.make_vec(4), demos=cartpole_demos)
    old = {**load_state(path), "version": 1}
    save_state(tmp_path / "old.pt", old)
    with pytest.raises(CheckpointError, match="old.pt: a version-1 DAC checkpoint.*start over with --force"):
        DAC.load(tmp_path / "old.pt", venv=factory.make_vec(4), demos=cartpole_demos)
