"""GAIL's data-parallel pieces: how a config splits over torchrun ranks, and demo sharding.

The gradient averaging and statistic reductions themselves are the shared core's
(:mod:`genplay.generative.core.distributed`).
"""

from __future__ import annotations

import numpy as np

from genplay.errors import DistributedError
from genplay.gail.algos.config import GAILConfig
from genplay.gail.data.store import TransitionStore
from genplay.generative.core.distributed import DistContext


def check_world_size(config: GAILConfig, dist: DistContext | None) -> int:
    """The number of ranks; the config's envs and batches must split evenly over them."""
    world = dist.world_size if dist is not None else 1
    for name, value in (
        ("n_envs", config.run.n_envs),
        ("disc_batch_size", config.reward.disc_batch_size),
        ("ppo.batch_size", config.ppo.batch_size),
    ):
        if value % world:
            raise DistributedError(f"GAILConfig.{name}: {value} does not split over {world} ranks (must be a multiple)")
    return world


def shard_store(store: TransitionStore, episode_lengths: np.ndarray, rank: int, world: int) -> TransitionStore:
    """The transitions of episodes ``rank, rank + world, ...`` (every rank needs at least one episode)."""
    if len(episode_lengths) < world:
        raise DistributedError(f"--shard-demos: {len(episode_lengths)} demo episodes cannot be shared by {world} ranks")
    episode = np.repeat(np.arange(len(episode_lengths)), episode_lengths)
    keep = np.flatnonzero(episode % world == rank)
    nxt = store.next_idx[keep] if store.next_idx is not None else None
    return TransitionStore(store.obs, store.obs_idx[keep], store.acts[keep], nxt)
