"""Off-policy adversarial imitation for discrete actions: DAC's loop with SB3's DQN as the learner.

Kostrikov et al. 2019 ("Discriminator-Actor-Critic") train the discriminator on expert
rows against the learner's replay buffer and give an off-policy learner the
discriminator's reward, computed when a minibatch is *sampled* (so old transitions are
always scored by the current discriminator), with absorbing states for terminations.
Here the learner is SB3's DQN (double Q-learning, Huber loss, target network), read
top to bottom in :meth:`DAC.q_step`:

1. a minibatch of ``batch_size`` learner rows from the replay buffer and
   ``expert_batch_size`` expert rows from the demos (expert rows in the Q batch, as in
   SQIL and DQfD, let the value of expert-like states propagate from the first update;
   0 gives DAC's learner-only batches);
2. rewards of both from one discriminator pass (the reward form of ``gail/rewards/reward.py``),
   plus the absorbing tail on terminating rows, then double-DQN targets;
3. Huber TD loss on all rows, plus DQfD's large-margin loss on the expert rows
   (``margin_weight``; the Q-learner's form of BC as an auxiliary loss).

The discriminator takes ``disc_updates`` core steps every ``disc_every`` agent steps.
Pixel observations reach the Q-network centred on the mean demo frame (``CenteredNatureCNN``),
as in pixel GAIL. Why not SB3's DQN ``train`` as it is: it samples only the replay
buffer, with the rewards stored at collection time; DAC needs relabelled rewards and
expert rows, so :class:`_DACDQN` overrides ``train`` and everything else (rollouts,
epsilon schedule, target updates, the buffer) is SB3's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3 import DQN
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.type_aliases import TrainFrequencyUnit
from stable_baselines3.common.vec_env import VecEnv

from genplay.errors import EnvError
from genplay.gail.algos.config import GAILConfig
from genplay.gail.algos.dac_config import DQNConfig, dac_run_meta
from genplay.gail.data.demos import Demos, check_demos_match_spaces
from genplay.gail.data.store import TransitionStore
from genplay.gail.learners.learner import PeriodicCheckpoint, ProgressBar, SB3Learner
from genplay.gail.learners.replay import TerminationReplayBuffer
from genplay.gail.rewards.discriminator import (
    TransitionDiscriminator,
    optimiser_and_step,
    update_discriminator,
    with_absorbing_row,
)
from genplay.gail.rewards.features import CenteredNatureCNN
from genplay.gail.rewards.reward import absorbing_mass, absorbing_share, absorbing_tail_weight, step_rewards
from genplay.generative.core import seeded, select_device

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
trainer, so a command line refuses it for DAC rather than ignoring it; the Q-learner's settings are
:class:`DQNConfig`'s."""


