"""DAC on the shared off-policy learner (DQN, SAC): relabelled rewards, replay rows, learning, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genplay.envs import EnvFactory
from genplay.errors import CheckpointError
from genplay.gail.algos.config import GAILConfig, replace
from genplay.gail.algos.dac import DAC
from genplay.gail.algos.dac_config import DACLearnerConfig
from genplay.gail.evaluation.evaluate import episode_returns

SMALL = DACLearnerConfig(
    buffer_size=20_000,
    learning_starts=1_000,
    learning_rate=5e-4,
    target_update_interval=1_000,
    disc_every=500,
    net_arch=(64, 64),
    exploration_fraction=0.1,
)
DISC = replace(GAILConfig(), disc_updates=4, disc_batch_size=128)


def make_dac(demos, dqn: DACLearnerConfig = SMALL, config: GAILConfig = DISC, seed: int = 0) -> DAC:
    venv = EnvFactory("CartPole-v1").make_vec(4, seed=seed)
    return DAC(venv=venv, demos=demos, config=config, dqn=dqn)


@pytest.mark.slow
def test_dac_learns_cartpole(cartpole_demos):
    """The discriminator's reward alone balances the pole: with the margin loss off, expert and learner
    rows learn only from the relabelled rewards (a seed-0 probe on the shared learner: 308 at 5k steps, 500
    at 10k). With the discriminator frozen at its initial weights (``train_discriminator`` a no-op) the best
    of the two is 9.6 and the test fails; with the margin loss on, a frozen discriminator still reached 433 (DQfD's
    margin on expert rows is behaviour cloning), so the margin stays off here."""
    dac = make_dac(cartpole_demos, DACLearnerConfig(**{**SMALL.__dict__, "margin_weight": 0.0}))
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
    from genplay.gail.runs.off_policy_run import train_dac

    dac = train_dac("CartPole-v1", cartpole_demos, 8_000)
    assert float(episode_returns("CartPole-v1", dac, 10, seed=1).mean()) >= 475.0


def test_dac_preset_keeps_atari_and_sizes_classic_control_for_short_runs():
    from genplay.gail.algos.dac_config import CLASSIC_ENVS, dac_atari_preset, dac_preset

    assert dac_preset("genplay/Pong-v0") == dac_atari_preset("Pong")
    for env_id in CLASSIC_ENVS:
        _, dqn = dac_preset(env_id)
        assert dqn.net_arch and dqn.learning_starts <= 1_000
        assert dqn.target_update_interval <= 1_000 or dqn.margin_weight == 0  # SAC: a Polyak step per update


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
    rb.dones = rb.dones.copy()  # a new array: the buffer's termination count is read afresh
    rb.dones[:10, 0] = 1.0  # one fall per 2k rows, against the prior's one per 2.5k demo rows
    expert_share, gen_share = dac.absorbing_shares()
    assert gen_share > 2.0 * expert_share
    dac.config = replace(DISC, absorbing=False)
    assert dac.absorbing_shares()[1] == 0.0


def test_rewards_are_the_current_discriminators_plus_the_absorbing_tail(cartpole_demos):
    dac = make_dac(cartpole_demos)
    dac.learn(1_200)
    obs, acts, nxt, _ = dac.replay_rows(16)
    features = dac.disc_features(obs, acts, nxt)
    terminated = torch.zeros(16)
    terminated[:4] = 1.0
    before = dac.rewards(features, terminated)
    with torch.no_grad():
        dac.disc.absorbing_logit.fill_(3.0)
    after = dac.rewards(features, terminated)
    assert torch.allclose(before[4:], after[4:])  # live rows: unchanged discriminator net
    assert (after[:4] > before[:4] + 1.0).all()  # terminating rows carry the (larger) absorbing tail
    dac.dqn_config = DACLearnerConfig(**{**SMALL.__dict__, "reward_scale": 0.1})
    torch.testing.assert_close(dac.rewards(features, terminated), 0.1 * after)
    dac.dqn_config = SMALL
    for p in dac.disc.net.parameters():  # relabelled when sampled: a new discriminator, new rewards
        torch.nn.init.normal_(p)
    assert not torch.allclose(dac.rewards(features, terminated)[4:], after[4:])


def test_batch_rewards_score_the_sampled_rows(cartpole_demos):
    """The Q batch's rewards are the discriminator's on exactly its rows (learner then expert rows)."""
    dac = make_dac(cartpole_demos)
    dac.learn(1_100)
    batch = dac.batch()
    features = dac.disc_features(batch.obs.numpy(), batch.acts.numpy(), batch.next_obs.numpy())
    torch.testing.assert_close(dac.batch_rewards(batch), dac.rewards(features, batch.terminated))
    assert int(batch.expert.sum()) == SMALL.expert_batch_size and len(batch.obs) == 128


def test_replay_rows_pair_each_row_with_its_next_observation(cartpole_demos):
    dac = make_dac(cartpole_demos)
    dac.learn(1_100)
    obs, acts, nxt, terminated = dac.replay_rows(256)
    live = terminated == 0
    # CartPole's x moves by at most tau * |x_dot| per step: next rows follow their rows
    assert np.all(np.abs(nxt[live, 0] - obs[live, 0]) <= 0.02 * np.abs(obs[live, 1]) + 1e-4)
    assert (~live).any() and acts.dtype == np.int64


@pytest.mark.slow
def test_same_seed_same_weights(cartpole_demos):
    weights = []
    for _ in range(2):
        dac = make_dac(cartpole_demos, DACLearnerConfig(**{**SMALL.__dict__, "learning_starts": 500}))
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
    with pytest.raises(ValueError, match="DACLearnerConfig.margin"):
        DACLearnerConfig(margin=-1.0)
    with pytest.raises(ValueError, match="DACLearnerConfig.buffer_size"):
        DACLearnerConfig(buffer_size=1)
    with pytest.raises(ValueError, match="DACLearnerConfig.tau: DAC's DQN learner does not use this setting"):
        make_dac(cartpole_demos, DACLearnerConfig(**{**SMALL.__dict__, "tau": 0.5}))
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
    tiny = DACLearnerConfig(**{**SMALL.__dict__, "buffer_size": 960, "learning_starts": 10_000})  # 240 rows: wraps
    dac = DAC(venv=factory.make_vec(4, seed=0), demos=cartpole_demos, config=DISC, dqn=tiny)
    dac.learn(1_000)
    rb = dac.algo.replay_buffer
    assert rb.full and (rb.timeouts > 0).any() and ((rb.dones > 0) & (rb.timeouts == 0)).any()
    obs, acts, nxt, terminated = dac.replay_rows(2_000)
    expected = np.stack([_cartpole_step(o, a) for o, a in zip(obs, acts)])
    ended = np.abs(expected - nxt).max(axis=1) > 1e-4
    assert not ended.any(), f"{ended.sum()} rows (terminated: {terminated[ended].sum()}) show a reset frame"


def test_replay_capacity_counts_all_envs_together(cartpole_demos):
    """DACLearnerConfig.buffer_size is transitions over all envs (SB3 divides by n_envs once, not twice)."""
    rb = make_dac(cartpole_demos).algo.replay_buffer
    assert rb.buffer_size * rb.n_envs == SMALL.buffer_size


def test_checkpoint_refuses_the_old_dac_format(cartpole_demos, tmp_path):
    """A checkpoint of DAC's own loop (before the shared learner: another replay layout) is one error."""
    from genplay.gail.saving.checkpoint import DAC_CHECKPOINT_FORMAT
    from genplay.generative.core.state_io import save_state

    save_state(tmp_path / "old.pt", {"format": DAC_CHECKPOINT_FORMAT, "version": 2})
    with pytest.raises(CheckpointError, match="old.pt: a DAC checkpoint from before.*start over with --force"):
        DAC.load(tmp_path / "old.pt", venv=EnvFactory("CartPole-v1").make_vec(4), demos=cartpole_demos)


