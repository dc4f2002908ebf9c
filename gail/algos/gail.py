"""GAIL (Ho & Ermon 2016) with an SB3 on-policy generator, read top to bottom.

One iteration, driven by the generator's own ``learn`` loop through a callback:

1. the generator collects a rollout on the vector env; :class:`TransitionRecorder`
   records raw transitions and gives the generator a reward of 0;
2. the discriminator (expert high) takes ``disc_updates`` steps of the shared core's
   :func:`discriminator_step` on expert rows against the latest and a few replayed
   generator rollouts; each batch adds the absorbing state, weighted by the steps that
   terminated episodes had left to the horizon;
3. the whole rollout is scored in one batched forward pass, the rewards (plus the
   absorbing-state value on terminating steps) are written into the rollout buffer and
   the advantages recomputed (:meth:`GAIL._relabel`);
4. the generator runs its usual update (PPO epochs).
"""

from __future__ import annotations

import collections
import dataclasses
from pathlib import Path

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from genplay.errors import DistributedError, EnvError
from genplay.gail.algos.bc import bc_auxiliary_steps, behaviour_clone, demo_nll, fit_value_on_rollout
from genplay.gail.algos.config import GAILConfig, check_ppo_for_spaces, replace
from genplay.gail.algos.parallel import check_world_size, shard_store
from genplay.gail.data.demos import Demos, check_demos_match_spaces
from genplay.gail.data.store import TransitionStore
from genplay.gail.learners.learner import ProgressBar, SB3Learner
from genplay.gail.learners.rollout import ReturnScaler, TransitionRecorder, policy_obs_normalizer
from genplay.gail.rewards.discriminator import (
    TransitionDiscriminator,
    optimiser_and_step,
    update_discriminator,
    with_absorbing_row,
)
from genplay.gail.rewards.features import CenteredNatureCNN, DemoScaling, demo_obs_moments
from genplay.gail.rewards.reward import absorbing_share, generator_rewards, step_rewards
from genplay.gail.saving.sb3_io import policy_for_space
from genplay.generative.core import seeded, select_device
from genplay.generative.core.distributed import (
    DistContext,
    allreduce_grads,
    averaged_gradients,
    broadcast_module,
    sum_over_ranks,
)


