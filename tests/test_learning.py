"""End-to-end learning tests (``pytest -k learn``): each fails when the part of GAIL it guards breaks.

- Pure GAIL (no BC warm start) must learn CartPole from the discriminator's reward alone:
  with that reward forced to zero the policy stays near random (checked by hand, see
  BENCHMARKS.md), so BC cannot carry this test.
- From uniform-random demos, the survival-biased ``positive`` reward form must not learn
  to balance: only absorbing states remove that bias (with ``absorbing=False`` the same
  run balances far longer than the demonstrator).
"""

from __future__ import annotations

import pytest
import torch

from genplay.gail.algos.config import replace
from genplay.gail.algos.presets import preset
from genplay.gail.data.collect import collect_demos
from genplay.gail.evaluation.evaluate import episode_returns
from genplay.gail.runs.pipeline import train_gail

ENV = "CartPole-v1"
pytestmark = pytest.mark.slow  # learning runs with thresholds: the slow tier


def test_learn_cartpole_by_pure_gail_without_bc(heuristic_policy):
    torch.set_num_threads(1)
    demos = collect_demos(ENV, heuristic_policy, 10, seed=100, metadata={"policy": "heuristic"})
    assert float(demos.episode_returns().mean()) >= 400  # the heuristic is a good demonstrator
    random_return = float(episode_returns(ENV, "random", 10, seed=1000).mean())
    assert random_return < 40
    config = replace(preset(ENV), seed=0, bc_epochs=0)
    trainer = train_gail(ENV, demos, 30_000, config=config)  # 500 already at 20k (2026-12-07); 60k before
    learned = episode_returns(ENV, trainer, 10, seed=1000, deterministic=True)
    print(f"random {random_return:.1f}, pure GAIL {learned.mean():.1f}")
    assert learned.mean() > 250, learned  # random is ~22


def test_learn_no_survival_bonus_from_random_demos_with_the_positive_reward():
    """The ``positive`` form -log(1-D) > 0 pays for every step alive; absorbing states must cancel that."""
    torch.set_num_threads(1)
    demos = collect_demos(ENV, "random", 30, seed=200, metadata={"policy": "random"})
    demo_return = float(demos.episode_returns().mean())
    assert demos.terminated.all() and 15 < demo_return < 40
    config = replace(preset(ENV), seed=0, reward_form="positive")
    trainer = train_gail(ENV, demos, 30_000, config=config)
    learned = episode_returns(ENV, trainer, 20, seed=1000, deterministic=False)
    print(f"random demos {demo_return:.1f}, learned (stochastic) {learned.mean():.1f}")
    assert learned.mean() < 2.5 * demo_return, (learned.mean(), demo_return)
