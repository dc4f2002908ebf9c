"""Expert policies: train (and cache) SB3 PPO experts, or wrap any policy as one."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecEnv

from genplay.envs import FIXED_HORIZON_CARTPOLE_ID, check_env_id
from genplay.errors import CheckpointError, GenplayError
from genplay.gail.saving.sb3_zip import save_sb3_zip
from genplay.generative.core import atomic_write


def cache_dir() -> Path:
    """Where experts are cached: ``$GENPLAY_CACHE_DIR`` or ``~/.cache/genplay``."""
    return Path(os.environ.get("GENPLAY_CACHE_DIR", Path.home() / ".cache" / "genplay"))


def linear_schedule(start: float) -> LinearSchedule:
    """``start`` decayed linearly to 0 over training (rl-zoo's ``lin_`` schedules).

    SB3's own ``LinearSchedule`` rather than a lambda: it is stored in the expert's zip as
    a schedule, and it stays at 0 when a run overshoots its budget (progress < 0) where a
    lambda went negative and the saved learning rate could no longer be loaded.
    """
    return LinearSchedule(start, 0.0, 1.0)


@dataclass(frozen=True)
class ExpertRecipe:
    """How to train an expert: PPO settings, a budget, and the return that counts as done."""

    n_envs: int
    ppo: dict[str, Any] = field(default_factory=dict)
    chunk: int = 50_000
    max_steps: int = 1_000_000
    threshold: float | None = None


_CARTPOLE = ExpertRecipe(  # rl-baselines3-zoo hyper-parameters
    n_envs=8,
    ppo=dict(n_steps=32, batch_size=256, gae_lambda=0.8, gamma=0.98, n_epochs=20, ent_coef=0.0),
    chunk=50_000,
    max_steps=500_000,
    threshold=495.0,
)
RECIPES: dict[str, ExpertRecipe] = {
    "CartPole-v1": _CARTPOLE,
    FIXED_HORIZON_CARTPOLE_ID: _CARTPOLE,
    "Pendulum-v1": ExpertRecipe(
        n_envs=4,
        ppo=dict(
            n_steps=1024,
            gae_lambda=0.95,
            gamma=0.9,
            n_epochs=10,
            ent_coef=0.0,
            clip_range=0.2,
            use_sde=True,
            sde_sample_freq=4,
        ),
        chunk=100_000,
        max_steps=600_000,
        threshold=-200.0,
    ),
}


def recipe_for(env_id: str) -> ExpertRecipe:
    """The tuned recipe for ``env_id``, else PPO defaults up to the env's reward threshold."""
    spec = check_env_id(env_id)
    return RECIPES.get(env_id, ExpertRecipe(n_envs=8, threshold=spec.reward_threshold))


def expert_path(env_id: str, seed: int = 0, env_kwargs: dict[str, Any] | None = None) -> Path:
    """The cached expert's zip; ``env_kwargs`` (``gym.make`` arguments, e.g. Pendulum's ``g``) key it too."""
    tag = ""
    if env_kwargs:
        import hashlib

        text = json.dumps(env_kwargs, sort_keys=True)
        tag = "__kw" + hashlib.sha256(text.encode()).hexdigest()[:12]
    return cache_dir() / "experts" / f"{env_id.replace('/', '_')}{tag}__ppo__seed{seed}.zip"


def evaluate(model: Any, venv: VecEnv, n_episodes: int, deterministic: bool = True) -> tuple[float, float]:
    returns, _ = evaluate_policy(
        model, venv, n_eval_episodes=n_episodes, deterministic=deterministic, return_episode_rewards=True
    )
    return float(np.mean(returns)), float(np.std(returns))


def train_expert(
    env_id: str, *, seed: int = 0, force: bool = False, verbose: bool = True, env_kwargs: dict[str, Any] | None = None
) -> PPO:
    """Train a PPO expert until its mean return reaches the recipe's threshold; cache it.

    A cached expert is loaded instead, unless ``force``. ``env_kwargs`` go to ``gym.make``
    (``{"g": 12.0}``: Pendulum under another gravity) and are part of the cache key.
    """
    path = expert_path(env_id, seed, env_kwargs)
    if path.exists() and not force:
        return load_expert(env_id, seed, env_kwargs)
    recipe = recipe_for(env_id)
    ppo_kw = dict(recipe.ppo)
    if env_id in ("CartPole-v1", FIXED_HORIZON_CARTPOLE_ID):
        ppo_kw.update(learning_rate=linear_schedule(1e-3), clip_range=linear_schedule(0.2))
    elif env_id.startswith("Pendulum"):
        ppo_kw.update(learning_rate=1e-3)
    venv = make_vec_env(env_id, n_envs=recipe.n_envs, seed=10_000 + seed, env_kwargs=env_kwargs)
    eval_env = make_vec_env(env_id, n_envs=4, seed=20_000 + seed, env_kwargs=env_kwargs)
    model = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **ppo_kw)
    model.set_logger(Logger(folder=None, output_formats=[]))  # no empty /tmp/SB3-* dir per learn (learner.quiet_logger)
    mean = float("-inf")
    while model.num_timesteps < recipe.max_steps:
        model.learn(recipe.chunk, reset_num_timesteps=False, progress_bar=verbose)
        mean, std = evaluate(model, eval_env, 20)
        if verbose:
            print(f"[expert {env_id}] steps={model.num_timesteps} return={mean:.1f}+-{std:.1f}", flush=True)
        if recipe.threshold is not None and mean >= recipe.threshold:
            break
    save_sb3_zip(model, path)  # SB3's layout plus genplay.json, so loading never unpickles
    info = {"env_id": env_id, "seed": seed, "steps": int(model.num_timesteps), "eval_return": mean}
    if env_kwargs:
        info["env_kwargs"] = env_kwargs
    atomic_write(path.with_suffix(".json"), lambda tmp: Path(tmp).write_text(json.dumps(info)))
    venv.close()
    eval_env.close()
    return load_expert(env_id, seed, env_kwargs)  # what is cached must load back: the caller gets that copy


def load_expert(env_id: str, seed: int = 0, env_kwargs: dict[str, Any] | None = None) -> PPO:
    """Load the cached expert for ``env_id`` (and ``env_kwargs``; train it first with :func:`train_expert`)."""
    path = expert_path(env_id, seed, env_kwargs)
    if not path.exists():
        raise GenplayError(f"{path}: no cached expert for {env_id}; run `genplay expert train --env {env_id}`")
    from genplay.envs import make_env
    from genplay.gail.saving.sb3_zip import load_sb3_zip

    env = make_env(env_id)
    try:
        model, _ = load_sb3_zip(path, observation_space=env.observation_space, action_space=env.action_space)
    except CheckpointError as exc:
        raise CheckpointError(
            f"the cached expert for {env_id} cannot be loaded ({exc}); "
            f"retrain it with `genplay expert train --env {env_id} --force`"
        ) from None
    finally:
        env.close()
    return model
