"""The reward GAIL's generator optimises, defined in one place, and the absorbing-state weights.

Derivation. Episodes end in two ways: *truncation* by a time limit, which is not part
of the task, and *termination*, which is. SB3 treats a truncation as if the episode
went on for ever: it adds ``gamma * V(s_truncated)`` to the last reward. We make
terminations consistent with that infinite, discounted horizon (Kostrikov et al. 2019,
"Discriminator-Actor-Critic"): after terminating, the agent stays for ever in an
absorbing state ``s_a``, a self-loop whose reward ``r_a`` the discriminator sets like
any other (its logit is a learned scalar). The value of that tail, seen from the
terminating step, is

    sum_{k >= 1} gamma^k r_a = r_a * gamma / (1 - gamma)

whatever the step T at which the episode terminated, so the tail is Markov (the critic
needs no clock) and a termination at the time limit is paid like any other. The
per-step reward the generator's return is built from is therefore

    r_t = c * ( clip(f(logit(s_t, a_t))) + [t terminates] * r_a * gamma / (1 - gamma) )

with ``f`` the reward form (``generative/core/rewards.py``), ``clip`` at
``reward_clip``, and ``c`` the return scaler's ``1 / std(discounted return)``. SB3
adds its own ``gamma * V(s)`` on truncated steps, already in scaled units since ``V``
is fitted to scaled returns. Nothing else touches the reward: :func:`generator_rewards`
is the only function that assembles it.

The discriminator sees the same weights. Each side's distribution is its live
transitions, one unit of mass each, plus the absorbing state with mass
``gamma / (1 - gamma)`` per termination, the discounted count of absorbing steps that
the generator is paid for. The absorbing logit's BCE optimum is then
``log(share_expert / share_generator)`` of the absorbing mass. If one side never
terminates (an expert that always reaches a goal the learner has not found yet) that
ratio would be infinite; a prior of ``absorbing_prior`` terminations' worth of mass on
each side keeps it finite and is negligible once real terminations are seen.
The Wasserstein critic has no optimum for a free scalar (its loss is linear in it),
so the configuration refuses to combine the two; ``gamma = 1`` has no finite tail, so
absorbing states need ``gamma < 1``.
"""

from __future__ import annotations

import numpy as np
import torch

from genplay.generative.core import reward_from_logits


def absorbing_tail_weight(gamma: float) -> float:
    """``sum_{k>=1} gamma^k``: the discounted number of absorbing steps after a termination."""
    if not 0.0 < gamma < 1.0:
        raise ValueError(f"absorbing states need 0 < gamma < 1, got {gamma}")
    return gamma / (1.0 - gamma)


def absorbing_mass(n_terminations: int | float, gamma: float, prior: float) -> float:
    """Absorbing-state mass of one side: its terminations plus the prior, each worth the tail weight."""
    return (float(n_terminations) + prior) * absorbing_tail_weight(gamma)


def absorbing_share(n_live: int, absorbing: float) -> float:
    """The absorbing state's share of a side's distribution (live rows weigh 1 each)."""
    return absorbing / (absorbing + n_live)


def step_rewards(logits: torch.Tensor, form: str, clip: float) -> torch.Tensor:
    """Per-step discriminator term ``clip(f(logit))`` (``clip <= 0``: no clipping)."""
    r = reward_from_logits(logits, form)
    return r.clamp(-clip, clip) if clip > 0 else r


def generator_rewards(
    disc_rewards: np.ndarray, terminated: np.ndarray, absorbing_reward: float | None, gamma: float
) -> np.ndarray:
    """Unscaled rewards of a rollout: the discriminator term plus the absorbing tail on terminating steps.

    ``absorbing_reward`` is ``r_a`` (``None`` when absorbing states are off: then a
    termination is worth nothing beyond its own step, and the reward form's sign decides
    whether ending early pays, which is GAIL's well-known survival/termination bias).
    """
    if absorbing_reward is None:
        return disc_rewards
    return disc_rewards + np.where(terminated, absorbing_reward * absorbing_tail_weight(gamma), 0.0)
