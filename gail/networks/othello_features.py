"""Othello's rules as extra input planes of a policy: both sides' legal moves (:class:`OthelloMoveFeatures`), and
what each legal move does (:class:`OthelloLookaheadFeatures`).

Why: an MLP over the raw planes (own, opponent, empty) must learn from 13,000 labelled positions which empty
squares flank a line of the opponent's discs: a long-range ray test per square and direction. Trained DAgger
learners matched their ``alphabeta:2`` teacher on only ~55% of positions, the aggregate's own rows included, and
a convolution over the planes memorised instead (BENCHMARKS.md, bench_results/dagger_othello_s8.jsonl). The
teacher's evaluation is built on exactly these sets (mobility; corners a move gives away), so the extractors
compute them exactly and hand them to the MLP with the planes: static features of the position, as AlphaGo's
policy network was given liberties and legality, not a search. One numpy implementation (:class:`OthelloPlanes`)
serves training, acting and PUCT's numpy evaluator; no weights: a saved policy is rebuilt from the class name.
"""

from __future__ import annotations

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor

from genplay.errors import EnvError

DIRECTIONS = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))
"""(rows, cols) steps of the 8 rays."""


def _ray_targets(h: int, w: int) -> np.ndarray:
    """``(8, L, H*W)`` flat index of the cell ``j`` steps (1..L, ``L = max(H, W) - 1``) from each cell along each
    ray, ``H*W`` (a padding cell, always empty) where that falls off the board."""
    length = max(h, w) - 1
    out = np.full((len(DIRECTIONS), length, h * w), h * w, dtype=np.int64)
    for d, (dy, dx) in enumerate(DIRECTIONS):
        for j in range(1, length + 1):
            for s in range(h * w):
                y, x = divmod(s, w)
                if 0 <= y + j * dy < h and 0 <= x + j * dx < w:
                    out[d, j - 1, s] = (y + j * dy) * w + x + j * dx
    return out


