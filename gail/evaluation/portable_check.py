"""Whether a run's ``policy.zip`` acts the same under SB3's own loader as under genplay's.

The check behind ``scripts/check_portable.py`` and ``tests/test_portable_policy.py``: roll
genplay's policy (:func:`genplay.gail.runs.pipeline.load_policy`, never unpickling) in the env for
``n_obs`` raw observations (legal-action masks recorded where the env has them), ask SB3's own
``PPO.load`` / ``MaskablePPO.load`` / ``DQN.load`` model for its deterministic action on each, and
count the matches; then the mean true return of each over whole episodes.

SB3's loader unpickles the zip's ``data`` (runs code): use this only on runs you trust, such as
one you just trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm

from genplay.envs import EnvFactory, as_factory
from genplay.errors import CheckpointError
from genplay.gail.data.collect import PolicyFn, env_action_masks
from genplay.gail.evaluation.evaluate import episode_returns
from genplay.gail.saving.sb3_io import algo_class
from genplay.gail.saving.sb3_zip import read_sb3_zip


def policy_zip(run: str | Path) -> Path:
    """``RUN/policy.zip`` of a run directory, or the zip itself."""
    path = Path(run)
    zip_path = path / "policy.zip" if path.is_dir() else path
    if not zip_path.is_file():
        raise CheckpointError(f"{zip_path}: no such policy zip (expected a `genplay gail train` output dir)")
    return zip_path


def sb3_load(run: str | Path) -> BaseAlgorithm:
    """The zip opened by SB3's own loader of the class genplay stored it as (it unpickles: trusted files only)."""
    path = policy_zip(run)
    meta = read_sb3_zip(path)[0]
    if meta is None:
        raise CheckpointError(f"{path}: no genplay.json member; not a policy exported by genplay")
    return algo_class(meta["algo"]).load(path, device="cpu")


def run_env(run: str | Path) -> EnvFactory:
    """The env the run's policy was trained on, as its ``genplay.json`` records it."""
    path = policy_zip(run)
    meta = read_sb3_zip(path)[0] or {}
    env = (meta.get("extra") or {}).get("env")
    if env is None:
        raise CheckpointError(f"{path}: genplay.json names no env; give the env")
    return EnvFactory.from_dict(env, source=str(path))


def raw_observations(
    env: str | EnvFactory, policy: PolicyFn, n_obs: int, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray | None]:
    """``n_obs`` raw observations met by ``policy`` playing ``env`` (episodes restarted as they end),
    and the legal-action masks at each (None for envs without masks)."""
    gym_env = as_factory(env).make()
    obs_rows, mask_rows = [], []
    obs, _ = gym_env.reset(seed=seed)
    try:
        while len(obs_rows) < n_obs:
            mask = env_action_masks(gym_env)
            obs_rows.append(np.asarray(obs))
            mask_rows.append(mask)
            batch_mask = None if mask is None else mask[None]
            action = np.asarray(policy(np.asarray(obs)[None], batch_mask))[0]
            obs, _, terminated, truncated, _ = gym_env.step(action)
            if terminated or truncated:
                obs, _ = gym_env.reset()
    finally:
        gym_env.close()
    masks = None if mask_rows[0] is None else np.stack(mask_rows)
    return np.stack(obs_rows), masks


def same_actions(
    model: BaseAlgorithm, policy: PolicyFn, obs: np.ndarray, masks: np.ndarray | None, *, chunk: int = 256
) -> np.ndarray:
    """Per observation, whether ``model.predict`` (deterministic; masked where ``masks``) and ``policy``
    agree: equal actions, or continuous actions equal within 1e-5."""
    out = []
    for start in range(0, len(obs), chunk):
        rows = slice(start, start + chunk)
        kwargs: dict[str, Any] = {} if masks is None else {"action_masks": masks[rows]}
        a = np.asarray(model.predict(obs[rows], deterministic=True, **kwargs)[0])
        b = np.asarray(policy(obs[rows], None if masks is None else masks[rows]))
        if isinstance(model.action_space, spaces.Box):
            same = np.isclose(a, b, rtol=0, atol=1e-5).reshape(len(a), -1).all(axis=1)
        else:
            same = (a.reshape(len(a), -1) == b.reshape(len(b), -1)).all(axis=1)
        out.append(same)
    return np.concatenate(out)


def check_portable(
    run: str | Path, *, env: str | EnvFactory | None = None, n_obs: int = 1000, n_episodes: int = 10, seed: int = 0
) -> dict[str, Any]:
    """``{env, n_obs, same_actions_fraction, sb3_return_mean, genplay_return_mean}`` of a run (see the
    module docstring); ``n_episodes=0`` skips the returns (None)."""
    from genplay.gail.saving.run_files import load_policy

    factory = as_factory(env) if env is not None else run_env(run)
    policy = load_policy(run, env_id=factory.env_id)
    model = sb3_load(run)
    obs, masks = raw_observations(factory, policy, n_obs, seed=seed)
    same = same_actions(model, policy, obs, masks)
    out: dict[str, Any] = {"env": factory.env_id, "n_obs": int(len(obs)), "same_actions_fraction": float(same.mean())}
    returns: dict[str, float | None] = {"sb3_return_mean": None, "genplay_return_mean": None}
    if n_episodes > 0:
        returns["sb3_return_mean"] = float(episode_returns(factory, model, n_episodes, seed=seed + 1).mean())
        returns["genplay_return_mean"] = float(episode_returns(factory, policy, n_episodes, seed=seed + 1).mean())
    return {**out, **returns}
