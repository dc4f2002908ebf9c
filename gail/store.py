"""Transitions kept compactly on the CPU: each observation stored once, in its own dtype.

Demos and generator rollouts both become a :class:`TransitionStore`: the observation
rows (``uint8`` frames stay ``uint8``), and per transition the index of its observation
and, only when the discriminator reads it, of its next observation. A transition's
next observation is usually the next transition's observation, so it is not stored a
second time; only episode ends add a row (the terminal observation).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

Obs = np.ndarray | dict[str, np.ndarray]


def take(obs: Obs, idx: np.ndarray) -> Obs:
    return {k: v[idx] for k, v in obs.items()} if isinstance(obs, dict) else obs[idx]


def concat(parts: list[Obs]) -> Obs:
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


def n_rows(obs: Obs) -> int:
    return len(next(iter(obs.values()))) if isinstance(obs, dict) else len(obs)


@dataclass(frozen=True)
class TransitionStore:
    """``obs`` rows, and per transition ``obs_idx``, ``acts`` and (optionally) ``next_idx``."""

    obs: Obs
    obs_idx: np.ndarray
    acts: np.ndarray
    next_idx: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.obs_idx)

    def take_obs(self, rows: np.ndarray) -> Obs:
        return take(self.obs, rows)

    @property
    def nbytes(self) -> int:
        arrays: list[Any] = list(self.obs.values()) if isinstance(self.obs, dict) else [self.obs]
        arrays += [self.obs_idx, self.acts] + ([self.next_idx] if self.next_idx is not None else [])
        return int(sum(a.nbytes for a in arrays))

    @staticmethod
    def from_rollout(rollout: dict[str, Any], *, with_next: bool) -> TransitionStore:
        """A recorder rollout (leading dims ``(n_steps, n_envs)``) as a store.

        Row ``t * n_envs + e`` is step ``t`` of env ``e``. Without ``with_next`` only the
        observations the transitions start from are kept.
        """
        obs = rollout["obs"]
        n_steps, n_envs = rollout["dones"].shape
        n = n_steps * n_envs
        flat = (
            {k: v.reshape(n, *v.shape[2:]) for k, v in obs.items()}
            if isinstance(obs, dict)
            else obs.reshape(n, *obs.shape[2:])
        )
        acts = rollout["acts"].reshape(n, *rollout["acts"].shape[2:])
        if not with_next:
            return TransitionStore(flat, np.arange(n), acts)
        # Next row: the same env one step later; after the last step, the final obs (rows n..n+n_envs);
        # at an episode end, its terminal observation (appended after those).
        next_idx = np.arange(n) + n_envs
        dones = rollout["dones"].reshape(-1)
        done_rows = np.flatnonzero(dones)
        next_idx[done_rows] = n + n_envs + np.arange(len(done_rows))
        rows = concat([flat, rollout["last_obs"], rollout["terminal_obs"]])
        return TransitionStore(rows, np.arange(n), acts, next_idx)

    @staticmethod
    def from_episodes(obs: Obs, acts: np.ndarray, episode_lengths: np.ndarray, *, with_next: bool) -> TransitionStore:
        """Demos layout: each episode's observations including its last one, then the next episode's."""
        offsets = np.repeat(np.arange(len(episode_lengths)), episode_lengths)
        idx = np.arange(int(episode_lengths.sum())) + offsets
        return TransitionStore(obs, idx, acts, idx + 1 if with_next else None)
