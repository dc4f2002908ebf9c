"""DAC (Kostrikov et al. 2019, "Discriminator-Actor-Critic"): the GAIL reward on the shared off-policy learner.

DAC trains a discriminator (expert rows high) on the demos against the learner's replay
buffer and gives an off-policy learner the discriminator's reward, computed when a minibatch
is *sampled*, so old transitions are always scored by the current discriminator, with
absorbing states for terminations. The learner is :class:`OffPolicyImitation`'s
(``gail/learners/off_policy.py``): SB3's DQN for discrete actions, SB3's SAC for continuous
ones (the paper's actor-critic setting); rollouts, the replay buffer (every next observation
kept, so a truncated row is bootstrapped from its real final observation), target updates,
epsilon, SAC's actor and temperature are SB3's. Read top to bottom in :meth:`DAC.critic_loss`:

1. a minibatch of ``batch_size`` replay rows and ``expert_batch_size`` demo rows (expert rows in
   the Q batch, as in SQIL and DQfD, let the value of expert-like states propagate from the first
   update; 0 gives DAC's learner-only batches);
2. rewards of all rows from one discriminator pass (the reward form of ``gail/rewards/reward.py``)
   plus the absorbing tail on terminating rows, times ``reward_scale``;
3. DQN: double-DQN targets, Huber TD loss, plus DQfD's large-margin loss on the expert rows
   (``margin_weight``: the Q-learner's form of BC); SAC: soft Bellman targets from the target
   critics and a squared error on both critics, as in SB3's SAC.

The discriminator takes ``disc_updates`` core steps (``discriminator_step``) every ``disc_every``
agent steps, with the absorbing state weighted by each side's share (the prior as a rate,
:meth:`DAC.absorbing_shares`). Settings: the discriminator's and the run's are ``GAILConfig``'s
(:data:`DAC_READS`), the learner's :class:`DACLearnerConfig`'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.type_aliases import TrainFrequencyUnit
from stable_baselines3.common.vec_env import VecEnv

from genplay.errors import EnvError
from genplay.gail.algos.config import GAILConfig, replace
from genplay.gail.algos.dac_config import DACLearnerConfig, check_learner_fields, dac_run_meta
from genplay.gail.data.demos import Demos
from genplay.gail.data.store import TransitionStore
from genplay.gail.learners.learner import ProgressBar
from genplay.gail.learners.off_policy import Batch, OffPolicyConfig, OffPolicyImitation
from genplay.gail.learners.off_policy_config import OFF_POLICY_RULES
from genplay.gail.rewards.discriminator import (
    TransitionDiscriminator,
    optimiser_and_step,
    update_discriminator,
    with_absorbing_row,
)
from genplay.gail.rewards.reward import absorbing_mass, absorbing_share, absorbing_tail_weight, step_rewards
from genplay.generative.core import seeded
from genplay.settings import Int

DAC_READS: frozenset[str] = frozenset(
    {
        *("n_envs", "seed", "checkpoint_every", "torch_threads", "device"),  # the run
        *("reward_form", "reward_clip", "absorbing", "absorbing_lr_scale", "absorbing_prior"),  # the reward
        *("use_next_obs", "disc_use_action", "disc_hidden", "disc_activation", "disc_cnn_features"),  # the disc
        *("disc_hide_top_rows", "disc_spectral_norm", "disc_loss", "disc_penalty", "disc_penalty_weight"),
        *("disc_lr", "disc_batch_size", "disc_updates", "obs_norm", "normalize_policy_obs"),
    }
)
"""The :class:`GAILConfig` fields DAC reads. Every other field (``ppo``, ``bc_*``, ``scale_rewards``,
``disc_replay_rollouts``, the board-game ones, and any field added later) belongs to the on-policy
trainer, so a command line refuses it for DAC rather than ignoring it; the learner's settings are
:class:`DACLearnerConfig`'s."""


@dataclass(frozen=True)
class LearnerSettings(OffPolicyConfig):
    """The shared learner's settings as DAC derives them (:func:`learner_settings`; never a flag)."""


