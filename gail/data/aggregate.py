"""DAgger's aggregated data set: every state the learner or the expert visited, labelled by the expert."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genplay.errors import EnvError
from genplay.gail.data.demos import Demos


@dataclass
class Dataset:
    """The aggregated data set D: observations, expert labels, legal-action masks, segment lengths."""

    obs: np.ndarray
    acts: np.ndarray
    masks: np.ndarray | None
    lengths: np.ndarray

    def __len__(self) -> int:
        return len(self.acts)

    @classmethod
    def from_demos(cls, demos: Demos) -> Dataset:
        if isinstance(demos.obs, dict) or not isinstance(demos.obs, np.ndarray):
            raise EnvError("DAgger stores plain array observations (no Dict or stacked-frame demos)")
        masks = None if demos.action_masks is None else np.asarray(demos.action_masks, dtype=bool)
        return cls(np.asarray(demos.transitions()["obs"]), np.asarray(demos.acts), masks, demos.episode_lengths.copy())

    def extend(self, other: Dataset) -> Dataset:
        """``D u D_i`` (the aggregation step)."""
        masks = None if self.masks is None else np.concatenate([self.masks, other.masks])
        return Dataset(
            np.concatenate([self.obs, other.obs]),
            np.concatenate([self.acts, other.acts]),
            masks,
            np.concatenate([self.lengths, other.lengths]),
        )