class DAC(SB3Learner):
    """Discriminator-Actor-Critic imitation with a DQN learner, SB3-style: ``DAC(...).learn(n)``.

    Args:
        venv: the learner's vector env (SB3 ``VecEnv``, discrete actions); true rewards are ignored.
        demos: expert demonstrations matching ``venv``'s spaces.
        config: the discriminator and its reward (``GAILConfig``'s ``disc_*``, ``reward_*``,
            ``absorbing*``, ``use_next_obs``, ``seed``, ``device``, ``torch_threads`` fields).
        dqn: the Q-learner's settings.
        log_dir: where TensorBoard and CSV logs go (None: no files).
    """

    def __init__(
        self,
        *,
        venv: VecEnv,
        demos: Demos,
        config: GAILConfig = GAILConfig(),
        dqn: DQNConfig = DQNConfig(),
        log_dir: str | None = None,
    ) -> None:
        if not isinstance(venv.action_space, spaces.Discrete):
            raise EnvError(f"DAC's DQN learner needs a Discrete action space, got {venv.action_space}")
        check_demos_match_spaces(demos, venv.observation_space, venv.action_space, target="the DAC venv")
        if demos.action_masks is not None:
            raise EnvError("DAC's DQN learner cannot respect action masks; train masked games with GAIL (MaskablePPO)")
        if config.n_envs != venv.num_envs:  # the stored config says what ran (resume rebuilds it)
            config = dataclasses.replace(config, n_envs=venv.num_envs)
        self.config, self.dqn_config, self.demos = config, dqn, demos
        self.device = select_device(config.device)
        self.rng = np.random.default_rng(config.seed)

        with seeded(config.seed):  # weights from the seed alone; the caller's RNG untouched
            self.disc = TransitionDiscriminator.from_config(venv.observation_space, venv.action_space, config)
            self.disc = self.disc.to(self.device)
            self.disc_opt, self.step_config = optimiser_and_step(self.disc, config)
            # Q targets need every expert row's next observation, whatever the discriminator reads.
            self.expert = TransitionStore.from_episodes(demos.obs, demos.acts, demos.episode_lengths, with_next=True)
            ends = np.cumsum(demos.episode_lengths) - 1
            self.expert_terminal = np.zeros(len(self.expert), dtype=bool)
            self.expert_terminal[ends[demos.terminated]] = True
            if config.obs_norm == "demos":
                self.disc.fit_scaling(self.expert)
            self.expert_absorbing = self._absorbing_mass(int(demos.terminated.sum()))

            image = is_image_space(venv.observation_space)
            policy_kwargs: dict = {"net_arch": list(dqn.net_arch)}
            if image and config.normalize_policy_obs:
                policy_kwargs.update(features_extractor_class=CenteredNatureCNN, normalize_images=False)
            self.algo = _DACDQN(
                "CnnPolicy" if image else "MlpPolicy",
                venv,
                learning_rate=dqn.learning_rate,
                buffer_size=dqn.buffer_size,  # all envs together: SB3 divides by n_envs itself
                learning_starts=dqn.learning_starts,
                batch_size=dqn.batch_size,
                gamma=dqn.gamma,
                train_freq=(dqn.train_freq, "step"),
                gradient_steps=dqn.gradient_steps,
                replay_buffer_class=TerminationReplayBuffer,
                optimize_memory_usage=True,
                target_update_interval=dqn.target_update_interval,
                exploration_fraction=dqn.exploration_fraction,
                exploration_initial_eps=dqn.exploration_initial_eps,
                exploration_final_eps=dqn.exploration_final_eps,
                max_grad_norm=dqn.max_grad_norm,
                policy_kwargs=policy_kwargs,
                seed=config.seed,
                device=self.device,
                verbose=0,
            )
            self.algo.dac = self
            if image and config.normalize_policy_obs:
                self._centre_frames(self.disc.scaling)
            self.history: list[dict[str, float]] = []
            self.last_disc_update = -dqn.disc_every  # the first update comes with the first Q step
            self._log_to(log_dir)

    @property
    def sb3_algorithm(self) -> DQN:
        return self.algo

    @property
    def gamma(self) -> float:  # known before the DQN is built (the expert's absorbing mass needs it)
        return float(self.dqn_config.gamma)

    # ------------------------------------------------------------------ training
    def learn(
        self,
        total_timesteps: int,
        *,
        callback: BaseCallback | None = None,
        progress_bar: bool = False,
        checkpoint_path: str | None = None,
    ) -> DAC:
        """Train until the learner has taken ``total_timesteps`` env steps in all.

        Continues from ``num_timesteps``. With ``checkpoint_path``, the whole trainer (replay
        buffer included) is saved there atomically every ``config.checkpoint_every`` steps and at the end.
        """
        if total_timesteps <= 0:
            raise ValueError(f"total_timesteps must be > 0, got {total_timesteps}")
        self._start_run()
        remaining = total_timesteps - self.num_timesteps
        if remaining > 0:
            callbacks = [PeriodicCheckpoint(self, checkpoint_path)] + ([callback] if callback is not None else [])
            if progress_bar:
                callbacks.append(_ProgressBar(self, self.planned_end(total_timesteps)))
            self.algo.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=False)
        if checkpoint_path is not None:
            self.save_checkpoint(checkpoint_path)
        return self

    def planned_end(self, total_timesteps: int) -> int:
        """Where ``learn(total_timesteps)`` stops (the progress bar's total): SB3's DQN steps every env
        ``train_freq`` times between checks, so the count goes up in ``train_freq x n_envs`` chunks."""
        freq = self.algo.train_freq
        chunk = freq.frequency * self.algo.n_envs if freq.unit == TrainFrequencyUnit.STEP else 1
        remaining = total_timesteps - self.num_timesteps
        return self.num_timesteps + max(0, -(-remaining // chunk)) * chunk

    def replay_batch(self, n: int) -> tuple[TransitionStore, np.ndarray]:
        """``n`` learner transitions from the replay buffer as a small store (obs rows then next-obs rows,
        an ended row's next observation being its episode's real last one), and whether each terminated."""
        rb: TerminationReplayBuffer = self.algo.replay_buffer
        size = rb.buffer_size
        # optimize_memory_usage: row pos holds the newest next obs, not a transition of its own
        idx = (self.rng.integers(1, size, n) + rb.pos) % size if rb.full else self.rng.integers(0, rb.pos, n)
        env = self.rng.integers(rb.n_envs, size=n)
        obs = np.concatenate([rb.observations[idx, env], rb.next_obs(idx, env)])
        terminated = rb.dones[idx, env].astype(bool) & ~rb.timeouts[idx, env].astype(bool)
        store = TransitionStore(obs, np.arange(n), rb.actions[idx, env].reshape(n).astype(np.int64), np.arange(n) + n)
        return store, terminated

    def expert_batch(self, n: int) -> tuple[TransitionStore, np.ndarray]:
        """``n`` expert transitions, laid out like :meth:`replay_batch`."""
        idx = self.rng.integers(len(self.expert), size=n)
        e = self.expert
        obs = np.concatenate([np.asarray(e.take_obs(e.obs_idx[idx])), np.asarray(e.take_obs(e.next_idx[idx]))])
        return TransitionStore(obs, np.arange(n), e.acts[idx], np.arange(n) + n), self.expert_terminal[idx]

    @torch.no_grad()
    def rewards(self, store: TransitionStore, terminated: np.ndarray) -> torch.Tensor:
        """DAC's reward of a sampled batch: the current discriminator's, plus the absorbing tail."""
        rows = np.arange(len(store))
        r = step_rewards(self.disc(self.disc.features(store, rows)), self.config.reward_form, self.config.reward_clip)
        if self.config.absorbing:
            r_a = step_rewards(self.disc.absorbing_logit, self.config.reward_form, self.config.reward_clip)
            tail = torch.as_tensor(terminated, device=self.device, dtype=r.dtype) * absorbing_tail_weight(self.gamma)
            r = r + tail * r_a
        return r * self.dqn_config.reward_scale

    def q_step(self) -> dict[str, float]:
        """One Q-learning step on learner and expert rows with relabelled rewards (module docstring)."""
        cfg, algo = self.dqn_config, self.algo
        parts = []
        if cfg.batch_size:
            parts.append(self.replay_batch(cfg.batch_size))
        if cfg.expert_batch_size:
            parts.append(self.expert_batch(cfg.expert_batch_size))
        rewards = torch.cat([self.rewards(store, term) for store, term in parts])
        n = [len(store) for store, _ in parts]
        obs = torch.as_tensor(np.concatenate([s.obs[: len(s)] for s, _ in parts]), device=self.device)
        next_obs = torch.as_tensor(np.concatenate([s.obs[len(s) :] for s, _ in parts]), device=self.device)
        acts = torch.as_tensor(np.concatenate([s.acts for s, _ in parts]), device=self.device).long()
        done = torch.as_tensor(np.concatenate([t for _, t in parts]), device=self.device, dtype=rewards.dtype)
        with torch.no_grad():  # double DQN: the online net picks, the target net values
            best = algo.q_net(next_obs).argmax(dim=1, keepdim=True)
            next_q = algo.q_net_target(next_obs).gather(1, best).squeeze(1)
            target = rewards + (1.0 - done) * self.gamma * next_q
        q = algo.q_net(obs)
        q_taken = q.gather(1, acts[:, None]).squeeze(1)
        td = F.smooth_l1_loss(q_taken, target)
        loss, margin_loss = td, torch.zeros((), device=self.device)
        if cfg.margin_weight > 0 and cfg.expert_batch_size:
            q_e, a_e = q[-n[-1] :], acts[-n[-1] :]
            margins = torch.full_like(q_e, cfg.margin).scatter(1, a_e[:, None], 0.0)
            margin_loss = ((q_e + margins).max(dim=1).values - q_e.gather(1, a_e[:, None]).squeeze(1)).mean()
            loss = loss + cfg.margin_weight * margin_loss
        algo.policy.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(algo.policy.parameters(), cfg.max_grad_norm)
        algo.policy.optimizer.step()
        return {"td_loss": td.item(), "margin_loss": margin_loss.item(), "q_mean": float(q_taken.detach().mean())}

    def absorbing_shares(self) -> tuple[float, float]:
        """The absorbing state's share of the expert's rows and of the replay buffer's. The prior
        (``absorbing_prior`` terminations) is a rate, per demo set's worth of rows on both sides: as a
        count per side, a buffer 10x the demos gave a learner that stopped falling a 10x smaller share
        than a never-terminating expert's (CartPole), so a fall paid ``log(10) * gamma / (1 - gamma)``."""
        rb = self.algo.replay_buffer
        upper = rb.buffer_size if rb.full else rb.pos
        n_live, n_expert = upper * rb.n_envs, len(self.expert)
        terminations = float((rb.dones[:upper] * (1 - rb.timeouts[:upper])).sum())
        prior = self.config.absorbing_prior * n_live / n_expert if self.config.absorbing else 0.0
        gen_mass = absorbing_mass(terminations, self.gamma, prior) if self.config.absorbing else 0.0
        return absorbing_share(n_expert, self.expert_absorbing), absorbing_share(n_live, gen_mass)

    def train_discriminator(self) -> dict[str, float]:
        """``disc_updates`` core steps: expert rows against replayed learner rows, absorbing state weighted."""
        n = self.config.disc_batch_size
        expert_share, gen_share = self.absorbing_shares()

        def draw():
            rows = self.rng.integers(len(self.expert), size=n)
            real, real_w = with_absorbing_row(self.disc, self.disc.features(self.expert, rows), expert_share)
            fake_store, _ = self.replay_batch(n)
            fake, fake_w = with_absorbing_row(self.disc, self.disc.features(fake_store, np.arange(n)), gen_share)
            return real, real_w, fake, fake_w

        stats = update_discriminator(self.disc, self.disc_opt, self.step_config, self.config.disc_updates, draw, n)
        stats["disc_loss"] = stats.pop("loss")  # DAC's logs name it so (its Q-learner has a loss too)
        return stats

    def _train(self, gradient_steps: int) -> None:
        """SB3's ``train`` hook: the discriminator when due, then ``gradient_steps`` Q steps."""
        stats: dict[str, float] = {}
        if self.num_timesteps - self.last_disc_update >= self.dqn_config.disc_every:
            stats.update(self.train_discriminator())
            self.last_disc_update = self.num_timesteps
        for _ in range(gradient_steps):
            q_stats = self.q_step()
        if stats:
            stats.update(q_stats)
            returns = [ep["r"] for ep in self.algo.ep_info_buffer]
            if returns:
                stats["true_return"] = float(np.mean(returns))
            stats["exploration_rate"] = float(self.algo.exploration_rate)
            for key, value in stats.items():
                self.algo.logger.record(f"dac/{key}", value)
            self.history.append({"timesteps": self.num_timesteps, **stats})

    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True, action_masks=None):
        """Actions for raw observations (SB3 ``predict``: greedy, or epsilon-greedy when not deterministic).

        The same signature as every trainer's; ``action_masks`` is refused when given, since DAC trains
        only on envs without masks (its constructor refuses masked demos)."""
        if action_masks is not None:
            raise EnvError("DAC's DQN learner cannot respect action masks; train masked games with GAIL (MaskablePPO)")
        return self.algo.predict(obs, state, episode_start, deterministic)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Save as the run directory ``gail train --algo dac --out`` writes, plus ``demos.npz``
        (``run_files.save_run_dir``); a path ending in ``.pt`` gets the checkpoint alone."""
        if Path(path).suffix == ".pt":
            self.save_checkpoint(path)
        else:
            from genplay.gail.saving.run_files import save_run_dir

            save_run_dir(self, path, dac_run_meta(self.demos.env_factory, self.config, self.dqn_config), "DAC")

    def save_checkpoint(self, path: str | Path) -> None:
        """Write the whole trainer (Q-nets, optimisers, discriminator, replay buffer, RNGs) to one file, atomically."""
        from genplay.gail.saving.dac_checkpoint import save_dac

        save_dac(self, path)

    @classmethod
    def load(
        cls,
        path: str | Path,
        *,
        venv: VecEnv,
        demos: Demos,
        log_dir: str | None = None,
        settings: tuple[GAILConfig, DQNConfig] | None = None,
        state: dict | None = None,
    ) -> DAC:
        """Rebuild a trainer saved by :meth:`save` (a run directory or a checkpoint file), ready to learn
        further (``settings``: a ``(config, dqn)`` pair to use instead of the stored one, where the stored
        state fits it; ``state``: the file's contents when the caller has already read them)."""
        from genplay.gail.saving.dac_checkpoint import load_dac

        path = str(Path(path) / "checkpoint.pt") if Path(path).is_dir() else path
        return load_dac(cls, path, venv=venv, demos=demos, log_dir=log_dir, settings=settings, state=state)


class _ProgressBar(ProgressBar):
    """GAIL's bar (total: where training stops) showing DAC's latest discriminator and return figures."""

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


class _DACDQN(DQN):
    """SB3's DQN whose ``train`` is DAC's (see the module docstring); everything else is SB3's."""

    dac: DAC

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "dac"]  # SB3's zip holds the Q-learner, not the trainer around it

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self._update_learning_rate(self.policy.optimizer)
        self.dac._train(gradient_steps)
        self._n_updates += gradient_steps
        self.logger.record("train/n_updates", self._n_updates, exclude="tensorboard")