@pytest.fixture(scope="module")
def pendulum_demos():
    from genplay.gail.data.expert_choice import expert_demos

    return expert_demos("Pendulum-v1", 4, seed=0)


SAC_SMALL = DACLearnerConfig(
    buffer_size=4_000, learning_starts=200, batch_size=32, expert_batch_size=32, disc_every=200, net_arch=(32,)
)
SAC_SMALL = DACLearnerConfig(**{**SAC_SMALL.__dict__, "margin_weight": 0.0})


def make_sac_dac(demos, dqn: DACLearnerConfig = SAC_SMALL) -> DAC:
    return DAC(venv=EnvFactory("Pendulum-v1").make_vec(2, seed=0), demos=demos, config=DISC, dqn=dqn)


def test_continuous_actions_train_sac_on_the_discriminators_reward(pendulum_demos):
    """Box actions get SAC's critics; their targets are r + gamma (1 - terminated) V_target(s'), with r the
    discriminator's reward of the row (on hand-made rows: one terminated, one live)."""
    from stable_baselines3 import SAC

    from genplay.gail.learners.off_policy import Batch

    dac = make_sac_dac(pendulum_demos)
    assert isinstance(dac.algo, SAC) and not dac.discrete
    obs = torch.tensor([[1.0, 0.0, 0.5], [0.0, 1.0, -0.5]])
    acts = torch.tensor([[0.25], [-0.5]])  # SAC's units, [-1, 1]; the discriminator sees the env's
    np.testing.assert_allclose(dac.algo.policy.unscale_action(acts.numpy()), [[0.5], [-1.0]])
    batch = Batch(obs, acts, obs.flip(0), torch.tensor([1.0, 0.0]), torch.tensor([False, True]))
    rewards = dac.batch_rewards(batch)
    with torch.random.fork_rng():
        torch.manual_seed(3)
        loss, _ = dac.critic_loss(batch)
        torch.manual_seed(3)
        dac.batch_rewards(batch)  # the loss computes rewards first, then samples a' for V(s')
        next_v = dac.sac_value(batch.next_obs, target=True)
    target = rewards + torch.tensor([0.0, 1.0]) * dac.gamma * next_v
    expected = 0.5 * sum(torch.nn.functional.mse_loss(q, target) for q in dac.sac_q(obs, acts))
    torch.testing.assert_close(loss, expected)
    dac.learn(400)
    assert {"accuracy_expert", "td_loss", "ent_coef"} <= set(dac.history[-1])


