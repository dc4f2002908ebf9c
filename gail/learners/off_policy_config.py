"""The settings and the minibatch of the off-policy imitation learner (``off_policy.py``: SQIL, IQ-Learn).

Kept apart so the configs (``SQILConfig``, ``IQLearnConfig``) and the presets read their fields
without the trainer's SB3 machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import torch

from genplay.errors import GenplayError
from genplay.generative.core.checks import check_device, check_float, check_int

MAX_BUFFER = 2_000_000
"""Replay rows at most (observations and next observations are both stored)."""


@dataclass(frozen=True)
class OffPolicyConfig:
    """The off-policy learner's settings (SB3's names where SB3 has them; steps are agent steps)."""

    n_envs: int = 1
    """Parallel envs collecting experience."""
    seed: int = 0
    """Seed of the envs, the networks and the minibatch draws."""
    device: str = "auto"
    """Torch device: auto, cpu or cuda."""
    torch_threads: int = 1
    """Torch intra-op threads (small nets run fastest on one)."""
    checkpoint_every: int = 10_000
    """Agent steps between checkpoints of a run directory (0: only at the end)."""
    buffer_size: int = 100_000
    """Replay capacity in transitions (all envs together)."""
    learning_starts: int = 1_000
    """Agent steps collected (uniformly random actions) before the first update."""
    batch_size: int = 64
    """Learner (replay) rows per update."""
    expert_batch_size: int = 64
    """Expert (demo) rows per update."""
    learning_rate: float = 1e-3
    """Adam step size (the Q-network; SAC: actor, critics and temperature)."""
    gamma: float = 0.99
    """Discount factor."""
    train_freq: int = 1
    """Vector-env steps between updates."""
    gradient_steps: int = 1
    """Updates per train call."""
    target_update_interval: int = 1
    """Discrete: agent steps between target-network updates; SAC: updates between them."""
    tau: float = 0.005
    """Polyak coefficient of the target update (1: hard copy)."""
    temperature: float = 0.01
    """Entropy temperature alpha: the soft-Q policy is softmax(Q / alpha); SAC's initial entropy coefficient."""
    learn_temperature: bool = True
    """SAC only: tune the temperature towards SB3's target entropy (-action dims)."""
    exploration: str = "boltzmann"
    """Discrete only: how the learner explores, boltzmann (sample softmax(Q / alpha)) or epsilon (greedy)."""
    exploration_fraction: float = 0.1
    """Epsilon exploration: share of the run over which epsilon decays linearly."""
    exploration_initial_eps: float = 1.0
    """Epsilon exploration: epsilon at the start."""
    exploration_final_eps: float = 0.02
    """Epsilon exploration: epsilon after the decay."""
    max_grad_norm: float = 10.0
    """Gradient-norm clip of the Q update (discrete)."""
    net_arch: tuple[int, ...] = ()
    """Hidden layers of the Q-network / actor and critics, after NatureCNN on pixels (none given: SB3's
    defaults, 64x64 for DQN, 256x256 for SAC; on pixels none)."""
    centre_frames: bool = True
    """Pixels: the network sees frames centred on the mean demo frame (CenteredNatureCNN), not x / 255."""

    def __post_init__(self) -> None:
        check_off_policy_fields(self)


def check_off_policy_fields(c: OffPolicyConfig) -> None:
    """Refuse out-of-range settings, one ``GenplayError`` naming ``Class.field`` and the bound."""
    name = type(c).__name__
    for field, low, high in (
        ("n_envs", 1, 1024),
        ("seed", 0, 2**31 - 1),
        ("torch_threads", 1, 256),
        ("checkpoint_every", 0, None),
        ("buffer_size", 2, MAX_BUFFER),
        ("learning_starts", 0, None),
        ("batch_size", 0, 65_536),
        ("expert_batch_size", 1, 65_536),
        ("train_freq", 1, None),
        ("gradient_steps", 1, 10_000),
        ("target_update_interval", 1, None),
    ):
        check_int(f"{name}.{field}", getattr(c, field), low, high)
    check_float(f"{name}.learning_rate", c.learning_rate, 0, low_open=True)
    check_float(f"{name}.gamma", c.gamma, 0, 1, low_open=True, high_open=True)
    check_float(f"{name}.tau", c.tau, 0, 1, low_open=True)
    check_float(f"{name}.temperature", c.temperature, 0, low_open=True)
    check_float(f"{name}.max_grad_norm", c.max_grad_norm, 0, low_open=True)
    for field in ("exploration_fraction", "exploration_initial_eps", "exploration_final_eps"):
        check_float(f"{name}.{field}", getattr(c, field), 0, 1)
    if c.exploration not in ("boltzmann", "epsilon"):
        raise GenplayError(f"{name}.exploration: expected boltzmann or epsilon, got {c.exploration!r}")
    if not isinstance(c.learn_temperature, bool) or not isinstance(c.centre_frames, bool):
        raise GenplayError(f"{name}.learn_temperature / centre_frames: expected true or false")
    if not isinstance(c.net_arch, tuple) or not all(isinstance(w, int) and 1 <= w <= 8192 for w in c.net_arch):
        raise GenplayError(f"{name}.net_arch: expected layer widths in [1, 8192], got {c.net_arch!r}")
    check_device(c.device, f"{name}.device")


class Batch(NamedTuple):
    """A mixed minibatch: learner rows first, then ``n_expert`` expert rows (tensors on the learner's device).

    ``acts``: long indices (discrete) or actions scaled to [-1, 1] (SAC); ``terminated``: 1.0 where
    the transition ended its episode by termination (no bootstrap), 0.0 otherwise; ``expert``: bool."""

    obs: torch.Tensor
    acts: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    expert: torch.Tensor
