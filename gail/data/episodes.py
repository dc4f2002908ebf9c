"""Whole-episode operations on :class:`Demos`: pick some episodes, or join several demo sets.

Synthetic data is filtered and ranked by episode (``gail/data/synth.py``) and mixed with real
demos for GAIL; both need every per-row field (observations of any layout, actions,
rewards, masks, scores) cut and joined consistently, which is what this module does.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from genplay.errors import DemoError
from genplay.gail.data.demos import Demos
from genplay.gail.data.spaces import space_mismatch
from genplay.gail.data.store import StackedFrames


def _obs_rows(demos: Demos, episodes: np.ndarray) -> np.ndarray:
    """Rows of ``demos.obs`` (T_i + 1 per episode) belonging to ``episodes``, in that order."""
    ends = np.cumsum(demos.episode_lengths + 1)
    starts = ends - demos.episode_lengths - 1
    return np.concatenate([np.arange(starts[e], ends[e]) for e in episodes]) if len(episodes) else np.zeros(0, int)


def _step_rows(demos: Demos, episodes: np.ndarray) -> np.ndarray:
    """Transition rows (T_i per episode) belonging to ``episodes``, in that order."""
    ends = np.cumsum(demos.episode_lengths)
    starts = ends - demos.episode_lengths
    return np.concatenate([np.arange(starts[e], ends[e]) for e in episodes]) if len(episodes) else np.zeros(0, int)


def _take_obs(obs: Any, rows: np.ndarray) -> Any:
    if isinstance(obs, StackedFrames):  # keep only the frames the chosen observations use
        used, index = np.unique(obs.index[rows], return_inverse=True)
        return StackedFrames(obs.frames[used], index.reshape(len(rows), -1).astype(np.int32))
    if isinstance(obs, dict):
        return {k: v[rows] for k, v in obs.items()}
    return obs[rows]


def select_episodes(demos: Demos, episodes: np.ndarray | list[int], *, metadata: dict | None = None) -> Demos:
    """The demos made of ``episodes`` (indices, in the order given; repeats allowed).

    ``metadata`` replaces the demos' metadata (default: kept as is).
    """
    episodes = np.asarray(episodes, dtype=np.int64)
    if len(episodes) == 0:
        raise DemoError("no episode selected: demos need at least one episode")
    if episodes.min() < 0 or episodes.max() >= demos.n_episodes:
        raise DemoError(f"episode index out of range [0, {demos.n_episodes})")
    steps = _step_rows(demos, episodes)
    return dataclasses.replace(
        demos,
        obs=_take_obs(demos.obs, _obs_rows(demos, episodes)),
        acts=demos.acts[steps],
        rewards=demos.rewards[steps],
        episode_lengths=demos.episode_lengths[episodes],
        terminated=demos.terminated[episodes],
        action_masks=None if demos.action_masks is None else demos.action_masks[steps],
        scores=None if demos.scores is None else demos.scores[steps],
        metadata=dict(demos.metadata if metadata is None else metadata),
    )


def concat_demos(parts: list[Demos], *, metadata: dict | None = None) -> Demos:
    """One demo set holding every episode of ``parts`` in order (same env and spaces required).

    Scores are kept only when every part has them; ``metadata`` defaults to the first
    part's, with ``parts`` recording each part's episode count and its own metadata.
    """
    if not parts:
        raise DemoError("nothing to join: give at least one demo set")
    first = parts[0]
    for i, d in enumerate(parts[1:], 1):
        if d.env_id != first.env_id:
            raise DemoError(f"demo set {i} is for {d.env_id!r}, the first for {first.env_id!r}")
        for name in ("observation_space", "action_space"):
            why = space_mismatch(getattr(d, name), getattr(first, name))
            if why:
                raise DemoError(f"demo set {i}: its {name} is {why}")
        if (d.action_masks is None) != (first.action_masks is None):
            raise DemoError(f"demo set {i}: action masks in some sets but not in others")
    if isinstance(first.obs, StackedFrames):
        offsets = np.cumsum([0] + [len(d.obs.frames) for d in parts[:-1]])
        index = np.concatenate([d.obs.index + o for d, o in zip(parts, offsets)])
        obs: Any = StackedFrames(np.concatenate([d.obs.frames for d in parts]), index)
    elif isinstance(first.obs, dict):
        obs = {k: np.concatenate([d.obs[k] for d in parts]) for k in first.obs}
    else:
        obs = np.concatenate([d.obs for d in parts])

    def cat(name: str) -> np.ndarray | None:
        values = [getattr(d, name) for d in parts]
        return None if any(v is None for v in values) else np.concatenate(values)

    meta = dict(first.metadata) if metadata is None else dict(metadata)
    if metadata is None and len(parts) > 1:
        meta["parts"] = [{"n_episodes": d.n_episodes, "metadata": d.metadata} for d in parts]
    return dataclasses.replace(
        first,
        obs=obs,
        acts=cat("acts"),
        rewards=cat("rewards"),
        episode_lengths=cat("episode_lengths"),
        terminated=cat("terminated"),
        action_masks=cat("action_masks"),
        scores=cat("scores"),
        metadata=meta,
    )
