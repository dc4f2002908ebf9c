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

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback, CallbackList
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.utils import obs_as_tensor
from stable_baselines3.common.vec_env import VecEnv

from genplay.gail.bc import bc_pretrain
from genplay.gail.config import GAILConfig
from genplay.gail.demos import Demos, check_demos_match_spaces
from genplay.gail.discriminator import (
    TransitionDiscriminator,
    absorbing_mass,
    make_transition_batch,
    reward_from_logits,
)
from genplay.gail.rollout import ReturnScaler, SharedObsNormalize, TransitionRecorder
from genplay.generative.core import DiscriminatorStepConfig, discriminator_step, select_device, set_torch_threads


class GAIL:
    """Generative Adversarial Imitation Learning on a gymnasium vector env.

    Args:
        venv: the generator's vector env (SB3 ``VecEnv``), true rewards inside are ignored.
        demos: expert demonstrations matching ``venv``'s spaces.
        config: all settings (``GAILConfig``); its ``ppo`` field builds the default PPO.
        gen_algo: an SB3 on-policy algorithm to use as generator instead of PPO (e.g.
            sb3-contrib's MaskablePPO); it is re-pointed at the wrapped env.
        log_dir: where TensorBoard and CSV logs go (None: no files).
    """

    def __init__(
        self,
        *,
        venv: VecEnv,
        demos: Demos,
        config: GAILConfig = GAILConfig(),
        gen_algo: OnPolicyAlgorithm | None = None,
        log_dir: str | None = None,
    ) -> None:
        check_demos_match_spaces(demos, venv.observation_space, venv.action_space, target="the GAIL venv")
        set_torch_threads(config.torch_threads)
        self.config, self.demos = config, demos
        self.device = select_device(config.device)
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)

        self.disc = TransitionDiscriminator(
            venv.observation_space,
            venv.action_space,
            hidden=config.disc_hidden,
            activation=config.disc_activation,
            spectral_norm=config.disc_spectral_norm,
            use_next_obs=config.use_next_obs,
        ).to(self.device)
        # The absorbing logit is one scalar fitting an occupancy ratio that moves with the policy;
        # at the net's step size (Adam moves ~lr per step) it would lag far behind.
        self.disc_opt = torch.optim.Adam(
            [
                {"params": list(self.disc.net.parameters()), "lr": config.disc_lr},
                {"params": [self.disc.absorbing_logit], "lr": config.disc_lr * config.absorbing_lr_scale},
            ]
        )
        self.step_config = DiscriminatorStepConfig(
            loss=config.disc_loss, penalty=config.disc_penalty, penalty_weight=config.disc_penalty_weight
        )
        t = demos.transitions()
        if config.obs_norm != "none":
            self.disc.update_normalizer(self.disc.flat_obs(t["obs"]))

        self.recorder = TransitionRecorder(venv)
        wrapped: VecEnv = self.recorder
        self.policy_normalizer: SharedObsNormalize | None = None
        if config.normalize_policy_obs:
            wrapped = self.policy_normalizer = SharedObsNormalize(wrapped, self.disc.obs_rms)
        if gen_algo is None:
            gen_algo = PPO(
                "MultiInputPolicy" if isinstance(venv.observation_space, spaces.Dict) else "MlpPolicy",
                wrapped,
                seed=config.seed,
                device=self.device,
                tensorboard_log=None,
                verbose=0,
                **config.ppo.sb3_kwargs(),
            )
        else:
            gen_algo.set_env(wrapped)
        self.gen_algo = gen_algo

        self.return_scaler = ReturnScaler(venv.num_envs, self.gamma) if config.scale_rewards else None
        self.horizon = _horizon(venv, self.gamma)
        self.expert = _to(make_transition_batch(self.disc, **t), self.device)
        steps_left = self.horizon - demos.episode_lengths[demos.terminated]
        self.expert_absorbing = absorbing_mass(steps_left) if config.absorbing else 0.0
        # Replay of recent generator rollouts: (live rows, absorbing mass) per rollout.
        self.replay: collections.deque[tuple[dict[str, torch.Tensor], float]] = collections.deque(
            maxlen=config.disc_replay_rollouts
        )
        self.history: list[dict[str, float]] = []
        self.n_rollouts = 0
        self.bc_done = config.bc_epochs == 0
        self.log_dir = log_dir
        if log_dir is not None:
            from stable_baselines3.common.logger import configure

            self.gen_algo.set_logger(configure(log_dir, ["csv", "tensorboard"]))

    @property
    def num_timesteps(self) -> int:
        return int(self.gen_algo.num_timesteps)

    @property
    def gamma(self) -> float:
        return float(self.gen_algo.gamma)

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
        ``config.checkpoint_every`` steps and at the end.
        """
        if not self.bc_done:
            self.pretrain_bc()
        remaining = total_timesteps - self.num_timesteps
        if remaining <= 0:
            return self
        callbacks: list[BaseCallback] = [_GAILCallback(self, checkpoint_path)]
        if progress_bar:
            callbacks.append(_ProgressBar(total_timesteps))
        if callback is not None:
            callbacks.append(callback)
        self.gen_algo.learn(remaining, callback=CallbackList(callbacks), reset_num_timesteps=False)
        if checkpoint_path is not None:
            self.save(checkpoint_path)
        return self

    def pretrain_bc(self) -> dict[str, float]:
        """Behaviour-cloning warm start of the generator's policy on the demos."""
        t = self.demos.transitions()
        obs = t["obs"] if self.policy_normalizer is None else self.policy_normalizer.normalize(t["obs"])
        stats = bc_pretrain(
            self.gen_algo.policy,
            obs,
            t["acts"],
            epochs=self.config.bc_epochs,
            batch_size=self.config.bc_batch_size,
            lr=self.config.bc_lr,
            rng=self.rng,
        )
        self.bc_done = True
        return stats

    def train_discriminator(self, generated: dict[str, torch.Tensor], absorbing: float) -> dict[str, float]:
        """``disc_updates`` core steps: expert rows against the latest and replayed generator rows.

        Each side's batch is ``disc_batch_size`` live rows plus one absorbing row, weighted
        by the side's absorbing share of its padded occupancy (see the discriminator module).
        """
        self.replay.append((generated, absorbing))
        pool = {k: torch.cat([r[k] for r, _ in self.replay]) for k in generated}
        pool_absorbing = sum(a for _, a in self.replay)
        n = self.config.disc_batch_size
        stats: list[dict[str, float]] = []
        for _ in range(self.config.disc_updates):
            real, real_w = self._weighted_batch(self.expert, self.expert_absorbing, n)
            fake, fake_w = self._weighted_batch(pool, pool_absorbing, n)
            stats.append(
                discriminator_step(
                    self.disc, self.disc_opt, real, fake, self.step_config, real_weights=real_w, fake_weights=fake_w
                )
            )
        return {k: float(np.mean([s[k] for s in stats])) for k in stats[0]}

    def _weighted_batch(
        self, live: dict[str, torch.Tensor], absorbing: float, n: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` uniformly drawn live rows, plus the absorbing row if this side has any mass there."""
        idx = torch.from_numpy(self.rng.integers(len(live["obs"]), size=n)).to(self.device)
        features = self.disc.features({k: v[idx] for k, v in live.items()})
        share = absorbing / (absorbing + len(live["obs"]))
        weights = torch.full((n,), (1.0 - share) / n, device=self.device)
        if share > 0:
            features = torch.cat([features, self.disc.features(self.disc.absorbing_batch(self.device))])
            weights = torch.cat([weights, torch.full((1,), share, device=self.device)])
        return features, weights

    @torch.no_grad()
    def reward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Per-row generator reward of a transition batch (clipped)."""
        r = reward_from_logits(self.disc(self.disc.features(batch)), self.config.reward_form)
        clip = self.config.reward_clip
        return r.clamp(-clip, clip) if clip > 0 else r

    @torch.no_grad()
    def absorbing_reward(self) -> float:
        """Per-step reward of the absorbing state (one number: its input is constant)."""
        return float(self.reward(self.disc.absorbing_batch(self.device))[0])

    def absorbing_tail_value(self, steps_left: np.ndarray) -> np.ndarray:
        """Discounted return of ``steps_left`` absorbing steps after a termination."""
        g = self.gamma
        return self.absorbing_reward() * g * (1.0 - g ** np.maximum(steps_left, 0)) / (1.0 - g)

    def _on_rollout_end(self) -> None:
        rollout = self.recorder.collect()
        n_steps, n_envs = rollout["terminated"].shape
        flat = {k: _flatten_time(v) for k, v in rollout.items() if k in ("obs", "acts", "next_obs")}
        terminal = rollout["terminated"].reshape(-1)
        steps_left = self.horizon - rollout["episode_steps"]  # (n_steps, n_envs)
        if self.config.obs_norm == "running":
            self.disc.update_normalizer(self.disc.flat_obs(flat["obs"]))
        live = _to(make_transition_batch(self.disc, **flat), self.device)
        absorbing = absorbing_mass(steps_left.reshape(-1)[terminal]) if self.config.absorbing else 0.0
        stats = self.train_discriminator(live, absorbing)
        rewards = self.reward(live).cpu().numpy().reshape(n_steps, n_envs)
        if self.config.absorbing:
            rewards = rewards + np.where(rollout["terminated"], self.absorbing_tail_value(steps_left), 0.0)
            stats["absorbing_reward"] = self.absorbing_reward()
        stats.update(reward_mean=float(rewards.mean()), reward_std=float(rewards.std()))
        if self.return_scaler is not None:
            rewards = self.return_scaler(rewards, rollout["dones"])
        self._relabel(rewards)
        self.n_rollouts += 1
        ep_returns = [ep["r"] for ep in self.gen_algo.ep_info_buffer]
        stats["true_return"] = float(np.mean(ep_returns)) if ep_returns else float("nan")
        for key, value in stats.items():
            self.gen_algo.logger.record(f"gail/{key}", value)
        self.history.append({"timesteps": self.num_timesteps, **stats})

    def _relabel(self, rewards: np.ndarray) -> None:
        """Add discriminator rewards to the rollout buffer and recompute returns/advantages."""
        algo = self.gen_algo
        buf = algo.rollout_buffer
        buf.rewards += rewards.astype(buf.rewards.dtype)  # keeps SB3's timeout bootstrap terms
        with torch.no_grad():
            last_values = algo.policy.predict_values(obs_as_tensor(algo._last_obs, algo.device))
        buf.compute_returns_and_advantage(last_values=last_values, dones=algo._last_episode_starts)

    # ------------------------------------------------------------------ persistence
    def save(self, path: str) -> None:
        """Write the whole trainer (policy, optimiser states, discriminator, counters) atomically."""
        from genplay.gail.checkpoint import save_trainer

        save_trainer(self, path)

    @classmethod
    def load(cls, path: str, *, venv: VecEnv, demos: Demos, log_dir: str | None = None) -> GAIL:
        """Rebuild a trainer saved by :meth:`save`, ready to ``learn`` further."""
        from genplay.gail.checkpoint import load_trainer

        return load_trainer(cls, path, venv=venv, demos=demos, log_dir=log_dir)

    def predict(self, obs, deterministic: bool = True):
        """Actions of the learned policy for raw observations (SB3 ``predict`` signature)."""
        if self.policy_normalizer is not None:
            obs = self.policy_normalizer.normalize(obs)
        return self.gen_algo.predict(obs, deterministic=deterministic)


class _GAILCallback(BaseCallback):
    """Hooks GAIL into the generator's loop: clear the recorder, relabel, checkpoint."""

    def __init__(self, trainer: GAIL, checkpoint_path: str | None) -> None:
        super().__init__()
        self.trainer, self.checkpoint_path = trainer, checkpoint_path
        self._last_checkpoint = trainer.num_timesteps

    def _on_rollout_start(self) -> None:
        self.trainer.recorder.clear()

    def _on_step(self) -> bool:
        return True

    def _on_rollout_end(self) -> None:
        self.trainer._on_rollout_end()
        every = self.trainer.config.checkpoint_every
        if self.checkpoint_path and every and self.trainer.num_timesteps - self._last_checkpoint >= every:
            self.trainer.save(self.checkpoint_path)
            self._last_checkpoint = self.trainer.num_timesteps


class _ProgressBar(BaseCallback):
    """tqdm bar with ETA, true episode return and discriminator accuracy."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total = total

    def _on_training_start(self) -> None:
        from tqdm.auto import tqdm

        self.bar = tqdm(total=self.total, initial=self.model.num_timesteps, unit="step", mininterval=1.0)

    def _on_step(self) -> bool:
        self.bar.update(self.model.num_timesteps - self.bar.n)
        return True

    def _on_rollout_end(self) -> None:
        log = self.model.logger.name_to_value
        self.bar.set_postfix(
            ret=f"{log.get('gail/true_return', float('nan')):.1f}",
            acc_e=f"{log.get('gail/accuracy_real', float('nan')):.2f}",
            acc_g=f"{log.get('gail/accuracy_fake', float('nan')):.2f}",
            refresh=False,
        )

    def _on_training_end(self) -> None:
        self.bar.close()


def _horizon(venv: VecEnv, gamma: float) -> int:
    """The env's time limit, or the effective horizon 1 / (1 - gamma) if it has none."""
    try:
        spec = venv.get_attr("spec", indices=[0])[0]
    except AttributeError:
        spec = None
    limit = getattr(spec, "max_episode_steps", None)
    return int(limit) if limit else int(round(1.0 / (1.0 - gamma)))


def _flatten_time(x):
    """(n_steps, n_envs, ...) -> (n_steps * n_envs, ...), dicts per key."""
    if isinstance(x, dict):
        return {k: v.reshape(-1, *v.shape[2:]) for k, v in x.items()}
    return x.reshape(-1, *x.shape[2:])


def _to(batch: dict[str, torch.Tensor], device: torch.device) -> dict[str, torch.Tensor]:
    return {k: v.to(device) for k, v in batch.items()}
