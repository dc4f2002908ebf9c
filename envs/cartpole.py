"""Fixed-horizon CartPole: every episode runs exactly ``max_episode_steps`` steps.

Like ``seals/CartPole-v0`` (Gleave et al. 2020): termination is removed, so an
imitation learner cannot exploit the episode length (a "survival bonus" from an always
positive reward, or a termination bonus from an always negative one). The reward is 1
while the pole and cart are inside the usual CartPole limits and 0 otherwise, so the
true return still measures balancing and stays comparable with CartPole-v1 (max 500).
"""

from __future__ import annotations

import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control.cartpole import CartPoleEnv


class FixedHorizonCartPoleEnv(CartPoleEnv):
    """CartPole that never terminates; pair it with a ``TimeLimit`` (the registered id does)."""

    def __init__(self, render_mode: str | None = None) -> None:
        super().__init__(render_mode=render_mode)
        high = np.full(4, np.finfo(np.float32).max, dtype=np.float32)
        self.observation_space = spaces.Box(-high, high, dtype=np.float32)

    def step(self, action):
        obs, _, _, truncated, info = super().step(action)
        x, _, theta, _ = self.state
        upright = abs(x) <= self.x_threshold and abs(theta) <= self.theta_threshold_radians
        # The parent counts steps past a termination and warns; we never terminate.
        self.steps_beyond_terminated = None
        return obs, float(upright), False, truncated, info
