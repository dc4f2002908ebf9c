"""Each classic-control env's tuned SQIL and IQ-Learn settings (the registry's ``preset=`` for ``sqil`` and ``iq``).

SQIL and IQ-Learn on small networks spend their time in Python overhead, not arithmetic: one
SB3 collection step and one update cost about the same whatever the number of envs or the batch.
The presets therefore collect from 16 envs at once and take one update per collection step
(one update per 16 env steps), which on CartPole-v1 reached the same return at the same env-step
budget as one update per env step, several times faster (evidence in the issue 29 report).
The target network follows every collection step (``target_update_interval`` = ``n_envs`` agent
steps, so SB3's DQN does not warn that the envs outnumber the interval).

Pendulum-v1 trains SAC (continuous actions), whose update is three networks' steps.

genplay's ALE ids take the IQ-Learn authors' Pong settings (:data:`_ALE`). Envs without a preset get the
config's defaults (one env, one update per step: the safe choice for an unknown task).
"""

from __future__ import annotations

import dataclasses

from genplay.gail.algos.config import atari_game_of
from genplay.gail.algos.iq_learn import IQLearnConfig
from genplay.gail.algos.sqil import SQILConfig

DISCRETE = {"CartPole-v1", "Acrobot-v1", "MountainCar-v0"}
"""Classic-control envs with Discrete actions (the soft-Q DQN learner)."""

_VECTOR = dict(
    n_envs=16, target_update_interval=16, train_freq=1, gradient_steps=1, learning_starts=1_000, buffer_size=6_240
)
"""Discrete classic control: 16 envs, one update per collection step, the last 6,240 transitions replayed.
Every figure in BENCHMARKS was measured with this buffer: the learner used to divide ``buffer_size`` by
``n_envs`` before SB3's buffer divided it again, so the default 100,000 held 6,240 rows; the preset now
says so (and the learner divides once)."""

_SAC = dict(n_envs=4, train_freq=1, gradient_steps=2, learning_starts=1_000, net_arch=(64, 64), buffer_size=25_000)
"""Pendulum-v1 (SAC): 4 envs, two updates per collection step, 64x64 networks (SB3's 256x256 made
each update about 16 times the arithmetic; SQIL seed 0 still reached -136 against the expert's -144
at 5k steps), the last 25,000 transitions (what the measured runs held, as for :data:`_VECTOR`)."""


_ALE = dict(
    n_envs=1,
    buffer_size=100_000,
    learning_starts=5_000,
    batch_size=64,
    expert_batch_size=64,
    learning_rate=1e-4,
    train_freq=1,
    gradient_steps=1,
    target_update_interval=1_000,
    tau=1.0,
    temperature=1e-3,
)
"""genplay's ALE ids (``genplay/Pong-v0``, ...): the IQ-Learn authors' Pong settings (Garg et al. 2021; their
repository's ``conf/env/pong.yaml``, ``conf/agent/softq.yaml`` and Atari run script): one env, one update per
agent step after 5,000, 100k transitions replayed (2.8 GB of frame stacks, each stored once), 64 learner + 64
demo rows per update, Adam 1e-4, the target network copied every 1,000 steps, soft-Q temperature 1e-3. SQIL
takes the same learner (Reddy et al. 2020 ran soft Q-learning with DQN's Atari settings). Not yet measured
here at Atari scale (GPU work, issue 30); the classic-control presets above were."""


def _tuned(env_id: str) -> dict:
    if env_id in DISCRETE:
        return dict(_VECTOR)
    if env_id.startswith("Pendulum"):
        return dict(_SAC)
    if atari_game_of(env_id) is not None:
        return dict(_ALE)
    return {}


SQIL_LEARNING_RATE = {"Acrobot-v1": 3e-4}
"""SQIL on Acrobot-v1 (seed 0): at 1e-3 it reached -94 at 40k steps, then fell back to -500 by 60k;
at 3e-4 it climbed to -79 at 80k and -75 at 100k."""


