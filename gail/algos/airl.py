"""AIRL (Fu et al. 2018, "Learning Robust Rewards with Adversarial Inverse Reinforcement Learning").

GAIL's trainer (``gail/algos/gail.py``) with another reward model: the discriminator is
``D = exp f / (exp f + pi(a|s))`` with ``f(s, a, s') = g(s, a) + gamma h(s') - h(s)``
(``gail/rewards/airl.py``), trained by the same core ``discriminator_step`` on the same
expert and replayed generator batches, absorbing state included. What AIRL adds:

- rows carry ``s'``, the termination flag (``h(s') = 0`` there) and ``log pi(a|s)``: the
  collection-time log-probability for the generator's rows (SB3's rollout buffer keeps it)
  and the current policy's for the expert's, evaluated when a batch is drawn;
- the generator's reward (``airl_reward``): ``logit`` = ``log D - log(1 - D) = f - log pi``,
  the paper's choice and the default (the policy then maximises ``f`` plus its entropy), or
  ``f`` alone;
- the learned reward is a product: ``gail/rewards/export.py`` writes ``f`` or ``g``
  (state-only ``g`` is the paper's disentangled, transferable reward) for a fresh learner.

One config, :class:`AIRLConfig`, extends :class:`GAILConfig` (its generator, discriminator
optimiser, replay, BC warm start and run settings all apply unchanged) with AIRL's fields, so
the checkpoint, resume and run-directory code of GAIL serve AIRL as they are.
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from genplay.envs import EnvFactory, as_factory
from genplay.gail.algos.config import GAILConfig, PPOConfig, replace
from genplay.gail.algos.gail import GAIL
from genplay.gail.data.demos import Demos
from genplay.gail.data.store import TransitionStore
from genplay.gail.rewards.airl import AIRLRewardNet, AIRLStore
from genplay.gail.rewards.config import RewardModelConfig
from genplay.gail.rewards.reward import step_rewards
from genplay.settings import Layers, OneOf, check_fields, section

AIRL_REWARDS = ("logit", "f")


@dataclass(frozen=True)
class AIRLRewardConfig(RewardModelConfig):
    """AIRL's reward model: the discriminator's settings (g uses them) plus the shaping potential h and
    the generator's reward."""

    use_next_obs: bool = True
    """AIRL always reads the next observation (the shaping term gamma h(s')); it cannot be turned off."""
    disc_use_action: bool = True
    """g reads the action, g(s, a); off: the paper's state-only reward g(s), which is disentangled from
    the dynamics and transfers to changed ones."""
    airl_h_hidden: tuple[int, ...] = (64, 64)
    """Hidden layers of the shaping potential h(s) (g uses disc_hidden)."""
    airl_reward: str = "logit"
    """The generator's reward: logit (log D - log(1-D) = f - log pi, the paper's; reward_form applies)
    or f (the shaped reward alone)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_fields(self, {"airl_h_hidden": Layers(), "airl_reward": OneOf(AIRL_REWARDS)})
        if not self.use_next_obs:
            raise ValueError("AIRLRewardConfig.use_next_obs: must be true (AIRL's h(s') reads the next observation)")
        if self.airl_reward == "f" and self.reward_form != "logit":
            raise ValueError(
                f"AIRLRewardConfig.reward_form is {self.reward_form!r}: reward forms apply to airl_reward=logit only"
            )


@dataclass(frozen=True)
class AIRLConfig(GAILConfig):
    """AIRL settings: GAIL's (generator, BC, run) with AIRL's reward model (``config.reward``)."""

    reward: AIRLRewardConfig = section(AIRLRewardConfig, "")
    """The discriminator, the shaping potential and the generator's reward."""


def airl_config(base: GAILConfig, **changes) -> AIRLConfig:
    """An :class:`AIRLConfig` with ``base``'s GAIL settings (a preset) and ``changes`` (flat names) on top."""
    reward = AIRLRewardConfig(**{**dataclasses.asdict(base.reward), "use_next_obs": True})
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(GAILConfig)}
    return replace(AIRLConfig(**{**fields, "reward": reward}), **changes)


AIRL_REWARD_PRESETS = {"MountainCar-v0": "f"}
"""Envs whose generator is paid the shaped reward f alone. On MountainCar-v0 the paper's f - log pi (its
entropy bonus) left some starts short of the goal: 0.994 / 0.926 / 0.809 normalised on seeds 0-2 at 200k
steps; f alone gave 0.958 / 1.006 / 1.010 in the same probe (the state-only g: 0.815 on seed 2)."""


def airl_preset(env_id: str) -> AIRLConfig:
    """GAIL's tuned settings for ``env_id`` (``gail.algos.presets.preset``) as an AIRL config, with the
    generator's reward of :data:`AIRL_REWARD_PRESETS`."""
    from genplay.gail.algos.presets import preset

    return airl_config(preset(env_id), airl_reward=AIRL_REWARD_PRESETS.get(env_id, "logit"))


