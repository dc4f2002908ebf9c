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

Checkpoints (weights, optimisers, the replay buffer, counters) are one ``state_io`` file, never
pickled; ``policy.zip`` is SB3's own DQN / SAC zip.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import DQN, SAC
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.utils import polyak_update
from stable_baselines3.common.vec_env import VecEnv

from genplay.errors import EnvError, GenplayError
from genplay.gail.data.demos import Demos, check_demos_match_spaces
from genplay.gail.data.store import TransitionStore
from genplay.gail.learners.learner import ProgressBar, SB3Learner
from genplay.gail.rewards.features import CenteredNatureCNN, DemoScaling, to_flat
from genplay.generative.core import select_device
from genplay.generative.core.checks import check_device, check_finite, check_float, check_int

HISTORY_EVERY = 1_000
"""Agent steps between history rows (the learning curve; the first update always adds one)."""
MAX_BUFFER = 2_000_000
"""Replay rows at most (observations and next observations are both stored)."""


@dataclass(frozen=True)
class OffPolicyConfig:
    """The off-policy learner's settings (SB3's names where SB3 has them; steps are agent steps)."""

    n_envs: int = 1
    """Parallel envs collecting experience."""
    seed: int = 0
    """Seed of the envs, the networks and the minibatch draws."""
    device: str = "auto"
    """Torch device: auto, cpu or cuda."""
    torch_threads: int = 1
    """Torch intra-op threads (small nets run fastest on one)."""
    checkpoint_every: int = 10_000
    """Agent steps between checkpoints of a run directory (0: only at the end)."""
    buffer_size: int = 100_000
    """Replay capacity in transitions (all envs together)."""
    learning_starts: int = 1_000
    """Agent steps collected (uniformly random actions) before the first update."""
    batch_size: int = 64
    """Learner (replay) rows per update."""
    expert_batch_size: int = 64
    """Expert (demo) rows per update."""
    learning_rate: float = 1e-3
    """Adam step size (the Q-network; SAC: actor, critics and temperature)."""
    gamma: float = 0.99
    """Discount factor."""
    train_freq: int = 1
    """Vector-env steps between updates."""
    gradient_steps: int = 1
    """Updates per train call."""
    target_update_interval: int = 1
    """Discrete: agent steps between target-network updates; SAC: updates between them."""
    tau: float = 0.005
    """Polyak coefficient of the target update (1: hard copy)."""
    temperature: float = 0.01
    """Entropy temperature alpha: the soft-Q policy is softmax(Q / alpha); SAC's initial entropy coefficient."""
    learn_temperature: bool = True
    """SAC only: tune the temperature towards SB3's target entropy (-action dims)."""
    exploration: str = "boltzmann"
    """Discrete only: how the learner explores, boltzmann (sample softmax(Q / alpha)) or epsilon (greedy)."""
    exploration_fraction: float = 0.1
    """Epsilon exploration: share of the run over which epsilon decays linearly."""
    exploration_initial_eps: float = 1.0
    """Epsilon exploration: epsilon at the start."""
    exploration_final_eps: float = 0.02
    """Epsilon exploration: epsilon after the decay."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip of the Q update (discrete)."""
    net_arch: tuple[int, ...] = ()
    """Hidden layers of the Q-network / actor and critics, after NatureCNN on pixels (none given: SB3's
    defaults, 64x64 for DQN, 256x256 for SAC; on pixels none)."""
    centre_frames: bool = True
    """Pixels: the network sees frames centred on the mean demo frame (CenteredNatureCNN), not x / 255."""

    def __post_init__(self) -> None:
        check_off_policy_fields(self)


def check_off_policy_fields(c: OffPolicyConfig) -> None:
    """Refuse out-of-range settings, one ``GenplayError`` naming ``Class.field`` and the bound."""
    name = type(c).__name__
    for field, low, high in (
        ("n_envs", 1, 1024),
        ("seed", 0, 2**31 - 1),
        ("torch_threads", 1, 256),
        ("checkpoint_every", 0, None),
        ("buffer_size", 2, MAX_BUFFER),
        ("learning_starts", 0, None),
        ("batch_size", 0, 65_536),
        ("expert_batch_size", 1, 65_536),
        ("train_freq", 1, None),
        ("gradient_steps", 1, 10_000),
        ("target_update_interval", 1, None),
    ):
        check_int(f"{name}.{field}", getattr(c, field), low, high)
    check_float(f"{name}.learning_rate", c.learning_rate, 0, low_open=True)
    check_float(f"{name}.gamma", c.gamma, 0, 1, low_open=True, high_open=True)
    check_float(f"{name}.tau", c.tau, 0, 1, low_open=True)
    check_float(f"{name}.temperature", c.temperature, 0, low_open=True)
    check_float(f"{name}.max_grad_norm", c.max_grad_norm, 0, low_open=True)
    for field in ("exploration_fraction", "exploration_initial_eps", "exploration_final_eps"):
        check_float(f"{name}.{field}", getattr(c, field), 0, 1)
    if c.exploration not in ("boltzmann", "epsilon"):
        raise GenplayError(f"{name}.exploration: expected boltzmann or epsilon, got {c.exploration!r}")
    if not isinstance(c.learn_temperature, bool) or not isinstance(c.centre_frames, bool):
        raise GenplayError(f"{name}.learn_temperature / centre_frames: expected true or false")
    if not isinstance(c.net_arch, tuple) or not all(isinstance(w, int) and 1 <= w <= 8192 for w in c.net_arch):
        raise GenplayError(f"{name}.net_arch: expected layer widths in [1, 8192], got {c.net_arch!r}")
    check_device(c.device, f"{name}.device")