def test_sac_checkpoint_round_trip(pendulum_demos, tmp_path):
    dac = make_sac_dac(pendulum_demos)
    path = tmp_path / "ckpt.pt"
    dac.learn(400, checkpoint_path=path)
    loaded = DAC.load(path, venv=EnvFactory("Pendulum-v1").make_vec(2, seed=1), demos=pendulum_demos)
    assert loaded.num_timesteps == 400 and loaded.history == dac.history
    for a, b in zip(
        [*dac.algo.policy.parameters(), *dac.disc.parameters()],
        [*loaded.algo.policy.parameters(), *loaded.disc.parameters()],
    ):
        assert torch.equal(a, b)
    assert torch.equal(dac.algo.log_ent_coef, loaded.algo.log_ent_coef)
    assert loaded.last_disc_update == dac.last_disc_update
    loaded.learn(600)
    assert loaded.num_timesteps == 600


def test_dqn_only_settings_are_refused_for_sac(pendulum_demos):
    with pytest.raises(ValueError, match="DACLearnerConfig.margin_weight: DQfD's margin needs discrete actions"):
        make_sac_dac(pendulum_demos, DACLearnerConfig(**{**SAC_SMALL.__dict__, "margin_weight": 1.0}))
    with pytest.raises(ValueError, match="DACLearnerConfig.exploration_fraction: DAC's SAC learner does not use"):
        make_sac_dac(pendulum_demos, DACLearnerConfig(**{**SAC_SMALL.__dict__, "exploration_fraction": 0.5}))


@pytest.mark.slow
def test_dac_learns_pendulum_with_sac(pendulum_demos):
    """The discriminator's reward swings the pendulum up with SAC (the DAC paper's setting) within 6k
    steps: -286 (-1,092 at 4k, random about -1,200). With the discriminator frozen at its initial weights
    (``train_discriminator`` a no-op) the same run scored -1,512 at 6k (and -811 at 12k): the test fails."""
    from genplay.gail.runs.off_policy_run import train_dac

    dac = train_dac("Pendulum-v1", pendulum_demos, 6_000)
    assert float(episode_returns("Pendulum-v1", dac, 10, seed=1).mean()) >= -500.0