class GAIL(SB3Learner):
    """Generative Adversarial Imitation Learning on a gymnasium vector env.

    Args:
        venv: the generator's vector env (SB3 ``VecEnv``), true rewards inside are ignored.
        demos: expert demonstrations matching ``venv``'s spaces.
        config: all settings (``GAILConfig``); its ``ppo`` field builds the default PPO.
        gen_algo: an SB3 on-policy algorithm to use as generator instead of PPO (e.g.
            A2C, or sb3-contrib's MaskablePPO); it is re-pointed at the wrapped env.
        log_dir: where TensorBoard and CSV logs go (None: no files); appended to on resume.
        dist: this process's rank in a torchrun group (None: one process, as always).
            With ``world_size`` N, ``venv`` holds this rank's ``n_envs / N`` envs and the
            discriminator's and the generator's minibatches are split N ways, so the global
            batches are the config's; gradients are averaged over ranks before each step.
        shard_demos: with ``dist``, the discriminator samples expert rows from its own
            share of the demo episodes (False: every rank samples all demos).
    """

    def __init__(
        self,
        *,
        venv: VecEnv,
        demos: Demos,
        config: GAILConfig = GAILConfig(),
        gen_algo: OnPolicyAlgorithm | None = None,
        log_dir: str | None = None,
        dist: DistContext | None = None,
        shard_demos: bool = False,
    ) -> None:
        world = check_world_size(config, dist)
        if dist is None and config.run.n_envs != venv.num_envs:  # the stored config says what ran (resume rebuilds it)
            config = replace(config, n_envs=venv.num_envs)
        check_demos_match_spaces(demos, venv.observation_space, venv.action_space, target="the GAIL venv")
        if gen_algo is None:
            try:
                check_ppo_for_spaces(config.ppo, venv.observation_space, venv.action_space)
            except ValueError as exc:
                raise EnvError(str(exc)) from None
        self.config, self.demos, self.dist = config, demos, dist
        self.device = select_device(config.run.device)
        rank = dist.rank if dist is not None else 0
        self.rng = np.random.default_rng(config.run.seed if rank == 0 else [config.run.seed, rank])
        self.disc_batch = config.reward.disc_batch_size // world

        with seeded(config.run.seed):  # weights from the seed alone; the caller's RNG untouched
            self.disc = self.reward_model_class.from_config(venv.observation_space, venv.action_space, config)
            self.disc = self.disc.to(self.device)
            self.disc_opt, self.step_config = optimiser_and_step(self.disc, config)
            self.expert = self._expert_store(demos)
            if config.reward.obs_norm == "demos":
                self.disc.fit_scaling(self.expert)  # on all demos, sharded or not: the same scaling on every rank
            broadcast_module(self.disc, dist)
            self.expert_rows = len(self.expert)  # the global count: absorbing shares are the one-process ones
            if shard_demos and world > 1:
                self.expert = shard_store(self.expert, demos.episode_lengths, rank, world)

            self.recorder = TransitionRecorder(venv)
            wrapped: VecEnv = self.recorder
            space = venv.observation_space
            self.policy_obs_norm: VecNormalize | None = None
            if config.normalize_policy_obs and isinstance(space, spaces.Box) and not is_image_space(space):
                mean, var = demo_obs_moments(demos)
                wrapped = self.policy_obs_norm = policy_obs_normalizer(wrapped, mean, var)
            centred = config.normalize_policy_obs and gen_algo is None and is_image_space(space)
            if gen_algo is None:
                kwargs = config.ppo.sb3_kwargs()
                kwargs["batch_size"] = kwargs["batch_size"] // world
                if centred:
                    kwargs["policy_kwargs"].update(features_extractor_class=CenteredNatureCNN, normalize_images=False)
                gen_algo = PPO(
                    config.ppo.policy if config.ppo.policy != "auto" else policy_for_space(space),
                    wrapped,
                    seed=config.run.seed + rank * venv.num_envs,  # seeds this rank's envs and action sampling
                    device=self.device,
                    verbose=0,
                    **kwargs,
                )
                if centred:
                    scaling = self.disc.scaling
                    if config.reward.obs_norm != "demos":
                        scaling = DemoScaling(space).to(self.device)
                        self.disc.fit_scaling(self.expert, scaling=scaling)
                    self.gen_algo = gen_algo
                    self._centre_frames(scaling)
            else:
                gen_algo.set_env(wrapped)
                if world > 1:
                    gen_algo.batch_size = config.ppo.batch_size // world
            if world > 1 and getattr(gen_algo, "target_kl", None) is not None:
                raise DistributedError(
                    "target_kl with several ranks: ranks would stop their epochs at different points"
                )
            broadcast_module(gen_algo.policy, dist)  # one starting policy, whatever each rank's seed
            self.gen_algo = gen_algo
            self.return_scaler = (
                ReturnScaler(venv.num_envs, self.gamma, dist=dist) if config.reward.scale_rewards else None
            )

            n_term = int(demos.terminated.sum())
            self.expert_absorbing = self._absorbing_mass(n_term)
            # Replay of recent generator rollouts: (transitions, terminations) per rollout.
            self.replay: collections.deque[tuple[TransitionStore, int]] = collections.deque(
                maxlen=config.reward.disc_replay_rollouts
            )
            self.history: list[dict[str, float]] = []
            self.n_rollouts = 0
            self.bc_done = config.bc.epochs == 0
            self.fit_value_next = False  # set by pretrain_bc (config.bc.fit_value)
            self._demo_nll = None
            self.log_dir = log_dir
            self._log_to(log_dir)

    @property
    def sb3_algorithm(self) -> OnPolicyAlgorithm:
        return self.gen_algo

    # ------------------------------------------------------------------ training
    def learn(
        self,
        total_timesteps: int,
        *,
        callback: BaseCallback | None = None,
        progress_bar: bool = False,
        checkpoint_path: str | None = None,
    ) -> GAIL:
        """Train until the generator has taken ``total_timesteps`` env steps in all.

        Continues from ``num_timesteps`` (so a resumed trainer goes on where it stopped).
        With ``checkpoint_path``, the whole trainer is saved there atomically every
        ``config.run.checkpoint_every`` steps (after that rollout's update) and at the end.
        """
        if total_timesteps <= 0:
            raise ValueError(f"total_timesteps must be > 0, got {total_timesteps}")
        self._start_run()
        if not self.bc_done:
            self.pretrain_bc()
        remaining = total_timesteps - self.num_timesteps
        if remaining <= 0:
            return self
        callbacks: list[BaseCallback] = [_GAILCallback(self, checkpoint_path)]
        if progress_bar:
            callbacks.append(ProgressBar(self.planned_end(total_timesteps)))
        if callback is not None:
            callbacks.append(callback)
        with averaged_gradients(self.gen_algo.policy, self.dist):
            self.gen_algo.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=False)
        if checkpoint_path is not None:
            self.save_checkpoint(checkpoint_path)
        return self

    def planned_end(self, total_timesteps: int) -> int:
        """Where ``learn(total_timesteps)`` stops (the progress bar's total): SB3 finishes whole rollouts
        (``n_steps`` x every rank's envs), e.g. at 51,200 for 50,000 at 2,048 a rollout from 0."""
        world = self.dist.world_size if self.dist is not None else 1
        rollout = self.gen_algo.n_steps * self.gen_algo.n_envs * world
        remaining = total_timesteps - self.num_timesteps
        return self.num_timesteps + max(0, -(-remaining // rollout)) * rollout

    def pretrain_bc(self) -> dict[str, float]:
        """Behaviour-cloning warm start of the generator's policy on the demos (early-stopped)."""
        obs = self.demos.transitions()["obs"]
        if self.policy_obs_norm is not None:
            obs = self.policy_obs_norm.normalize_obs(obs)
        stats = behaviour_clone(
            self.gen_algo.policy,
            obs,
            self.demos.acts,
            episode_lengths=self.demos.episode_lengths,
            action_masks=self.demos.action_masks,
            match_noise=self.config.bc.match_noise,
            max_epochs=self.config.bc.epochs,
            patience=self.config.bc.patience,
            batch_size=self.config.bc.batch_size,
            lr=self.config.bc.lr,
            rng=self.rng,
        )
        broadcast_module(self.gen_algo.policy, self.dist)  # rank 0's clone (ranks may early-stop apart)
        self.bc_done, self.fit_value_next = True, self.config.bc.fit_value
        return stats

    def bc_auxiliary(self) -> float:
        """``config.bc.aux_steps`` BC steps on the demos (BC as an auxiliary loss); returns the mean NLL."""
        if self._demo_nll is None:
            obs = self.demos.transitions()["obs"]
            if self.policy_obs_norm is not None:
                obs = self.policy_obs_norm.normalize_obs(obs)
            self._demo_nll = demo_nll(self.gen_algo.policy, obs, self.demos.acts, self.demos.action_masks)
        return bc_auxiliary_steps(
            self.gen_algo.policy,
            self._demo_nll,
            self.demos.n_transitions,
            steps=self.config.bc.aux_steps,
            batch_size=self.config.bc.batch_size,
            weight=self.config.bc.aux_weight,
            rng=self.rng,
        )

    def train_discriminator(self, generated: TransitionStore, n_terminations: int) -> dict[str, float]:
        """``disc_updates`` core steps: expert rows against the latest and replayed generator rows.

        Each side's batch is ``disc_batch_size`` live rows plus one absorbing row, weighted
        by the side's absorbing share (``gail/rewards/reward.py``; the replayed rollouts' terminations
        pooled, with one prior per side). Logged accuracies are on live
        rows, unweighted: the share of expert rows scored expert and of generator rows
        scored generator; the absorbing state is logged as its logit.
        """
        self.replay.append((generated, int(n_terminations)))
        pool = [store for store, _ in self.replay]
        pool_rows, pool_terms = sum(len(s) for s in pool), sum(k for _, k in self.replay)
        if self.dist is not None:  # the share of the pooled rollouts of all ranks
            pool_rows, pool_terms = sum_over_ranks([pool_rows, pool_terms], self.dist)
        pool_absorbing = self._absorbing_mass(pool_terms)
        n = self.disc_batch
        hook = None
        if self.dist is not None:
            hook = lambda: allreduce_grads(self.disc.parameters(), self.dist)  # noqa: E731

        def draw():
            real, real_w = self._weighted_batch([self.expert], self.expert_absorbing, n, self.expert_rows)
            fake, fake_w = self._weighted_batch(pool, pool_absorbing, n, pool_rows)
            return real, real_w, fake, fake_w

        steps = self.config.reward.disc_updates
        return update_discriminator(self.disc, self.disc_opt, self.step_config, steps, draw, n, grad_hook=hook)

    def _weighted_batch(
        self, stores: list[TransitionStore], absorbing: float, n: int, total_rows: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` live rows drawn uniformly over ``stores``, plus the absorbing row when this side has mass there.

        ``total_rows`` is the side's row count over all ranks (None: the stores' size, one process).
        """
        sizes = np.array([len(s) for s in stores])
        draw = self.rng.integers(sizes.sum(), size=n)
        which = np.searchsorted(np.cumsum(sizes), draw, side="right")
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        parts = [
            self._features(store, draw[which == i] - starts[i]) for i, store in enumerate(stores) if (which == i).any()
        ]
        share = absorbing_share(int(sizes.sum() if total_rows is None else total_rows), absorbing)
        return with_absorbing_row(self.disc, torch.cat(parts), share)

    # Hooks of a reward model other than GAIL's discriminator (AIRL, gail/algos/airl.py, overrides them).
    reward_model_class = TransitionDiscriminator
    """The reward model's class: ``from_config(obs_space, act_space, config)``, ``features``, ``logits``."""
    config_class = GAILConfig
    """The config class checkpoints are read back as."""
    store_class = TransitionStore
    """The class of the generator rows kept for replay (checkpoints rebuild them as this)."""

    def _expert_store(self, demos: Demos) -> TransitionStore:
        """The demos as the reward model's expert rows."""
        return TransitionStore.from_episodes(
            demos.obs, demos.acts, demos.episode_lengths, with_next=self.config.reward.use_next_obs
        )

    def _rollout_store(self, rollout: dict) -> TransitionStore:
        """A recorded rollout as the reward model's generator rows (called once per rollout, at its end)."""
        return TransitionStore.from_rollout(rollout, with_next=self.config.reward.use_next_obs)

    def _features(self, store: TransitionStore, idx: np.ndarray) -> torch.Tensor:
        """Flat rows of ``store``'s transitions ``idx`` for one discriminator step."""
        return self.disc.features(store, idx)

    @torch.no_grad()
    def reward(self, store: TransitionStore) -> np.ndarray:
        """Per-transition discriminator term of the reward (reward form, clipped), chunked."""
        return (
            step_rewards(self.disc.logits(store), self.config.reward.reward_form, self.config.reward.reward_clip)
            .cpu()
            .numpy()
        )

    @torch.no_grad()
    def absorbing_reward(self) -> float | None:
        """``r_a``, the per-step reward of the absorbing state (None when absorbing states are off)."""
        if not self.config.reward.absorbing:
            return None
        return float(
            step_rewards(self.disc.absorbing_logit, self.config.reward.reward_form, self.config.reward.reward_clip)
        )

    def _on_rollout_end(self) -> None:
        rollout = self.recorder.collect()
        terminated = rollout["terminated"]
        store = self._rollout_store(rollout)
        stats = self.train_discriminator(store, int(terminated.sum()))
        disc_rewards = self.reward(store).reshape(terminated.shape)
        rewards = generator_rewards(disc_rewards, terminated, self.absorbing_reward(), self.gamma)
        stats.update(reward_mean=float(rewards.mean()), reward_std=float(rewards.std()))
        if self.return_scaler is not None:
            rewards = self.return_scaler(rewards, rollout["dones"])
        self._relabel(rewards)
        if self.fit_value_next:  # the first rollout after BC: the critic learns the clone's values first
            self.fit_value_next, stats["bc_value_mse"] = False, fit_value_on_rollout(self.gen_algo)
        self.n_rollouts += 1
        ep_returns = [ep["r"] for ep in self.gen_algo.ep_info_buffer]
        if ep_returns:  # none yet when no episode has ended
            stats["true_return"] = float(np.mean(ep_returns))
        for key, value in stats.items():
            self.gen_algo.logger.record(f"gail/{key}", value)
        self.history.append({"timesteps": self.num_timesteps, **stats})

    def _relabel(self, rewards: np.ndarray) -> None:
        """Add the generator's rewards to the rollout buffer and recompute returns/advantages."""
        algo = self.gen_algo
        buf = algo.rollout_buffer
        buf.rewards += rewards.astype(buf.rewards.dtype)  # keeps SB3's timeout bootstrap terms
        with torch.no_grad():
            last_values = algo.policy.predict_values(obs_as_tensor(algo._last_obs, algo.device))
        buf.compute_returns_and_advantage(last_values=last_values, dones=algo._last_episode_starts)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | Path) -> None:
        """Save as the run directory ``gail train --out`` writes, plus ``demos.npz`` (``run_files.save_run_dir``):
        ``evaluate --policy DIR`` and ``gail train --resume --out DIR`` read it. ``*.pt``: the checkpoint alone."""
        if Path(path).suffix == ".pt":
            self.save_checkpoint(path)
        else:
            from genplay.gail.saving.run_files import save_run_dir

            meta = {"env_id": self.demos.env_id, "env": self.demos.env_factory.to_dict()}
            meta.update(dataclasses.asdict(self.config), world_size=1, backend=None)
            save_run_dir(self, path, meta, "GAIL")

    def save_checkpoint(self, path: str | Path) -> None:
        """Write the whole trainer (policy, optimiser states, discriminator, counters) to one file, atomically."""
        from genplay.gail.saving.checkpoint import save_trainer

        save_trainer(self, path)

    @classmethod
    def load(cls, path: str | Path, *, venv: VecEnv, demos: Demos, log_dir: str | None = None) -> GAIL:
        """Rebuild a trainer saved by :meth:`save` (a run directory or a checkpoint file), ready to learn further."""
        from genplay.gail.saving.checkpoint import load_trainer

        path = Path(path)
        path = path / "checkpoint.pt" if path.is_dir() else path
        return load_trainer(cls, path, venv=venv, demos=demos, log_dir=log_dir)

    def predict(self, obs, state=None, episode_start=None, deterministic: bool = True, action_masks=None):
        """Actions of the learned policy for raw observations (SB3 ``predict`` signature).

        ``action_masks`` (``(B, n_actions)`` bool) is honoured by a MaskablePPO generator:
        it never returns a masked action.
        """
        if self.policy_obs_norm is not None:
            obs = self.policy_obs_norm.normalize_obs(obs)
        if action_masks is not None:
            return self.gen_algo.predict(obs, state, episode_start, deterministic, action_masks=action_masks)
        return self.gen_algo.predict(obs, state, episode_start, deterministic)


class _GAILCallback(BaseCallback):
    """Hooks GAIL into the generator's loop: checkpoint and clear the recorder, then relabel."""

    def __init__(self, trainer: GAIL, checkpoint_path: str | None) -> None:
        super().__init__()
        self.trainer, self.checkpoint_path = trainer, checkpoint_path
        self._last_checkpoint = trainer.num_timesteps

    def _on_rollout_start(self) -> None:
        # The previous rollout's update is done by now: a checkpoint here loses no update.
        if self.trainer.config.bc.aux_steps and self.trainer.n_rollouts > 0:
            self.trainer.gen_algo.logger.record("gail/bc_aux_nll", self.trainer.bc_auxiliary())
        every = self.trainer.config.run.checkpoint_every
        if self.checkpoint_path and every and self.trainer.num_timesteps - self._last_checkpoint >= every:
            self.trainer.save_checkpoint(self.checkpoint_path)
            self._last_checkpoint = self.trainer.num_timesteps
        self.trainer.recorder.clear()

    def _on_step(self) -> bool:
        dist = self.trainer.dist
        if dist is not None:  # SB3 counted this rank's envs; the other ranks stepped as many
            self.model.num_timesteps += (dist.world_size - 1) * self.model.n_envs
        return True

    def _on_rollout_end(self) -> None:
        self.trainer._on_rollout_end()
