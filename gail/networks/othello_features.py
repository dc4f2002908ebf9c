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

    equivariant_planes = True
    """Planes over the board's cells that rotate and mirror with it: a symmetric policy maps them, not the input."""

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        planes = observations.float()
        own, opp = planes[:, 0], planes[:, 1]
        extra = torch.stack([legal_moves(own, opp), legal_moves(opp, own)], dim=1)
        return torch.cat([planes, extra], dim=1).flatten(1)


def _ray_targets(h: int, w: int) -> torch.Tensor:
    """``(8, L, H*W)`` flat index of the cell ``j`` steps (1..L, ``L = max(H, W) - 1``) from each cell along each
    ray, ``H*W`` (a padding cell, always empty) where that falls off the board."""
    length = max(h, w) - 1
    out = torch.full((len(DIRECTIONS), length, h * w), h * w, dtype=torch.long)
    for d, (dy, dx) in enumerate(DIRECTIONS):
        for j in range(1, length + 1):
            for s in range(h * w):
                y, x = divmod(s, w)
                if 0 <= y + j * dy < h and 0 <= x + j * dx < w:
                    out[d, j - 1, s] = (y + j * dy) * w + x + j * dx
    return out


class OthelloLookaheadFeatures(BaseFeaturesExtractor):
    """:class:`OthelloMoveFeatures`' five planes and two planes of what each legal move does: the discs it flips
    (/ 8) and how many corners the opponent may take right after it (0 where the move is illegal): ``7 * H * W``.

    Why: DAgger's Othello learners lost their games against random where they handed over a corner (1.8 times a
    lost game, 0.5 a won one; BENCHMARKS.md), and whether a move opens a corner depends on the discs it flips, a
    one-move consequence that a policy over the planes must learn square by square from ~13,000 positions. The
    rules compute it exactly, as AlphaGo's policy network was given "capture size" and "liberties after move"
    (Silver et al. 2016, Extended Data Table 2): static features of each move, not a search. Fixed arithmetic
    (rays as index gathers, batched over positions and moves), no weights: a saved policy is rebuilt from the
    class name alone."""

    def __init__(self, observation_space: spaces.Space) -> None:
        shape = tuple(observation_space.shape or ())
        if len(shape) != 3 or shape[0] != 3:
            raise EnvError(f"OthelloLookaheadFeatures needs (3, H, W) planes (own, opponent, empty), got shape {shape}")
        super().__init__(observation_space, features_dim=7 * shape[1] * shape[2])
        h, w = shape[1:]
        n, targets = h * w, _ray_targets(h, w)
        length = targets.shape[1]
        # flipped[s, q]: where q is j steps from s along ray d, the row (d, j) of the flip table; else a zero row
        flip_row = torch.full((n, n + 1), len(DIRECTIONS) * length, dtype=torch.long)
        for d in range(len(DIRECTIONS)):
            for j in range(length):
                s = torch.arange(n)
                flip_row[s, targets[d, j]] = d * length + j
        corners = [0, w - 1, (h - 1) * w, n - 1]
        rays = torch.stack([targets[d, :, c] for c in corners for d in range(len(DIRECTIONS)) if targets[d, 0, c] < n])
        cells = torch.unique(rays[rays < n])  # the cells on a corner's rays: all a corner's legality reads
        local = torch.full((n + 1,), len(cells), dtype=torch.long)
        local[cells] = torch.arange(len(cells))
        self.register_buffer("targets", targets.reshape(-1), persistent=False)
        self.register_buffer("flip_index", flip_row[:, cells] * n + torch.arange(n)[:, None], persistent=False)
        self.register_buffer("corners", torch.as_tensor(corners), persistent=False)
        self.register_buffer("cells", cells, persistent=False)
        self.register_buffer("placed", torch.eye(n)[:, cells], persistent=False)  # (s, cell): the disc s puts down
        self.register_buffer("corner_rays", local[rays].reshape(-1), persistent=False)  # 4 corners x 3 rays x L
        self.register_buffer("not_placed", 1.0 - torch.eye(n)[:, corners], persistent=False)  # (s, corner)
        self.ray_shape = tuple(rays.shape)

    equivariant_planes = True
    """See :class:`OthelloMoveFeatures`."""

    @torch.no_grad()
    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        planes = observations.float()
        b, h, w = planes.shape[0], planes.shape[-2], planes.shape[-1]
        n, n_dirs = h * w, len(DIRECTIONS)
        flat = F.pad(planes.reshape(b, 3, n), (0, 1))  # cell n is off the board
        own, opp, empty = flat[:, 0], flat[:, 1], flat[:, 2, :n]
        opp_at = opp.index_select(1, self.targets).reshape(b, n_dirs, -1, n)  # (B, 8, L, n): step j along ray d
        own_at = own.index_select(1, self.targets).reshape(b, n_dirs, -1, n)
        run = torch.cumprod(opp_at, dim=2)  # opponent discs on steps 1..j
        ends = run[:, :, :-1] * own_at[:, :, 1:]  # bracketed by our disc at step j + 1: flips exactly j
        flips_ray = ends.flip(2).cumsum(2).flip(2) * empty[:, None, None]  # (B, 8, L - 1, n): step j flipped
        flips = flips_ray.sum((1, 2))
        legal = (flips > 0).float()
        rows, moves_at = legal.nonzero(as_tuple=True)  # the legal (position, move) pairs: ~1/8 of all
        table = F.pad(F.pad(flips_ray, (0, 0, 0, 1)).reshape(b, -1), (0, n))  # rows (d, j) of n cells; a zero row
        flipped = table[rows[:, None], self.flip_index[moves_at]]  # (K, corner-ray cell): flipped by the move
        mover = F.pad(own[rows][:, self.cells] + flipped + self.placed[moves_at], (0, 1))  # after it, on those cells
        other = F.pad(opp[rows][:, self.cells] - flipped, (0, 1))
        ray_mover = torch.cumprod(mover[:, self.corner_rays].reshape(-1, *self.ray_shape), dim=-1)
        takes = (ray_mover[..., :-1] * other[:, self.corner_rays].reshape(-1, *self.ray_shape)[..., 1:]).sum(-1) > 0
        corner_free = empty[rows][:, self.corners] * self.not_placed[moves_at]  # still empty after the move
        opened = torch.zeros(b, n, device=planes.device)
        opened[rows, moves_at] = (
            takes.reshape(len(rows), len(self.corners), self.ray_shape[0] // len(self.corners)).any(-1).float()
            * corner_free
        ).sum(-1)
        moves = torch.stack([legal_moves(planes[:, 0], planes[:, 1]), legal_moves(planes[:, 1], planes[:, 0])], 1)
        extra = torch.stack([flips / 8.0, opened], 1).reshape_as(moves)
        return torch.cat([planes, moves, extra], dim=1).flatten(1)