class Batch(NamedTuple):
    """A mixed minibatch: learner rows first, then ``n_expert`` expert rows (tensors on the learner's device).

    ``acts``: long indices (discrete) or actions scaled to [-1, 1] (SAC); ``terminated``: 1.0 where
    the transition ended its episode by termination (no bootstrap), 0.0 otherwise; ``expert``: bool."""

    obs: torch.Tensor
    acts: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    expert: torch.Tensor


class ImitationDQN(DQN):
    """SB3's DQN with ``train`` delegated to the imitation trainer and Boltzmann exploration on request."""

    trainer: OffPolicyImitation

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "trainer"]  # the zip holds the Q-network, not the trainer

    def train(self, gradient_steps: int, batch_size: int = 100) -> None:
        self._update_learning_rate(self.policy.optimizer)
        self.trainer.update(gradient_steps)

    def predict(self, observation, state=None, episode_start=None, deterministic: bool = False):
        """Greedy when deterministic; else a sample of softmax(Q / alpha) (boltzmann) or SB3's epsilon-greedy."""
        trainer = getattr(self, "trainer", None)
        if deterministic or trainer is None or trainer.config.exploration != "boltzmann":
            return super().predict(observation, state, episode_start, deterministic)
        obs, vectorized = self.policy.obs_to_tensor(observation)
        with torch.no_grad():
            logits = self.q_net(obs) / trainer.config.temperature
            acts = torch.distributions.Categorical(logits=logits).sample().cpu().numpy()
        return (acts if vectorized else acts[0]), state