SQIL_SAC = dict(learning_rate=3e-4, learn_temperature=False, temperature=0.1)
"""SQIL with SAC (Pendulum-v1): SB3's SAC step size and a fixed entropy coefficient of 0.1. Seed 0
(probe, 10 episodes per point, 2026-12-06): at 1e-3 with the coefficient tuned to SB3's target entropy
it reached 1.008 at 5k and 0.36 by 25k; at 3e-4, tuned, 1.008 / 0.998 / 0.995 / 0.866 at 10k-40k while
the coefficient climbed 0.03 -> 0.38; fixed at 0.01, 1.032 / 1.021 then 0.464 at 30k (the critic no
longer told demo rows from the learner's, 37.2 vs 36.8); fixed at 0.1, 0.999 / 1.023 / 1.020 at 10k-30k.
A coefficient that keeps the policy's actions spread around the expert's keeps the critic's contrast
between demo rows (reward 1) and the learner's own near-expert rows (reward 0)."""


def sqil_preset(env_id: str) -> SQILConfig:
    """SQIL's settings for ``env_id``: tuned for the classic-control envs, the defaults otherwise."""
    tuned = _tuned(env_id)
    if env_id in SQIL_LEARNING_RATE:
        tuned["learning_rate"] = SQIL_LEARNING_RATE[env_id]
    if env_id.startswith("Pendulum"):
        tuned.update(SQIL_SAC)
    return dataclasses.replace(SQILConfig(), **tuned)


IQ_GRADIENT_STEPS = {"MountainCar-v0": 4}
"""IQ-Learn updates per collection step (16 env steps) where one starves it. IQ-Learn's policy is the
softmax of its Q, which learns the expert's action ranking only as fast as it is updated: at one update per
16 env steps, 60k steps are 3,700 updates, and MountainCar seed 1 (20 episodes per point, 2026-12-06)
climbed 0.67 / 0.83 / 0.89 / 1.03 at 20k / 40k / 60k / 80k, the same pace whatever the loss's settings
(value term mixed, temperature 0.1, both, or chi-squared on expert rows: 0.83-0.84 at 60k). Four updates per
collection step: 0.84 / 0.89 / 1.00 / 0.99 at 10k / 20k / 40k / 60k; bench_family.py (50 episodes) at 60k,
seeds 0-2: 0.981 / 0.956 / 0.972 (bench_results/family/iq_mountaincar_s5.jsonl; before: 0.935 / 0.868 / 0.929)."""


IQ_SAC = dict(value_term="v0", chi2_rows="all", use_target=True, learn_temperature=False, temperature=0.1)
"""IQ-Learn with SAC (Pendulum-v1): the value term on the demos' start states, (1 - gamma) E[V(s0)], chi-squared
over all rows, V(s') from the target critics and a fixed entropy coefficient of 0.1 (SQIL's). Seed 0 (probe, 20
episodes, normalised, 2026-12-06): the defaults 0.21 / 0.42 at 5k / 10k; the mixed value term (expert + learner
states) with chi-squared on the policy's actions 0.60 / 0.87 / 0.40 at 5k-15k with a learned coefficient (it
climbed to 0.98), 0.10 / 0.79 / 0.79 fixed at 0.1 (seed 1: 0.21 / 0.03); the authors' MuJoCo settings below
random; their actor's log-std floor of -5 (SB3: -20) changed none of these. This preset: seed 0 0.47 / 0.99 at
5k / 10k, seed 1 0.90 / 1.00 at 10k / 15k; bench_family.py (50 episodes) at 20k, seeds 0-2: 1.016 / 1.009 / 1.017
with the floor on, 1.013 / 1.017 / 1.010 as preset here (bench_results/family/iq_pendulum_s6.jsonl, rows 1-3 / 4-6).
The mixed term pushes V down on the learner's own states, so the actor keeps fleeing to actions the critic has
not seen; v0 presses only on start states and lets chi-squared hold the learner's rows near zero reward."""


def iq_preset(env_id: str) -> IQLearnConfig:
    """IQ-Learn's settings for ``env_id``: tuned for the classic-control envs, the defaults otherwise."""
    tuned = _tuned(env_id)
    if env_id in IQ_GRADIENT_STEPS:
        tuned["gradient_steps"] = IQ_GRADIENT_STEPS[env_id]
    if env_id.startswith("Pendulum"):
        tuned.update(IQ_SAC)
    return dataclasses.replace(IQLearnConfig(), **tuned)
