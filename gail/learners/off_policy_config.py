"""The settings and the minibatch of the off-policy imitation learner (``off_policy.py``: SQIL, IQ-Learn).

Kept apart so the configs (``SQILConfig``, ``IQLearnConfig``) and the presets read their fields
without the trainer's SB3 machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, NamedTuple

import torch

from genplay.settings import OPEN_DISCOUNT, POSITIVE, UNIT, Device, Int, Layers, OneOf, Real, Rule, check_fields

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
    n_critics: int = 2
    """SAC only: critics (targets and the actor use the min over them); IQ-Learn's authors use one."""

    RULES: ClassVar[dict[str, Rule]]  # set below the class: the off-policy learner's field rules

    def __post_init__(self) -> None:
        check_fields(self, self.RULES)


OFF_POLICY_RULES: dict[str, Rule] = {
    "n_envs": Int(1, 1024),
    "seed": Int(0, 2**31 - 1),
    "device": Device(),
    "torch_threads": Int(1, 256),
    "checkpoint_every": Int(0),
    "buffer_size": Int(2, MAX_BUFFER),
    "learning_starts": Int(0),
    "batch_size": Int(0, 65_536),
    "expert_batch_size": Int(1, 65_536),
    "learning_rate": Real(0.0, low_open=True),
    "gamma": OPEN_DISCOUNT,
    "train_freq": Int(1),
    "gradient_steps": Int(1, 10_000),
    "target_update_interval": Int(1),
    "tau": Real(0.0, 1.0, low_open=True),
    "temperature": POSITIVE,
    "exploration": OneOf(("boltzmann", "epsilon")),
    "exploration_fraction": UNIT,
    "exploration_initial_eps": UNIT,
    "exploration_final_eps": UNIT,
    "max_grad_norm": POSITIVE,
    "net_arch": Layers(),
    "n_critics": Int(1, 10),
}
"""Field rules of :class:`OffPolicyConfig` (``genplay.settings``); a subclass adds its own in ``RULES``."""


OffPolicyConfig.RULES = OFF_POLICY_RULES


class Batch(NamedTuple):
    """A mixed minibatch: learner rows first, then ``n_expert`` expert rows (tensors on the learner's device).

    ``acts``: long indices (discrete) or actions scaled to [-1, 1] (SAC); ``terminated``: 1.0 where
    the transition ended its episode by termination (no bootstrap), 0.0 otherwise; ``expert``: bool."""

    obs: torch.Tensor
    acts: torch.Tensor
    next_obs: torch.Tensor
    terminated: torch.Tensor
    expert: torch.Tensor
