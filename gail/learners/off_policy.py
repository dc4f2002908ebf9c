"""The off-policy learner SQIL and IQ-Learn share: SB3's DQN or SAC whose ``train`` is the algorithm's.

Both algorithms are a loss on minibatches that mix expert rows (from the demos) with the
learner's own rows (from SB3's replay buffer); everything else is SB3's: rollouts, the
replay buffer, the target network and its updates, the epsilon schedule, SAC's actor and
entropy temperature. :class:`OffPolicyImitation` owns that plumbing, top to bottom:

1. the learner, :class:`ImitationDQN` (discrete actions, a soft-Q network: V(s) = alpha *
   logsumexp(Q(s, .) / alpha), acting by Boltzmann sampling or epsilon-greedy) or
   :class:`ImitationSAC` (continuous actions), each with ``train`` delegated to
   :meth:`OffPolicyImitation.update`;
2. :meth:`OffPolicyImitation.batch`: ``batch_size`` replay rows and ``expert_batch_size`` demo
   rows with their next observations (``TransitionStore``: a demo episode's last row points
   at its real final observation) and whether each *terminated*. SB3's plain replay buffer
   keeps every next observation and the time-limit flag, so a truncated row is bootstrapped
   from its real final observation and only a termination ends the return (the memory-optimised
   buffer would give it the next episode's reset frame). Frames stay uint8 until the minibatch;
3. the subclass's ``critic_loss`` (the algorithm), then the optimiser step; for SAC, SAC's actor
   and temperature steps and the Polyak target update follow, as in SB3's own ``train``.

Small networks make this loop's Python overhead, not its arithmetic, the cost, so each update
does only what it must: demo rows are gathered into flat arrays once, SQIL's absorbing reward
reads a running count of terminations (``replay.CountingReplayBuffer``), optimisers are fused,
target updates are one foreach op, and figures are read from tensors only where a history row
is due. The presets (``algos/off_policy_presets.py``) collect from several envs per update.

The config and the batch live in ``off_policy_config.py``, the SB3 subclasses in
``off_policy_sb3.py``. Checkpoints (weights, optimisers, the replay buffer, counters) are one
``state_io`` file, never pickled; ``policy.zip`` is SB3's own DQN / SAC zip.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.vec_env import VecEnv

from genplay.errors import EnvError
from genplay.gail.data.demos import Demos, check_demos_match_spaces
from genplay.gail.data.store import TransitionStore
from genplay.gail.learners.learner import PeriodicCheckpoint, ProgressBar, SB3Learner
from genplay.gail.learners.off_policy_config import Batch, OffPolicyConfig
from genplay.gail.learners.off_policy_sb3 import ImitationDQN, ImitationSAC, lerp_targets
from genplay.gail.learners.replay import CountingReplayBuffer
from genplay.gail.rewards.features import CenteredNatureCNN, DemoScaling, to_flat
from genplay.generative.core import select_device
from genplay.generative.core.checks import check_finite

HISTORY_EVERY = 1_000
"""Agent steps between history rows (the learning curve; the first update always adds one)."""
EXPERT_CACHE_BYTES = 256 * 2**20
"""Demo observations up to this size are gathered once into flat arrays (next observations included);
larger ones (long pixel demos) are read from the compact ``TransitionStore`` on every batch."""


class OffPolicyImitation(SB3Learner):
    """Base of SQIL and IQ-Learn: subclasses set ``title`` and implement :meth:`critic_loss`.

    Args:
        venv: the learner's vector env (Discrete actions: soft-Q DQN; Box actions: SAC); its rewards are ignored.
        demos: expert demonstrations matching ``venv``'s spaces (no action masks).
        config: the algorithm's config (an :class:`OffPolicyConfig` subclass).
        log_dir: where TensorBoard and CSV logs go (None: no files).
    """

    title = "off-policy imitation"

    def __init__(self, *, venv: VecEnv, demos: Demos, config: OffPolicyConfig, log_dir: str | None = None) -> None:
        if not isinstance(venv.action_space, (spaces.Discrete, spaces.Box)):
            raise EnvError(f"{self.title} needs Discrete or Box actions, got {venv.action_space}")
        if not isinstance(venv.observation_space, spaces.Box):
            raise EnvError(f"{self.title} needs Box observations (vectors or images), got {venv.observation_space}")
        check_demos_match_spaces(demos, venv.observation_space, venv.action_space, target=f"the {self.title} venv")
        if demos.action_masks is not None:
            raise EnvError(f"{self.title} cannot respect action masks; train masked games with GAIL (MaskablePPO)")
        if config.n_envs != venv.num_envs:  # the stored config says what ran (resume rebuilds it)
            config = dataclasses.replace(config, n_envs=venv.num_envs)
        self.config, self.demos = config, demos
        self.discrete = isinstance(venv.action_space, spaces.Discrete)
        self.device = select_device(config.device)
        self.rng = np.random.default_rng(config.seed)
        self.expert = TransitionStore.from_episodes(demos.obs, demos.acts, demos.episode_lengths, with_next=True)
        self.expert_terminal = np.zeros(len(self.expert), dtype=np.float32)
        self.expert_terminal[(np.cumsum(demos.episode_lengths) - 1)[demos.terminated]] = 1.0
        image = is_image_space(venv.observation_space)
        kwargs: dict[str, Any] = dict(
            learning_rate=config.learning_rate,
            buffer_size=config.buffer_size,  # all envs together: SB3's ReplayBuffer divides by n_envs
            learning_starts=config.learning_starts,
            batch_size=config.batch_size,
            tau=config.tau,
            gamma=config.gamma,
            train_freq=(config.train_freq, "step"),
            gradient_steps=config.gradient_steps,
            target_update_interval=config.target_update_interval,
            policy_kwargs={"net_arch": list(config.net_arch)} if config.net_arch or image else {},
            replay_buffer_class=CountingReplayBuffer,
            seed=config.seed,
            device=self.device,
            verbose=0,
        )
        kwargs["policy_kwargs"]["optimizer_kwargs"] = {"fused": True}  # one kernel per step, not one per tensor
        if image and config.centre_frames:
            kwargs["policy_kwargs"].update(features_extractor_class=CenteredNatureCNN, normalize_images=False)
        policy = "CnnPolicy" if image else "MlpPolicy"
        with torch.random.fork_rng(devices=[]):  # SB3 seeds torch's global RNG; keep the caller's
            if self.discrete:
                eps = config.exploration == "epsilon"
                self.algo: BaseAlgorithm = ImitationDQN(
                    policy,
                    venv,
                    exploration_fraction=config.exploration_fraction,
                    exploration_initial_eps=config.exploration_initial_eps if eps else 0.0,
                    exploration_final_eps=config.exploration_final_eps if eps else 0.0,
                    max_grad_norm=config.max_grad_norm,
                    **kwargs,
                )
            else:
                auto = f"auto_{config.temperature}" if config.learn_temperature else config.temperature
                kwargs["policy_kwargs"]["n_critics"] = config.n_critics
                self.algo = ImitationSAC(policy, venv, ent_coef=auto, **kwargs)
            self.algo.trainer = self
        if image and config.centre_frames:
            self._centre_frames(self._frame_scaling(venv.observation_space))
        self._cache_expert_rows()
        self.want_stats = True  # update() asks for figures only where a history row is due
        self.history: list[dict[str, float]] = []
        self._log_to(log_dir)

    @property
    def sb3_algorithm(self) -> BaseAlgorithm:
        return self.algo

    @property
    def learner_config(self) -> OffPolicyConfig:
        """The learner's settings: the algorithm's config (DAC derives them from its own two configs)."""
        return self.config

    @property
    def run_config(self) -> OffPolicyConfig:
        """The run's settings (seed, threads, checkpoints) are the learner's own fields."""
        return self.learner_config

    def _frame_scaling(self, space: spaces.Box) -> DemoScaling:
        scaling, store = DemoScaling(space), self.expert
        rows = [store.obs_idx[i : i + 1024] for i in range(0, len(store), 1024)]
        scaling.fit(to_flat(space, store.take_obs(r), torch.device("cpu")) for r in rows)
        return scaling

    # ------------------------------------------------------------------ batches
    def _tensor(self, array: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array), device=self.device, dtype=dtype)

    def _cache_expert_rows(self) -> None:
        """Demo actions in the learner's units, and (when small) observations and next observations as
        flat arrays, so a batch indexes them directly."""
        e = self.expert
        acts = e.acts
        if not self.discrete:
            acts = np.clip(self.algo.policy.scale_action(acts.reshape(len(acts), -1)), -1.0, 1.0)
        self._expert_acts = acts.astype(np.int64 if self.discrete else np.float32, copy=False)
        dtype = self.algo.replay_buffer.observations.dtype
        obs_bytes = 2 * len(e) * int(np.prod(self.algo.observation_space.shape)) * np.dtype(dtype).itemsize
        self._expert_obs = self._expert_next = None
        if obs_bytes <= EXPERT_CACHE_BYTES:
            self._expert_obs = np.asarray(e.take_obs(e.obs_idx)).astype(dtype, copy=False)
            self._expert_next = np.asarray(e.take_obs(e.next_idx)).astype(dtype, copy=False)

    def expert_rows(self, n: int) -> tuple[np.ndarray, ...]:
        """``n`` demo transitions: ``obs, acts, next_obs, terminated`` as numpy (actions in the learner's units)."""
        idx, e = self.rng.integers(len(self.expert), size=n), self.expert
        if self._expert_obs is not None:
            obs, next_obs = self._expert_obs[idx], self._expert_next[idx]
        else:
            obs, next_obs = np.asarray(e.take_obs(e.obs_idx[idx])), np.asarray(e.take_obs(e.next_idx[idx]))
        return obs, self._expert_acts[idx], next_obs, self.expert_terminal[idx]

    def replay_rows(self, n: int) -> tuple[np.ndarray, ...]:
        """``n`` learner transitions from SB3's replay buffer, laid out like :meth:`expert_rows`
        (terminated: episode ends that were not time-limit truncations)."""
        rb = self.algo.replay_buffer
        upper = rb.buffer_size if rb.full else rb.pos
        idx, env = self.rng.integers(upper, size=n), self.rng.integers(rb.n_envs, size=n)
        acts = rb.actions[idx, env]
        acts = acts.reshape(n).astype(np.int64) if self.discrete else acts.reshape(n, -1).astype(np.float32)
        terminated = rb.dones[idx, env] * (1.0 - rb.timeouts[idx, env])
        return rb.observations[idx, env], acts, rb.next_obs(idx, env), terminated.astype(np.float32)

    def batch(self, n_agent: int | None = None, n_expert: int | None = None) -> Batch:
        """A :class:`Batch` of ``n_agent`` replay rows then ``n_expert`` demo rows (config sizes by default)."""
        n_agent = self.learner_config.batch_size if n_agent is None else n_agent
        n_expert = self.learner_config.expert_batch_size if n_expert is None else n_expert
        parts = ([self.replay_rows(n_agent)] if n_agent else []) + [self.expert_rows(n_expert)]
        obs, acts, next_obs, term = (np.concatenate([p[i] for p in parts]) for i in range(4))
        key = (n_agent, n_expert)
        if getattr(self, "_expert_mask", (None, None))[0] != key:  # the same layout every update: build it once
            self._expert_mask = (key, self._tensor(np.r_[np.zeros(n_agent, bool), np.ones(n_expert, bool)]))
        dtype = self.algo.replay_buffer.observations.dtype
        return Batch(
            self._tensor(obs.astype(dtype, copy=False)),
            self._tensor(acts),
            self._tensor(next_obs.astype(dtype, copy=False)),
            self._tensor(term),
            self._expert_mask[1],
        )

    # ------------------------------------------------------------------ values
    def q_values(self, obs: torch.Tensor, target: bool = False) -> torch.Tensor:
        """Discrete: ``(B, n_actions)`` Q-values of the online (or target) network."""
        return (self.algo.q_net_target if target else self.algo.q_net)(obs)

    def soft_value(self, q: torch.Tensor) -> torch.Tensor:
        """Discrete soft value V = alpha * logsumexp(Q / alpha) over actions (the softmax policy's value)."""
        alpha = self.learner_config.temperature
        return alpha * torch.logsumexp(q / alpha, dim=1)

    def sac_q(self, obs: torch.Tensor, acts: torch.Tensor, target: bool = False) -> tuple[torch.Tensor, ...]:
        """SAC: each critic's Q(s, a) as ``(B,)`` tensors (the target critics when ``target``)."""
        critic = self.algo.critic_target if target else self.algo.critic
        return tuple(q.squeeze(1) for q in critic(obs, acts))

    def sac_value(self, obs: torch.Tensor, target: bool = False) -> torch.Tensor:
        """SAC soft value V(s) = min_i Q_i(s, a) - alpha log pi(a|s), a ~ pi (one sample; the actor held fixed)."""
        with torch.no_grad():
            acts, log_prob = self.algo.actor.action_log_prob(obs)
        q = torch.stack(self.sac_q(obs, acts, target), dim=0).min(dim=0).values
        return q - self.ent_coef() * log_prob.reshape(-1)

    def ent_coef(self) -> torch.Tensor:
        algo = self.algo
        return torch.exp(algo.log_ent_coef.detach()) if algo.ent_coef_optimizer is not None else algo.ent_coef_tensor

    # ------------------------------------------------------------------ updates
    def critic_loss(self, batch: Batch) -> tuple[torch.Tensor, dict[str, float]]:
        """The algorithm: a loss on the Q-network (discrete) or on the critics (SAC), and its figures."""
        raise NotImplementedError

    def update(self, gradient_steps: int) -> None:
        """SB3's ``train`` hook: ``gradient_steps`` updates; where a history row is due (every
        ``HISTORY_EVERY`` agent steps) the last update's figures go to it and to the log. Figures are
        read from tensors only then: turning them into floats on every update cost more than the update."""
        algo = self.algo
        due = not self.history or self.num_timesteps - self.history[-1]["timesteps"] >= HISTORY_EVERY
        for step in range(gradient_steps):
            self.want_stats = due and step == gradient_steps - 1
            stats = self._discrete_step() if self.discrete else self._sac_step(algo._n_updates + step)
        self.want_stats = True
        algo._n_updates += gradient_steps
        algo.logger.record("train/n_updates", algo._n_updates, exclude="tensorboard")
        if not due:
            return
        returns = [ep["r"] for ep in algo.ep_info_buffer]
        if returns:
            stats["true_return"] = float(np.mean(returns))
        for key, value in stats.items():
            algo.logger.record(f"{self.log_key}/{key}", value)
        self.history.append({"timesteps": self.num_timesteps, **stats})

    log_key = "imitation"

    def _discrete_step(self) -> dict[str, float]:
        algo = self.algo
        loss, stats = self.critic_loss(self.batch())
        check_finite(algo._n_updates, {"q_loss": loss})
        algo.policy.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if not hasattr(self, "_q_params"):
            self._q_params = list(algo.policy.parameters())
        torch.nn.utils.clip_grad_norm_(self._q_params, self.learner_config.max_grad_norm, foreach=True)
        algo.policy.optimizer.step()
        return stats

    def _sac_step(self, n_update: int) -> dict[str, float]:
        """One SAC update with the algorithm's critic loss; the actor and temperature steps are SAC's."""
        algo, batch = self.algo, self.batch()
        loss, stats = self.critic_loss(batch)
        check_finite(n_update, {"critic_loss": loss})
        algo.critic.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        algo.critic.optimizer.step()
        acts_pi, log_prob = algo.actor.action_log_prob(batch.obs)
        log_prob = log_prob.reshape(-1, 1)
        if algo.ent_coef_optimizer is not None:
            ent_loss = -(algo.log_ent_coef * (log_prob + algo.target_entropy).detach()).mean()
            algo.ent_coef_optimizer.zero_grad()
            ent_loss.backward()
            algo.ent_coef_optimizer.step()
        ent_coef = self.ent_coef()
        q_pi = torch.cat(algo.critic(batch.obs, acts_pi), dim=1).min(dim=1, keepdim=True).values
        actor_loss = (ent_coef * log_prob - q_pi).mean()
        check_finite(n_update, {"actor_loss": actor_loss})
        algo.actor.optimizer.zero_grad(set_to_none=True)
        actor_loss.backward()
        algo.actor.optimizer.step()
        if n_update % self.learner_config.target_update_interval == 0:
            if not hasattr(self, "_critic_pairs"):
                src, dst = algo.critic.parameters(), algo.critic_target.parameters()
                self._critic_pairs = ([p.data for p in src], [p.data for p in dst])
            lerp_targets(*self._critic_pairs, self.learner_config.tau)
            for stat, target in zip(algo.batch_norm_stats, algo.batch_norm_stats_target, strict=True):
                target.copy_(stat)
        if not self.want_stats:
            return stats
        return {**stats, "actor_loss": float(actor_loss.detach()), "ent_coef": float(ent_coef)}

    # ------------------------------------------------------------------ SB3's small API
    def learn(
        self,
        total_timesteps: int,
        *,
        callback: BaseCallback | None = None,
        progress_bar: bool = False,
        checkpoint_path: str | Path | None = None,
    ) -> OffPolicyImitation:
        """Train until the learner has taken ``total_timesteps`` env steps in all (continues from
        ``num_timesteps``); with ``checkpoint_path`` the whole trainer is saved there every
        ``checkpoint_every`` steps and at the end."""
        if total_timesteps <= 0:
            raise ValueError(f"total_timesteps must be > 0, got {total_timesteps}")
        remaining = total_timesteps - self.num_timesteps
        if remaining > 0:
            callbacks: list[BaseCallback] = [PeriodicCheckpoint(self, checkpoint_path)]
            callbacks += [callback] if callback is not None else []
            callbacks += [ProgressBar(total_timesteps)] if progress_bar else []
            self.algo.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=False)
        if checkpoint_path is not None:
            self.save_checkpoint(checkpoint_path)
        return self

    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True, action_masks=None):
        """Actions for raw observations (greedy / the actor's mean when deterministic); masks are not used."""
        return self.algo.predict(obs, state, episode_start, deterministic)

    def save_checkpoint(self, path: str | Path) -> None:
        """The whole trainer (weights, optimisers, replay buffer, counters) in one safe file, atomically."""
        from genplay.gail.saving.off_policy_checkpoint import save_off_policy

        save_off_policy(self, path)

    def save(self, path: str | Path) -> None:
        """A run directory as ``genplay train --algo ... --out`` writes it; a ``.pt`` path: the checkpoint alone."""
        if Path(path).suffix == ".pt":
            self.save_checkpoint(path)
            return
        from genplay.gail.saving.run_files import save_run_dir

        save_run_dir(self, path, run_meta(self.log_key, self.demos, self.config), self.title)

    @classmethod
    def load(
        cls, path: str | Path, *, venv: VecEnv, demos: Demos, config: Any = None, log_dir: str | None = None
    ) -> OffPolicyImitation:
        """Rebuild a trainer saved by :meth:`save` (a run directory or checkpoint file), ready to learn
        further (``config``: settings to use instead of the stored ones, where the stored state fits)."""
        from genplay.gail.saving.off_policy_checkpoint import load_off_policy

        path = Path(path) / "checkpoint.pt" if Path(path).is_dir() else Path(path)
        return load_off_policy(cls, path, venv=venv, demos=demos, config=config, log_dir=log_dir)


def run_meta(algo: str, demos: Demos, config: OffPolicyConfig) -> dict[str, Any]:
    """``config.json`` of a run: the algorithm, the env and the settings."""
    env = demos.env_factory
    return {"algo": algo, "env_id": env.env_id, "env": env.to_dict(), **dataclasses.asdict(config)}
