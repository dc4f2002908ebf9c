"""Small end-to-end learning tests: GAIL must imitate a good policy, and must not invent balancing."""

from __future__ import annotations

import dataclasses
import time

import numpy as np
import torch

from genplay.gail.config import preset
from genplay.gail.demos import collect_demos
from genplay.gail.evaluate import episode_returns
from genplay.gail.pipeline import train_gail

ENV = "CartPole-v1"


def test_gail_learns_cartpole_from_heuristic_demos(heuristic_policy):
    torch.set_num_threads(1)
    start = time.perf_counter()
    demos = collect_demos(ENV, heuristic_policy, 10, seed=100, metadata={"policy": "heuristic"})
    demo_return = float(demos.episode_returns().mean())
    assert demo_return >= 400  # the heuristic is a good demonstrator (it reaches the 500 cap)
    random_return = float(episode_returns(ENV, "random", 10, seed=1000).mean())
    assert random_return < 40

    config = dataclasses.replace(preset(ENV), seed=0)
    trainer = train_gail(ENV, demos, 50_000, config=config)
    learned = episode_returns(ENV, trainer, 10, seed=1000, deterministic=True)
    elapsed = time.perf_counter() - start
    print(f"heuristic demos {demo_return:.1f}, random {random_return:.1f}, learned {learned.mean():.1f} "
          f"({np.round(learned).tolist()}), {elapsed:.1f} s")  # fmt: skip
    assert learned.mean() > 150, learned  # random is ~22: a wide margin over random
    assert trainer.num_timesteps >= 50_000


def test_no_survival_bonus_from_random_demos():
    """From uniform-random demos, the learner should look random too, not learn to balance.

    A survival bonus (always-positive reward without absorbing states) would make it balance
    far longer than the demonstrator; absorbing states remove that bias.
    """
    torch.set_num_threads(1)
    demos = collect_demos(ENV, "random", 30, seed=200, metadata={"policy": "random"})
    demo_return = float(demos.episode_returns().mean())
    assert demos.terminated.all() and 15 < demo_return < 40
    config = dataclasses.replace(preset(ENV), seed=0)
    trainer = train_gail(ENV, demos, 30_000, config=config)
    learned = episode_returns(ENV, trainer, 20, seed=1000, deterministic=False)
    print(f"random demos {demo_return:.1f}, learned (stochastic) {learned.mean():.1f}")
    assert learned.mean() < 3 * demo_return, (learned.mean(), demo_return)
