"""Pretraining on synthetic data: BC warm start of a fresh PPO, then PPO on the true reward.

:func:`warm_start` clones the synthetic actions into a fresh PPO policy (``gail/algos/bc.py``,
early-stopped) and, because PPO's first updates lean on the critic, also fits the value
head to the synthetic episodes' discounted returns (the env's rewards are recorded in
the data). :func:`learn_to_threshold` then runs PPO on the true reward, evaluating every
``eval_every`` steps, and reports the first step count whose evaluation reaches the
threshold: the number compared between warm-started and from-scratch PPO.

Envs with legal-action masks (the board games) get sb3-contrib's MaskablePPO, and BC sees the
synthetic data's masks, so neither arm ever weighs an illegal move.

Cloning is ``gail/algos/bc.py``'s :func:`behaviour_clone`: log-likelihood for discrete actions, the
mean action regressed for continuous ones (why: its docstring).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from torch import nn

from genplay.envs import EnvFactory, as_factory
from genplay.gail.algos.bc import behaviour_clone
from genplay.gail.algos.bc import fit_value as fit_critic
from genplay.gail.data.demos import Demos
from genplay.gail.evaluation.evaluate import episode_returns
from genplay.gail.learners.learner import quiet_logger
from genplay.gail.saving.sb3_io import policy_for_space

# Board games have no rl-zoo recipe: SB3's PPO defaults (lr 3e-4, 10 epochs, 2048 steps a rollout over
# 8 envs) with the wide ReLU policy that imitates them best (BENCHMARKS.md, board games). On connect four
# against random it reaches a 0.9 mean return in about 50k steps from scratch.
BOARD_PPO: dict[str, Any] = {
    "n_envs": 8,
    "ppo": {"n_steps": 256, "batch_size": 256, "policy_kwargs": {"net_arch": [256, 256], "activation_fn": nn.ReLU}},
}


def ppo_settings(env_id: str) -> dict[str, Any]:
    """PPO settings and env count for a from-scratch run: the expert recipe's (rl-zoo) where genplay has one."""
    from genplay.envs.boardgames import game_of
    from genplay.gail.data.experts import linear_schedule, recipe_for

    if game_of(env_id) is not None:
        return {"n_envs": BOARD_PPO["n_envs"], "ppo": {**BOARD_PPO["ppo"]}}
    recipe = recipe_for(env_id)
    kwargs: dict[str, Any] = dict(recipe.ppo)
    if env_id.startswith("Pendulum"):
        kwargs["learning_rate"] = 1e-3
    elif "CartPole" in env_id:
        kwargs.update(learning_rate=linear_schedule(1e-3), clip_range=linear_schedule(0.2))
    return {"n_envs": recipe.n_envs, "ppo": kwargs}


def make_ppo(env: str | EnvFactory, seed: int, settings: dict[str, Any] | None = None) -> PPO:
    """A fresh PPO on ``settings["n_envs"]`` envs seeded from ``seed``: SB3's policy for the observation
    space (Mlp, Cnn for images, MultiInput for dicts), MaskablePPO where the env has action masks."""
    factory = as_factory(env)
    settings = settings or ppo_settings(factory.env_id)
    venv = factory.make_vec(settings["n_envs"], seed=10_000 + seed)
    algo = PPO
    if venv.has_attr("action_masks"):
        from sb3_contrib import MaskablePPO

        algo = MaskablePPO
    model = algo(policy_for_space(venv.observation_space), venv, seed=seed, device="cpu", verbose=0, **settings["ppo"])
    model.set_logger(quiet_logger())
    return model


def discounted_returns(demos: Demos, gamma: float) -> np.ndarray:
    """Per transition, the discounted sum of the rest of its episode's rewards."""
    out = np.empty(demos.n_transitions, dtype=np.float32)
    end = 0
    for length in demos.episode_lengths:
        start, end = end, end + int(length)
        g = 0.0
        for t in range(end - 1, start - 1, -1):
            g = float(demos.rewards[t]) + gamma * g
            out[t] = g
    return out


def fit_value(model: PPO, obs: np.ndarray, targets: np.ndarray, *, epochs: int = 30, batch: int = 256) -> float:
    """Regress the critic on ``targets`` (the policy's own optimiser state is left alone); returns the last MSE."""
    return fit_critic(model.policy, obs, targets, epochs=epochs, batch=batch)


def warm_start(
    model: PPO, demos: Demos, *, max_epochs: int = 50, value: bool = True, seed: int = 0
) -> dict[str, float]:
    """BC of ``model``'s policy on ``demos`` (early-stopped), then its critic on their discounted returns.

    Continuous actions: mean-action regression; others: log-likelihood (``gail/algos/bc.py``, :func:`behaviour_clone`).
    """
    t = demos.transitions()
    stats = behaviour_clone(
        model.policy,
        t["obs"],
        demos.acts,
        episode_lengths=demos.episode_lengths,
        action_masks=demos.action_masks,  # used only by a policy that takes them (MaskablePPO)
        max_epochs=max_epochs,
        rng=np.random.default_rng(seed),
    )
    if value:
        stats["value_mse"] = fit_value(model, t["obs"], discounted_returns(demos, model.gamma))
    return stats


@dataclass
class Curve:
    """Evaluations ``(env steps, mean return)`` and the first step count reaching the threshold."""

    threshold: float
    points: list[tuple[int, float]] = field(default_factory=list)
    steps_to_threshold: int | None = None

    def add(self, steps: int, value: float) -> None:
        self.points.append((int(steps), round(float(value), 2)))
        if self.steps_to_threshold is None and value >= self.threshold:
            self.steps_to_threshold = int(steps)


class _EvalCallback(BaseCallback):
    def __init__(self, curve: Curve, env: EnvFactory, every: int, episodes: int, seed: int) -> None:
        super().__init__()
        self.curve, self.env, self.every, self.episodes, self.seed = curve, env, every, episodes, seed
        self.next_at = every

    def _on_step(self) -> bool:  # stop once the threshold is reached: the rest is not measured
        return self.curve.steps_to_threshold is None

    def _on_rollout_end(self) -> None:
        if self.model.num_timesteps >= self.next_at:
            r = episode_returns(self.env, self.model, self.episodes, seed=self.seed + len(self.curve.points))
            self.curve.add(self.model.num_timesteps, float(r.mean()))
            self.next_at += self.every


def learn_to_threshold(
    model: PPO,
    env: str | EnvFactory,
    *,
    threshold: float,
    budget: int,
    eval_every: int,
    eval_episodes: int = 5,
    seed: int = 0,
) -> Curve:
    """PPO on the true reward until an evaluation reaches ``threshold`` or ``budget`` steps pass.

    The policy is evaluated (deterministically) before the first step too, so a warm
    start already at the threshold counts 0 steps.
    """
    factory = as_factory(env)
    curve = Curve(threshold)
    curve.add(0, float(episode_returns(factory, model, eval_episodes, seed=seed).mean()))
    if curve.steps_to_threshold is None:
        model.learn(budget, callback=_EvalCallback(curve, factory, eval_every, eval_episodes, seed + 1))
    return curve