class ImitationSAC(SAC):
    """SB3's SAC with ``train`` delegated to the imitation trainer (critic loss replaced, actor as SAC's)."""

    trainer: OffPolicyImitation

    def _excluded_save_params(self) -> list[str]:
        return [*super()._excluded_save_params(), "trainer"]

    def train(self, gradient_steps: int, batch_size: int = 64) -> None:
        optimizers = [self.actor.optimizer, self.critic.optimizer]
        self._update_learning_rate(optimizers + ([self.ent_coef_optimizer] if self.ent_coef_optimizer else []))
        self.trainer.update(gradient_steps)


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
            buffer_size=max(1, config.buffer_size // venv.num_envs),
            learning_starts=config.learning_starts,
            batch_size=config.batch_size,
            tau=config.tau,
            gamma=config.gamma,
            train_freq=(config.train_freq, "step"),
            gradient_steps=config.gradient_steps,
            target_update_interval=config.target_update_interval,
            policy_kwargs={"net_arch": list(config.net_arch)} if config.net_arch or image else {},
            seed=config.seed,
            device=self.device,
            verbose=0,
        )
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
                self.algo = ImitationSAC(policy, venv, ent_coef=auto, **kwargs)
            self.algo.trainer = self
        if image and config.centre_frames:
            self._centre_frames(self._frame_scaling(venv.observation_space))
        self.history: list[dict[str, float]] = []
        self._log_to(log_dir)

    @property
    def sb3_algorithm(self) -> BaseAlgorithm:
        return self.algo

    def _frame_scaling(self, space: spaces.Box) -> DemoScaling:
        scaling, store = DemoScaling(space), self.expert
        rows = [store.obs_idx[i : i + 1024] for i in range(0, len(store), 1024)]
        scaling.fit(to_flat(space, store.take_obs(r), torch.device("cpu")) for r in rows)
        return scaling

    # ------------------------------------------------------------------ batches
    def _tensor(self, array: np.ndarray, dtype: torch.dtype | None = None) -> torch.Tensor:
        return torch.as_tensor(np.asarray(array), device=self.device, dtype=dtype)

    def expert_rows(self, n: int) -> tuple[np.ndarray, ...]:
        """``n`` demo transitions: ``obs, acts, next_obs, terminated`` as numpy (actions in the learner's units)."""
        idx, e = self.rng.integers(len(self.expert), size=n), self.expert
        acts = e.acts[idx]
        if not self.discrete:
            acts = np.clip(self.algo.policy.scale_action(acts.reshape(n, -1)), -1.0, 1.0)
        obs, next_obs = np.asarray(e.take_obs(e.obs_idx[idx])), np.asarray(e.take_obs(e.next_idx[idx]))
        return obs, acts, next_obs, self.expert_terminal[idx]

    def replay_rows(self, n: int) -> tuple[np.ndarray, ...]:
        """``n`` learner transitions from SB3's replay buffer, laid out like :meth:`expert_rows`
        (terminated: episode ends that were not time-limit truncations)."""
        rb = self.algo.replay_buffer
        upper = rb.buffer_size if rb.full else rb.pos
        idx, env = self.rng.integers(upper, size=n), self.rng.integers(rb.n_envs, size=n)
        acts = rb.actions[idx, env]
        acts = acts.reshape(n).astype(np.int64) if self.discrete else acts.reshape(n, -1)
        terminated = rb.dones[idx, env] * (1.0 - rb.timeouts[idx, env])
        return rb.observations[idx, env], acts, rb.next_observations[idx, env], terminated.astype(np.float32)

    def batch(self, n_agent: int | None = None, n_expert: int | None = None) -> Batch:
        """A :class:`Batch` of ``n_agent`` replay rows then ``n_expert`` demo rows (config sizes by default)."""
        n_agent = self.config.batch_size if n_agent is None else n_agent
        n_expert = self.config.expert_batch_size if n_expert is None else n_expert
        parts = ([self.replay_rows(n_agent)] if n_agent else []) + [self.expert_rows(n_expert)]
        obs, acts, next_obs, term = (np.concatenate([p[i] for p in parts]) for i in range(4))
        expert = np.r_[np.zeros(n_agent, bool), np.ones(n_expert, bool)]
        return Batch(
            self._tensor(obs.astype(self.algo.replay_buffer.observations.dtype, copy=False)),
            self._tensor(acts, torch.long if self.discrete else torch.float32),
            self._tensor(next_obs.astype(self.algo.replay_buffer.observations.dtype, copy=False)),
            self._tensor(term, torch.float32),
            self._tensor(expert),
        )

    # ------------------------------------------------------------------ values
    def q_values(self, obs: torch.Tensor, target: bool = False) -> torch.Tensor:
        """Discrete: ``(B, n_actions)`` Q-values of the online (or target) network."""
        return (self.algo.q_net_target if target else self.algo.q_net)(obs)

    def soft_value(self, q: torch.Tensor) -> torch.Tensor:
        """Discrete soft value V = alpha * logsumexp(Q / alpha) over actions (the softmax policy's value)."""
        alpha = self.config.temperature
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
        """SB3's ``train`` hook: ``gradient_steps`` updates, then one history row (and log record)."""
        for step in range(gradient_steps):
            stats = self._discrete_step() if self.discrete else self._sac_step(self.algo._n_updates + step)
        algo = self.algo
        algo._n_updates += gradient_steps
        returns = [ep["r"] for ep in algo.ep_info_buffer]
        if returns:
            stats["true_return"] = float(np.mean(returns))
        for key, value in stats.items():
            algo.logger.record(f"{self.log_key}/{key}", value)
        algo.logger.record("train/n_updates", algo._n_updates, exclude="tensorboard")
        if not self.history or self.num_timesteps - self.history[-1]["timesteps"] >= HISTORY_EVERY:
            self.history.append({"timesteps": self.num_timesteps, **stats})

    log_key = "imitation"

    def _discrete_step(self) -> dict[str, float]:
        algo = self.algo
        loss, stats = self.critic_loss(self.batch())
        check_finite(algo._n_updates, {"q_loss": loss})
        algo.policy.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(algo.policy.parameters(), self.config.max_grad_norm)
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
        if n_update % self.config.target_update_interval == 0:
            polyak_update(algo.critic.parameters(), algo.critic_target.parameters(), self.config.tau)
            polyak_update(algo.batch_norm_stats, algo.batch_norm_stats_target, 1.0)
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
            callbacks: list[BaseCallback] = [_Checkpoint(self, checkpoint_path)]
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


class _Checkpoint(BaseCallback):
    """Saves the trainer every ``checkpoint_every`` steps, between updates (nothing half-done)."""

    def __init__(self, trainer: OffPolicyImitation, path: str | Path | None) -> None:
        super().__init__()
        self.trainer, self.path, self.last = trainer, path, trainer.num_timesteps

    def _on_step(self) -> bool:
        every = self.trainer.config.checkpoint_every
        if self.path and every and self.trainer.num_timesteps - self.last >= every:
            self.trainer.save_checkpoint(self.path)
            self.last = self.trainer.num_timesteps
        return True
