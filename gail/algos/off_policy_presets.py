"""Each classic-control env's tuned SQIL and IQ-Learn settings (the registry's ``preset=`` for ``sqil`` and ``iq``).

SQIL and IQ-Learn on small networks spend their time in Python overhead, not arithmetic: one
SB3 collection step and one update cost about the same whatever the number of envs or the batch.
The presets therefore collect from 16 envs at once and take one update per collection step
(one update per 16 env steps), which on CartPole-v1 reached the same return at the same env-step
budget as one update per env step, several times faster (evidence in the issue 29 report).
The target network follows every collection step (``target_update_interval`` = ``n_envs`` agent
steps, so SB3's DQN does not warn that the envs outnumber the interval).

Pendulum-v1 trains SAC (continuous actions), whose update is three networks' steps.

Envs without a preset get the config's defaults (one env, one update per step: the safe choice
for an unknown task, and what pixel runs use).
"""

from __future__ import annotations

import dataclasses

from genplay.gail.algos.iq_learn import IQLearnConfig
from genplay.gail.algos.sqil import SQILConfig

DISCRETE = {"CartPole-v1", "Acrobot-v1", "MountainCar-v0"}
"""Classic-control envs with Discrete actions (the soft-Q DQN learner)."""

_VECTOR = dict(n_envs=16, target_update_interval=16, train_freq=1, gradient_steps=1, learning_starts=1_000)
"""Discrete classic control: 16 envs, one update per collection step."""

_SAC = dict(n_envs=4, train_freq=1, gradient_steps=2, learning_starts=1_000)
"""Pendulum-v1 (SAC): 4 envs, two updates per collection step."""


def _tuned(env_id: str) -> dict:
    if env_id in DISCRETE:
        return dict(_VECTOR)
    if env_id.startswith("Pendulum"):
        return dict(_SAC)
    return {}


def sqil_preset(env_id: str) -> SQILConfig:
    """SQIL's settings for ``env_id``: tuned for the classic-control envs, the defaults otherwise."""
    return dataclasses.replace(SQILConfig(), **_tuned(env_id))


def iq_preset(env_id: str) -> IQLearnConfig:
    """IQ-Learn's settings for ``env_id``: tuned for the classic-control envs, the defaults otherwise."""
    return dataclasses.replace(IQLearnConfig(), **_tuned(env_id))
