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


class StackedFrames:
    """Frame-stacked observations kept as unique frames plus, per observation, the indices of its frames.

    Consecutive Atari observations share three of their four frames; storing each frame
    once cuts memory 4x (20 Pong games: 7 GB of stacks, 1.75 GB of frames). Indexing with
    an array builds the ``(B, stack, H, W)`` uint8 minibatch; :meth:`subset` stays lazy.
    """

    def __init__(self, frames: np.ndarray, index: np.ndarray) -> None:
        self.frames, self.index = frames, index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, idx) -> np.ndarray:
        return self.frames[self.index[idx]]

    def subset(self, idx: np.ndarray) -> StackedFrames:
        return StackedFrames(self.frames, self.index[idx])

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.index), self.index.shape[1], *self.frames.shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self.frames.dtype

    @property
    def nbytes(self) -> int:
        return int(self.frames.nbytes + self.index.nbytes)

    @staticmethod
    def from_stacks(stacks: np.ndarray, episode_lengths: np.ndarray | None = None) -> StackedFrames:
        """Deduplicate ``(N, stack, H, W)`` observations (``episode_lengths``: observations per episode)."""
        builder = FrameStackBuilder()
        starts = set(np.cumsum(episode_lengths)[:-1].tolist()) if episode_lengths is not None else set()
        for t, obs in enumerate(stacks):
            if t in starts:
                builder.new_episode()
            builder.add(obs)
        return builder.build()

    def validate(self, n_rows: int, shape: tuple[int, ...]) -> str | None:
        """Why these arrays cannot be ``n_rows`` observations of ``shape``, or None."""
        frames, index = self.frames, self.index
        if frames.ndim != len(shape) or frames.shape[1:] != tuple(shape[1:]) or frames.dtype != np.uint8:
            want = ", ".join(map(str, shape[1:]))
            return f"'obs_frames' must be uint8 of shape (F, {want}), got {frames.dtype} {frames.shape}"
        if index.shape != (n_rows, shape[0]) or not np.issubdtype(index.dtype, np.integer):
            return f"'obs_frame_index' must be integers of shape ({n_rows}, {shape[0]}), got {index.dtype}{index.shape}"
        if self.index.size and (self.index.min() < 0 or self.index.max() >= len(self.frames)):
            return f"'obs_frame_index' points outside the {len(self.frames)} frames"
        return None


class FrameStackBuilder:
    """Collects stacked observations one at a time, storing each distinct frame once.

    A frame is shared with the previous observation of the same episode when it is that
    observation's next frame, bit for bit (the frame stack shifted by one); anything else
    (a new episode, a stack reset) stores the frames anew, so no observation is ever altered.
    """

    def __init__(self) -> None:
        self.frames: list[np.ndarray] = []
        self.index: list[np.ndarray] = []
        self._prev: np.ndarray | None = None

    def new_episode(self) -> None:
        self._prev = None

    def add(self, obs: np.ndarray) -> None:
        obs = np.asarray(obs)
        ids = np.empty(len(obs), dtype=np.int32)
        prev, prev_ids = self._prev, self.index[-1] if self.index else None
        for j, frame in enumerate(obs):
            if prev is not None and j + 1 < len(obs) and np.array_equal(frame, prev[j + 1]):
                ids[j] = prev_ids[j + 1]
            else:
                ids[j] = len(self.frames)
                self.frames.append(frame)
        self.index.append(ids)
        self._prev = obs

    def build(self) -> StackedFrames:
        return StackedFrames(np.stack(self.frames), np.stack(self.index))


Obs = np.ndarray | dict[str, np.ndarray] | StackedFrames


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
