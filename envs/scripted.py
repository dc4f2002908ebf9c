"""Scripted experts: batched, hand-written controllers that need no training and no download.

Each maps a batch of observations to a batch of actions (the ``PolicyFn`` convention of
``genplay.gail.data.demos``), so demos can be collected from them like from any policy.
They make tasks where *termination is success* (the expert ends episodes early) and
tasks outside the PPO-expert cache usable for imitation benchmarks.
"""

from __future__ import annotations

import numpy as np


def mountain_car(obs: np.ndarray) -> np.ndarray:
    """MountainCar-v0: push in the direction of motion (pumps energy until the car tops the hill)."""
    obs = np.asarray(obs)
    return np.where(obs[:, 1] < 0, 0, 2).astype(np.int64)


def mountain_car_continuous(obs: np.ndarray) -> np.ndarray:
    """MountainCarContinuous-v0: full force in the direction of motion."""
    obs = np.asarray(obs)
    return np.where(obs[:, 1] < 0, -1.0, 1.0).astype(np.float32)[:, None]


def acrobot(obs: np.ndarray) -> np.ndarray:
    """Acrobot-v1: torque in the direction of the second joint's velocity (pumps energy into the swing)."""
    obs = np.asarray(obs)
    return np.where(obs[:, 5] > 0, 2, 0).astype(np.int64)


def pendulum(obs: np.ndarray) -> np.ndarray:
    """Pendulum-v1: energy-shaping swing-up, then a PD controller near the top."""
    obs = np.asarray(obs, dtype=np.float64)
    cos, sin, vel = obs[:, 0], obs[:, 1], obs[:, 2]
    theta = np.arctan2(sin, cos)  # 0 is upright
    energy = vel**2 / 6.0 + 5.0 * (cos - 1.0)  # rod of m = l = 1, g = 10: 0 at rest upright
    swing = np.sign(vel + 1e-6) * np.clip(-2.0 * energy, -2.0, 2.0)  # pump energy towards 0
    near_top = cos > 0.9  # within ~25 degrees, where 2 units of torque beat gravity
    balance = -8.0 * theta - 1.5 * vel
    return np.clip(np.where(near_top, balance, swing), -2.0, 2.0).astype(np.float32)[:, None]


SCRIPTED_EXPERTS = {
    "MountainCar-v0": mountain_car,
    "MountainCarContinuous-v0": mountain_car_continuous,
    "Acrobot-v1": acrobot,
    "Pendulum-v1": pendulum,
}
"""Env id -> scripted expert."""