class AIRL(GAIL):
    """Adversarial Inverse RL on GAIL's trainer; ``Algo(venv=..., demos=..., config=AIRLConfig())``."""

    reward_model_class = AIRLRewardNet
    config_class = AIRLConfig
    store_class = AIRLStore

    def __init__(self, *, venv, demos: Demos, config: AIRLConfig = AIRLConfig(), **kwargs) -> None:
        if not isinstance(config, AIRLConfig):
            raise TypeError(f"AIRL takes an AIRLConfig, got {type(config).__name__} (see airl_config)")
        super().__init__(venv=venv, demos=demos, config=config, **kwargs)
        self.disc.gamma = self.gamma  # the generator's own discount (a given gen_algo may differ from config.ppo)

    # ------------------------------------------------------------------ rows (GAIL's hooks)
    def _expert_store(self, demos: Demos) -> AIRLStore:
        base = TransitionStore.from_episodes(demos.obs, demos.acts, demos.episode_lengths, with_next=True)
        dones = np.zeros(len(base), dtype=bool)
        dones[np.cumsum(demos.episode_lengths)[demos.terminated] - 1] = True
        return AIRLStore(base.obs, base.obs_idx, base.acts, base.next_idx, dones=dones, masks=demos.action_masks)

    def _rollout_store(self, rollout: dict) -> AIRLStore:
        base = TransitionStore.from_rollout(rollout, with_next=True)
        # SB3's buffer holds the log-probability of each action when it was sampled, (n_steps, n_envs)
        log_pi = np.asarray(self.gen_algo.rollout_buffer.log_probs, dtype=np.float32).reshape(-1).copy()
        if len(log_pi) != len(base):
            raise RuntimeError(f"AIRL: {len(log_pi)} log-probabilities for {len(base)} recorded transitions")
        dones = rollout["terminated"].reshape(-1)
        return AIRLStore(base.obs, base.obs_idx, base.acts, base.next_idx, dones=dones, log_pi=log_pi)

    def _features(self, store: TransitionStore, idx: np.ndarray) -> torch.Tensor:
        log_pi = None if getattr(store, "log_pi", None) is not None else self.policy_log_prob(store, idx)
        return self.disc.features(store, idx, log_pi=log_pi)

    @torch.no_grad()
    def policy_log_prob(self, store: TransitionStore, idx: np.ndarray) -> np.ndarray:
        """``log pi(a|s)`` of the current policy for transitions ``idx`` (the demos' masks honoured)."""
        obs = store.take_obs(store.obs_idx[idx])
        if self.policy_obs_norm is not None:
            obs = self.policy_obs_norm.normalize_obs(obs)
        policy = self.gen_algo.policy
        obs_t, _ = policy.obs_to_tensor(obs)
        acts = torch.as_tensor(np.asarray(store.acts[idx]), device=policy.device)
        acts = acts.long().reshape(-1) if acts.dtype in (torch.int32, torch.int64) else acts.float()
        kwargs = {}
        masks = getattr(store, "masks", None)
        if masks is not None and "action_masks" in inspect.signature(policy.evaluate_actions).parameters:
            kwargs["action_masks"] = masks[idx]
        _, log_prob, _ = policy.evaluate_actions(obs_t, acts, **kwargs)
        return log_prob.reshape(-1).float().cpu().numpy()

    # ------------------------------------------------------------------ the generator's reward
    @torch.no_grad()
    def reward(self, store: TransitionStore) -> np.ndarray:
        """Per-transition reward of the generator: ``f - log pi`` in the reward form, or ``f``; clipped."""
        reward = self.config.reward
        if reward.airl_reward == "f":
            r = self.disc.shaped_rewards(store, "f")
            return (r.clamp(-reward.reward_clip, reward.reward_clip) if reward.reward_clip > 0 else r).cpu().numpy()
        return step_rewards(self.disc.logits(store), reward.reward_form, reward.reward_clip).cpu().numpy()


def train_airl(
    env: str | EnvFactory,
    demos: Demos,
    total_timesteps: int,
    *,
    config: AIRLConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress_bar: bool = False,
    callback: BaseCallback | None = None,
) -> AIRL:
    """Train AIRL on ``env`` (the registry's ``TrainFn``); ``config`` defaults to :func:`airl_preset`.

    The run is GAIL's (``gail.runs.pipeline.train_gail``) with the AIRL trainer: with ``out_dir``
    the whole run-directory contract holds (lock, ``config.json``, atomic ``checkpoint.pt``,
    ``--resume`` refused without a checkpoint, ``--force``, ``policy.zip``, curve, ``logs/``);
    envs with action masks get a MaskablePPO generator.
    """
    from genplay.gail.runs.pipeline import train_gail

    factory = demos.env_factory if isinstance(env, str) and env == demos.env_id else as_factory(env)
    if config is None and not resume:
        config = airl_preset(factory.env_id)
    if config is not None and not isinstance(config, AIRLConfig):
        raise TypeError(f"train_airl takes an AIRLConfig, got {type(config).__name__} (see airl_config)")
    return train_gail(
        factory,
        demos,
        total_timesteps,
        config=config,
        out_dir=out_dir,
        resume=resume,
        force=force,
        progress_bar=progress_bar,
        callback=callback,
        trainer_class=AIRL,
    )


__all__ = ["AIRL", "AIRLConfig", "PPOConfig", "airl_config", "airl_preset", "train_airl"]