LearnerSettings.RULES = {
    **OFF_POLICY_RULES,
    "expert_batch_size": Int(0, 65_536),  # 0: DAC's learner-only batches
}


def learner_settings(config: GAILConfig, dqn: DACLearnerConfig, discrete: bool) -> LearnerSettings:
    """The off-policy learner's settings from DAC's two configs: the run's from ``config``, the rest from
    ``dqn`` (DQN: epsilon-greedy and a whole target copy every ``target_update_interval`` agent steps;
    SAC: a tuned temperature and a Polyak target update every Q step)."""
    return LearnerSettings(
        n_envs=config.run.n_envs,
        seed=config.run.seed,
        device=config.run.device,
        torch_threads=config.run.torch_threads,
        checkpoint_every=config.run.checkpoint_every,
        buffer_size=dqn.buffer_size,  # all envs together, as OffPolicyConfig's
        learning_starts=dqn.learning_starts,
        batch_size=dqn.batch_size,
        expert_batch_size=dqn.expert_batch_size,
        learning_rate=dqn.learning_rate,
        gamma=dqn.gamma,
        train_freq=dqn.train_freq,
        gradient_steps=dqn.gradient_steps,
        target_update_interval=dqn.target_update_interval if discrete else 1,
        tau=1.0 if discrete else dqn.tau,
        temperature=dqn.ent_coef,
        learn_temperature=True,
        exploration="epsilon",
        exploration_fraction=dqn.exploration_fraction,
        exploration_initial_eps=dqn.exploration_initial_eps,
        exploration_final_eps=dqn.exploration_final_eps,
        max_grad_norm=dqn.max_grad_norm,
        net_arch=dqn.net_arch,
        centre_frames=config.normalize_policy_obs,
    )