class OthelloPlanes:
    """Othello's feature planes in numpy, ``(B, 3, H, W)`` planes (own, opponent, empty) -> ``(B, C * H * W)``: the
    planes and both sides' legal moves (C = 5), with ``lookahead`` also each legal move's flips / 8 and the number
    of corners the opponent may take right after it (C = 7).

    Why numpy: the features have no weights, and one implementation serves both the SB3 policy (training, acting)
    and PUCT's numpy evaluator, where a position is scored alone and torch's per-call overhead would dominate."""

    def __init__(self, h: int, w: int, *, lookahead: bool) -> None:
        self.lookahead, self.n_planes = lookahead, 7 if lookahead else 5
        n, targets = h * w, _ray_targets(h, w)
        n_dirs, length = targets.shape[:2]
        self.corners = np.array([0, w - 1, (h - 1) * w, n - 1])
        rays = np.stack(
            [targets[d, :, c] for c in self.corners for d in range(len(DIRECTIONS)) if targets[d, 0, c] < n]
        )
        self.cells = np.unique(rays[rays < n])  # the cells on a corner's rays: all a corner's legality reads
        local = np.full(n + 1, len(self.cells), dtype=np.int64)
        local[self.cells] = np.arange(len(self.cells))
        # a move on s flips the disc on corner-ray cell c iff it flips >= step_of[s, c] discs along ray ray_of[s, c]
        self.ray_of = np.zeros((n, len(self.cells)), dtype=np.int64)
        self.step_of = np.full((n, len(self.cells)), np.inf, dtype=np.float32)  # c on no ray from s: never
        for d in range(n_dirs):
            for j in range(length):
                s, q = np.arange(n), targets[d, j]
                on = local[q] < len(self.cells)
                self.ray_of[s[on], local[q[on]]], self.step_of[s[on], local[q[on]]] = d, j + 1
        self.n, self.targets = n, targets.transpose(1, 0, 2).reshape(-1)  # (step, ray, cell): a step a block
        self.steps = np.arange(1, length + 1, dtype=np.float32)
        self.placed = np.eye(n, dtype=np.float32)[:, self.cells]  # (s, cell): the disc s puts down
        self.corner_rays, self.ray_shape = local[rays].reshape(-1), rays.shape  # 4 corners x 3 rays x L
        self.not_placed = 1.0 - np.eye(n, dtype=np.float32)[:, self.corners]  # (s, corner)

    def counts(self, own: np.ndarray, opp: np.ndarray, empty: np.ndarray) -> np.ndarray:
        """``(B, 8, n)``: how many discs a move on cell s flips along ray d (0 where s is not empty). ``own`` /
        ``opp``: ``(B, n + 1)`` with the off-board cell last; ``empty``: ``(B, n)``. Step-major with the steps
        unrolled: numpy's cumulative ops along a short axis cost several times more."""
        b, length = len(own), len(self.steps)
        opp_at = np.take(opp, self.targets, axis=1).reshape(b, length, len(DIRECTIONS), self.n)  # step j, ray d
        own_at = np.take(own, self.targets, axis=1).reshape(b, length, len(DIRECTIONS), self.n)
        run, count = opp_at[:, 0], np.zeros_like(opp_at[:, 0])  # run: opponent discs on steps 1..j
        for j in range(1, length):
            count += j * run * own_at[:, j]  # our disc at step j + 1 brackets j of theirs
            run = run * opp_at[:, j]
        return count * empty[:, None]

    def __call__(self, planes: np.ndarray) -> np.ndarray:
        planes = np.asarray(planes, dtype=np.float32)
        b, n = len(planes), self.n
        flat = np.concatenate([planes.reshape(b, 3, n), np.zeros((b, 3, 1), np.float32)], axis=2)  # off-board cell
        own, opp, empty = flat[:, 0], flat[:, 1], flat[:, 2, :n]
        both = self.counts(np.concatenate([own, opp]), np.concatenate([opp, own]), np.concatenate([empty, empty]))
        flips = both[:b].sum(1)  # one call for both sides: numpy's per-call cost dominates a single position
        theirs = (both[b:].sum(1) > 0).astype(np.float32)
        moves = [planes.reshape(b, 3, n), (flips > 0)[:, None], theirs[:, None]]
        if not self.lookahead:
            return np.concatenate(moves, axis=1, dtype=np.float32).reshape(b, 5 * n)
        rows, moves_at = np.nonzero(flips)  # the legal (position, move) pairs: ~1/8 of all
        along = (rows[:, None] * len(DIRECTIONS) + self.ray_of[moves_at]) * n + moves_at[:, None]
        flipped = np.take(both, along) >= self.step_of[moves_at]  # (K, corner-ray cell): flipped by the move
        mover = own[rows][:, self.cells] + flipped + self.placed[moves_at]  # after it, on those cells
        other = opp[rows][:, self.cells] - flipped
        pad = np.zeros((len(rows), 1), np.float32)
        mover, other = np.concatenate([mover, pad], 1), np.concatenate([other, pad], 1)
        ray_mover = np.cumprod(mover[:, self.corner_rays].reshape(-1, *self.ray_shape), axis=-1)
        ray_other = other[:, self.corner_rays].reshape(-1, *self.ray_shape)
        takes = (ray_mover[..., :-1] * ray_other[..., 1:]).sum(-1) > 0  # (K, ray): the opponent flips along it
        corner_free = empty[rows][:, self.corners] * self.not_placed[moves_at]  # still empty after the move
        opened = np.zeros((b, n), np.float32)
        per_corner = takes.reshape(len(rows), len(self.corners), self.ray_shape[0] // len(self.corners)).any(-1)
        opened[rows, moves_at] = (per_corner * corner_free).sum(-1)
        out = [*moves, flips[:, None] / 8.0, opened[:, None]]
        return np.concatenate(out, axis=1, dtype=np.float32).reshape(b, 7 * n)


class OthelloMoveFeatures(BaseFeaturesExtractor):
    """``(3, H, W)`` planes (own, opponent, empty: ``envs.boardgames``' Othello observation) -> the planes and
    both sides' legal-move planes, ``5 * H * W`` features flattened for the policy's MLP."""

    lookahead = False

    equivariant_planes = True
    """Planes over the board's cells that rotate and mirror with it: a symmetric policy maps them, not the input."""

    def __init__(self, observation_space: spaces.Space) -> None:
        shape = tuple(observation_space.shape or ())
        if len(shape) != 3 or shape[0] != 3:
            name = type(self).__name__
            raise EnvError(f"{name} needs (3, H, W) planes (own, opponent, empty), got shape {shape}")
        planes = OthelloPlanes(*shape[1:], lookahead=self.lookahead)
        super().__init__(observation_space, features_dim=planes.n_planes * shape[1] * shape[2])
        self.numpy_features = planes
        """The same features from numpy planes (PUCT's evaluator calls it directly)."""

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        features = self.numpy_features(observations.detach().cpu().numpy())
        return torch.from_numpy(features).to(observations.device)


class OthelloLookaheadFeatures(OthelloMoveFeatures):
    """:class:`OthelloMoveFeatures`' five planes and two planes of what each legal move does: the discs it flips
    (/ 8) and how many corners the opponent may take right after it (0 where the move is illegal): ``7 * H * W``.

    Why: DAgger's Othello learners lost their games against random where they handed over a corner (1.8 times a
    lost game, 0.5 a won one; BENCHMARKS.md), and whether a move opens a corner depends on the discs it flips, a
    one-move consequence that a policy over the planes must learn square by square from ~13,000 positions. The
    rules compute it exactly, as AlphaGo's policy network was given "capture size" and "liberties after move"
    (Silver et al. 2016, Extended Data Table 2): static features of each move, not a search (:class:`OthelloPlanes`,
    rays as index gathers batched over the legal (position, move) pairs)."""

    lookahead = True
