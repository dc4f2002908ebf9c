"""Othello's legal moves, both sides', as extra input planes of a policy (:class:`OthelloMoveFeatures`).

Why: an MLP over the raw planes (own, opponent, empty) must learn from 13,000 labelled positions which empty
squares flank a line of the opponent's discs: a long-range ray test per square and direction. Trained DAgger
learners matched their ``alphabeta:2`` teacher on only ~55% of positions, the aggregate's own rows included, and
a convolution over the planes memorised instead (BENCHMARKS.md, bench_results/dagger_othello_s8.jsonl). The
teacher's evaluation is built on exactly these sets (mobility; corners a move gives away), so the extractor
computes them exactly (a Kogge-Stone flood per direction, as ``envs/othello_eval.legal_moves`` does on
bitboards) and hands them to the MLP with the planes: static features of the position, as AlphaGo's policy
network was given liberties and legality, not a search. Fixed arithmetic, no weights: a saved policy is rebuilt
from the class name alone.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from genplay.errors import EnvError

DIRECTIONS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
"""(rows, cols) steps of the 8 rays."""


def shift(planes: torch.Tensor, dy: int, dx: int) -> torch.Tensor:
    """``out[..., y, x] = planes[..., y - dy, x - dx]``, zero where that falls off the board."""
    padded = F.pad(planes, (1, 1, 1, 1))
    h, w = planes.shape[-2:]
    return padded[..., 1 - dy : 1 - dy + h, 1 - dx : 1 - dx + w]


def legal_moves(own: torch.Tensor, opp: torch.Tensor) -> torch.Tensor:
    """``(..., H, W)`` 0/1 planes of the empty squares where the side owning ``own`` may play: a ray from the
    square crosses one or more ``opp`` discs and ends on an ``own`` disc."""
    empty = 1.0 - torch.clamp(own + opp, max=1.0)
    moves = torch.zeros_like(own)
    for dy, dx in DIRECTIONS:
        run = shift(own, dy, dx) * opp  # opponent discs next to one of ours along the ray
        for _ in range(max(own.shape[-2:]) - 3):
            run = torch.maximum(run, shift(run, dy, dx) * opp)
        moves = torch.maximum(moves, shift(run, dy, dx) * empty)
    return moves


class OthelloMoveFeatures(BaseFeaturesExtractor):
    """``(3, H, W)`` planes (own, opponent, empty: ``envs.boardgames``' Othello observation) -> the planes and
    both sides' legal-move planes, ``5 * H * W`` features flattened for the policy's MLP."""

    def __init__(self, observation_space: spaces.Space) -> None:
        shape = tuple(observation_space.shape or ())
        if len(shape) != 3 or shape[0] != 3:
            raise EnvError(f"OthelloMoveFeatures needs (3, H, W) planes (own, opponent, empty), got shape {shape}")
        super().__init__(observation_space, features_dim=5 * shape[1] * shape[2])

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        planes = observations.float()
        own, opp = planes[:, 0], planes[:, 1]
        extra = torch.stack([legal_moves(own, opp), legal_moves(opp, own)], dim=1)
        return torch.cat([planes, extra], dim=1).flatten(1)