class DAC(OffPolicyImitation):
    """Discriminator-Actor-Critic imitation, SB3-style: ``DAC(venv=..., demos=..., config=..., dqn=...).learn(n)``.

    Args:
        venv: the learner's vector env (Discrete actions: DQN; Box actions: SAC); true rewards are ignored.
        demos: expert demonstrations matching ``venv``'s spaces (no action masks).
        config: the discriminator, its reward and the run (``GAILConfig``'s :data:`DAC_READS` fields).
        dqn: the learner's settings.
        log_dir: where TensorBoard and CSV logs go (None: no files).
    """

    title, log_key = "DAC", "dac"
    config_class = GAILConfig
    config: GAILConfig

    def __init__(
        self,
        *,
        venv: VecEnv,
        demos: Demos,
        config: GAILConfig = GAILConfig(),
        dqn: DACLearnerConfig = DACLearnerConfig(),
        log_dir: str | None = None,
    ) -> None:
        if config.run.n_envs != venv.num_envs:  # the stored config says what ran (resume rebuilds it)
            config = replace(config, n_envs=venv.num_envs)
        if demos.action_masks is not None:  # the first reason a board game cannot train here (before its spaces)
            raise EnvError("DAC cannot respect action masks; train masked games with GAIL (MaskablePPO)")
        discrete = isinstance(venv.action_space, spaces.Discrete)
        check_learner_fields(dqn, discrete)
        self._learner = learner_settings(config, dqn, discrete)
        super().__init__(venv=venv, demos=demos, config=self._learner, log_dir=log_dir)
        self.config, self.dqn_config = config, dqn
        with seeded(config.run.seed):  # weights from the seed alone; the caller's RNG untouched
            self.disc = TransitionDiscriminator.from_config(venv.observation_space, venv.action_space, config)
            self.disc = self.disc.to(self.device)
            self.disc_opt, self.step_config = optimiser_and_step(self.disc, config)
        if config.reward.obs_norm == "demos":
            self.disc.fit_scaling(self.expert)
        self.expert_absorbing = self._absorbing_mass(int(demos.terminated.sum()))
        self.last_disc_update = -dqn.disc_every  # the first update comes with the first Q step
        self.disc_stats: dict[str, float] = {}

    @property
    def learner_config(self) -> OffPolicyConfig:
        return self._learner

    @property
    def gamma(self) -> float:
        return float(self.dqn_config.gamma)

    # ------------------------------------------------------------------ the reward
    def disc_features(self, obs: np.ndarray, acts: np.ndarray, next_obs: np.ndarray) -> torch.Tensor:
        """The discriminator's input rows of transitions given as arrays in the learner's units (SAC's
        actions are unscaled back to the env's, which the discriminator maps to [-1, 1] itself)."""
        n = len(obs)
        if not self.discrete:
            acts = self.algo.policy.unscale_action(np.asarray(acts))
        store = TransitionStore(np.concatenate([obs, next_obs]), np.arange(n), np.asarray(acts), np.arange(n) + n)
        return self.disc.features(store, np.arange(n))

    @torch.no_grad()
    def rewards(self, features: torch.Tensor, terminated: torch.Tensor) -> torch.Tensor:
        """DAC's reward of sampled rows: the current discriminator's, plus the absorbing tail on
        terminated rows (``terminated``: 1.0 / 0.0), times ``reward_scale``."""
        cfg = self.config
        r = step_rewards(self.disc(features), cfg.reward.reward_form, cfg.reward.reward_clip)
        if cfg.reward.absorbing:
            r_a = step_rewards(self.disc.absorbing_logit, cfg.reward.reward_form, cfg.reward.reward_clip)
            r = r + terminated.to(r.dtype) * absorbing_tail_weight(self.gamma) * r_a
        return r * self.dqn_config.reward_scale

    def batch_rewards(self, batch: Batch) -> torch.Tensor:
        """:meth:`rewards` of a learner minibatch (its tensors read back as arrays: no copy on the CPU)."""
        obs, acts, next_obs = (t.cpu().numpy() for t in (batch.obs, batch.acts, batch.next_obs))
        return self.rewards(self.disc_features(obs, acts, next_obs), batch.terminated)

    def absorbing_shares(self) -> tuple[float, float]:
        """The absorbing state's share of the expert's rows and of the replay buffer's. The prior
        (``absorbing_prior`` terminations) is a rate, per demo set's worth of rows on both sides: as a
        count per side, a buffer 10x the demos gave a learner that stopped falling a 10x smaller share
        than a never-terminating expert's (CartPole), so a fall paid ``log(10) * gamma / (1 - gamma)``."""
        rb = self.algo.replay_buffer  # a CountingReplayBuffer: terminations (not timeouts) counted as written
        n_live, n_expert = rb.n_rows() * rb.n_envs, len(self.expert)
        if not self.config.reward.absorbing:
            return absorbing_share(n_expert, self.expert_absorbing), 0.0
        prior = self.config.reward.absorbing_prior * n_live / n_expert
        gen_mass = absorbing_mass(float(rb.n_terminated()), self.gamma, prior)
        return absorbing_share(n_expert, self.expert_absorbing), absorbing_share(n_live, gen_mass)

    def train_discriminator(self) -> dict[str, float]:
        """``disc_updates`` core steps: expert rows against replayed learner rows, absorbing state weighted."""
        n = self.config.reward.disc_batch_size
        expert_share, gen_share = self.absorbing_shares()

        def draw():
            real, real_w = with_absorbing_row(self.disc, self.disc_features(*self.expert_rows(n)[:3]), expert_share)
            fake, fake_w = with_absorbing_row(self.disc, self.disc_features(*self.replay_rows(n)[:3]), gen_share)
            return real, real_w, fake, fake_w

        stats = update_discriminator(
            self.disc, self.disc_opt, self.step_config, self.config.reward.disc_updates, draw, n
        )
        stats["disc_loss"] = stats.pop("loss")  # DAC's logs name it so (its learner has a loss too)
        return stats

    # ------------------------------------------------------------------ the learner's loss
    def critic_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The Q (DQN) or critics' (SAC) loss on DAC's relabelled rewards (module docstring)."""
        rewards = self.batch_rewards(batch)
        loss, stats = self._dqn_loss(batch, rewards) if self.discrete else self._sac_loss(batch, rewards)
        if not self.want_stats:
            return loss, {}
        e = batch.expert
        stats["reward_expert"] = float(rewards[e].mean()) if bool(e.any()) else float("nan")
        stats["reward_learner"] = float(rewards[~e].mean()) if bool((~e).any()) else float("nan")
        return loss, stats

    def _dqn_loss(self, batch: Batch, rewards: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        cfg, algo = self.dqn_config, self.algo
        with torch.no_grad():  # double DQN: the online net picks, the target net values
            best = algo.q_net(batch.next_obs).argmax(dim=1, keepdim=True)
            next_q = algo.q_net_target(batch.next_obs).gather(1, best).squeeze(1)
            target = rewards + (1.0 - batch.terminated) * self.gamma * next_q
        q = algo.q_net(batch.obs)
        q_taken = q.gather(1, batch.acts[:, None]).squeeze(1)
        td = F.smooth_l1_loss(q_taken, target)
        loss, margin_loss = td, torch.zeros((), device=self.device)
        if cfg.margin_weight > 0 and cfg.expert_batch_size:
            q_e, a_e = q[batch.expert], batch.acts[batch.expert]
            margins = torch.full_like(q_e, cfg.margin).scatter(1, a_e[:, None], 0.0)
            margin_loss = ((q_e + margins).max(dim=1).values - q_e.gather(1, a_e[:, None]).squeeze(1)).mean()
            loss = loss + cfg.margin_weight * margin_loss
        if not self.want_stats:
            return loss, {}
        return loss, {"td_loss": td.item(), "margin_loss": margin_loss.item(), "q_mean": float(q_taken.detach().mean())}

    def _sac_loss(self, batch: Batch, rewards: torch.Tensor) -> tuple[torch.Tensor, dict[str, float]]:
        with torch.no_grad():
            next_v = self.sac_value(batch.next_obs, target=True)
            target = rewards + (1.0 - batch.terminated) * self.gamma * next_v
        qs = self.sac_q(batch.obs, batch.acts)
        loss = 0.5 * sum(F.mse_loss(q, target) for q in qs)
        if not self.want_stats:
            return loss, {}
        return loss, {"td_loss": float(loss.detach()), "q_mean": float(qs[0].detach().mean())}

    def update(self, gradient_steps: int) -> None:
        """SB3's ``train`` hook: the discriminator when due, then the learner's ``gradient_steps`` updates;
        the latest discriminator figures join each history row."""
        if self.num_timesteps - self.last_disc_update >= self.dqn_config.disc_every:
            self.disc_stats = self.train_discriminator()
            self.last_disc_update = self.num_timesteps
        rows = len(self.history)
        super().update(gradient_steps)
        if len(self.history) > rows:
            for key, value in self.disc_stats.items():
                self.algo.logger.record(f"{self.log_key}/{key}", value)
            self.history[-1].update(self.disc_stats)

    # ------------------------------------------------------------------ SB3's small API
    def learn(
        self,
        total_timesteps: int,
        *,
        callback: BaseCallback | None = None,
        progress_bar: bool = False,
        checkpoint_path: str | Path | None = None,
    ) -> DAC:
        """Train until the learner has taken ``total_timesteps`` env steps in all (continues from
        ``num_timesteps``); with ``checkpoint_path`` the whole trainer (replay buffer included) is saved
        there atomically every ``config.run.checkpoint_every`` steps and at the end."""
        self._start_run()  # the shared learner's ``learn`` checks total_timesteps
        extra = [callback] if callback is not None else []
        if progress_bar:
            extra.append(_ProgressBar(self, self.planned_end(total_timesteps)))
        super().learn(total_timesteps, callback=CallbackList(extra) if extra else None, checkpoint_path=checkpoint_path)
        return self

    def planned_end(self, total_timesteps: int) -> int:
        """Where ``learn(total_timesteps)`` stops (the progress bar's total): SB3 steps every env
        ``train_freq`` times between checks, so the count goes up in ``train_freq x n_envs`` chunks."""
        freq = self.algo.train_freq
        chunk = freq.frequency * self.algo.n_envs if freq.unit == TrainFrequencyUnit.STEP else 1
        remaining = total_timesteps - self.num_timesteps
        return self.num_timesteps + max(0, -(-remaining // chunk)) * chunk

    def save(self, path: str | Path) -> None:
        """Save as the run directory ``train --algo dac --out`` writes, plus ``demos.npz``
        (``run_files.save_run_dir``); a path ending in ``.pt`` gets the checkpoint alone."""
        if Path(path).suffix == ".pt":
            self.save_checkpoint(path)
            return
        from genplay.gail.saving.run_files import save_run_dir

        save_run_dir(self, path, dac_run_meta(self.demos.env_factory, self.config, self.dqn_config), self.title)

    @classmethod
    def load(  # type: ignore[override]
        cls,
        path: str | Path,
        *,
        venv: VecEnv,
        demos: Demos,
        log_dir: str | None = None,
        settings: tuple[GAILConfig, DACLearnerConfig] | None = None,
        state: dict | None = None,
    ) -> DAC:
        """Rebuild a trainer saved by :meth:`save` (a run directory or a checkpoint file), ready to learn
        further (``settings``: a ``(config, dqn)`` pair to use instead of the stored one, where the stored
        state fits it; ``state``: the file's contents when the caller has already read them)."""
        from genplay.gail.saving.off_policy_checkpoint import load_off_policy

        path = Path(path) / "checkpoint.pt" if Path(path).is_dir() else Path(path)
        return load_off_policy(cls, path, venv=venv, demos=demos, config=settings, log_dir=log_dir, state=state)

    # ------------------------------------------------------------------ checkpoint hooks
    def settings(self) -> tuple[GAILConfig, DACLearnerConfig]:
        """What the checkpoint stores as the run's settings (and ``load`` rebuilds from)."""
        return self.config, self.dqn_config

    @classmethod
    def from_settings(
        cls, settings: tuple[GAILConfig, DACLearnerConfig], *, venv: VecEnv, demos: Demos, log_dir: str | None
    ) -> DAC:
        config, dqn = settings
        return cls(venv=venv, demos=demos, config=config, dqn=dqn, log_dir=log_dir)

    def reward_state(self) -> dict[str, Any]:
        """The discriminator, its optimiser and its clock (the checkpoint's ``reward`` entry)."""
        return {
            "disc": self.disc.state_dict(),
            "disc_opt": self.disc_opt.state_dict(),
            "last_disc_update": int(self.last_disc_update),
        }

    def load_reward_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`reward_state`'s entries (errors propagate to the checkpoint's one message)."""
        from genplay.gail.saving.sb3_io import counter

        self.disc.load_state_dict(state["disc"])
        self.disc_opt.load_state_dict(state["disc_opt"])
        last = state["last_disc_update"]  # negative: saved before the first update (the constructor's value)
        if not (isinstance(last, int) and not isinstance(last, bool) and last < 0):
            self.last_disc_update = counter(last, "reward.last_disc_update")


class _ProgressBar(ProgressBar):
    """The family's bar (total: where training stops) showing DAC's latest discriminator and return figures."""

    def __init__(self, trainer: DAC, total: int) -> None:
        super().__init__(total)
        self.trainer = trainer

    def _on_rollout_end(self) -> None:
        last = self.trainer.history[-1] if self.trainer.history else {}
        nan = float("nan")
        self.bar.set_postfix(
            ret=f"{last.get('true_return', nan):.1f}",
            acc_e=f"{last.get('accuracy_expert', nan):.2f}",
            acc_g=f"{last.get('accuracy_generator', nan):.2f}",
            refresh=False,
        )
