"""A hand-written Othello evaluation for the cut-off of ``alphabeta:D`` (``genplay.envs.board_bots``).

Why hand-written: OpenSpiel ships no Othello evaluator (its ``alpha_beta_search`` takes a
``value_function`` and scores a cut-off 0 without one, which makes ``alphabeta:D`` play Othello
no better than its first legal move), and a learned one would make the teacher depend on the
student's own training. The terms are the textbook ones (Rosenbloom's IAGO; Buro's Logistello
features):

- **square weights**: corners high, the X-squares diagonal to an empty corner and the C-squares
  beside it negative (they give the corner away), edges mildly positive; once a corner is
  taken its three neighbours weigh 0, since they no longer give anything away;
- **mobility**: legal moves of each side (a player with few moves is forced into bad ones);
- **disc parity** only late (``PARITY_EMPTIES`` empty squares or fewer), when the disc count
  is close to the final score; early it is misleading (fewer discs usually means more mobility).

Boards are 64-bit integers (bit ``8 * row + col``, OpenSpiel's action numbering), so the
mobility of both sides costs a few hundred integer operations, not a move generator per side.
The value is squashed into (-0.99, 0.99) so that a proven win (+1) or loss (-1) at a terminal
node always outranks any cut-off estimate.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

FULL = (1 << 64) - 1
_NOT_A = 0xFEFEFEFEFEFEFEFE  # every square but column a (col 0): what a shift east may land on
_NOT_H = 0x7F7F7F7F7F7F7F7F  # every square but column h (col 7): what a shift west may land on
_SHIFTS: tuple[tuple[int, int], ...] = ((1, _NOT_A), (-1, _NOT_H), (8, FULL), (-8, FULL), (9, _NOT_A),
                                        (7, _NOT_H), (-7, _NOT_A), (-9, _NOT_H))  # fmt: skip
"""The 8 directions as (bit shift, mask of the squares a shifted disc may land on): +1 east, +8 south."""

WEIGHTS = np.array(
    [
        [100, -20, 10, 5, 5, 10, -20, 100],
        [-20, -50, -2, -2, -2, -2, -50, -20],
        [10, -2, 1, 1, 1, 1, -2, 10],
        [5, -2, 1, 0, 0, 1, -2, 5],
        [5, -2, 1, 0, 0, 1, -2, 5],
        [10, -2, 1, 1, 1, 1, -2, 10],
        [-20, -50, -2, -2, -2, -2, -50, -20],
        [100, -20, 10, 5, 5, 10, -20, 100],
    ],
    dtype=np.int64,
)
"""Square weights (row, col), invariant under all 8 symmetries of the square."""
MOBILITY_WEIGHT = 10.0
"""Points per legal move more than the opponent."""
PARITY_EMPTIES = 12
"""At this many empty squares or fewer, each disc more than the opponent counts ``PARITY_WEIGHT``."""
PARITY_WEIGHT = 10.0
SCALE = 300.0
"""Points at which the squashed value reaches tanh(1) = 0.76 of its range."""

_CORNERS = ((0, (1, 8, 9)), (7, (6, 15, 14)), (56, (57, 48, 49)), (63, (62, 55, 54)))
"""Each corner's bit and its C-, C- and X-square neighbours."""
_BIT_WEIGHTS: tuple[tuple[int, int], ...] = tuple(
    (1 << i, int(w)) for i, w in enumerate(WEIGHTS.ravel()) if w != 0
)  # fmt: skip
_POWERS = np.array([1 << i for i in range(64)], dtype=np.uint64)


def _shift(x: int, s: int, mask: int) -> int:
    return ((x << s) if s > 0 else (x >> -s)) & mask


def legal_moves(own: int, opp: int) -> int:
    """Bitboard of the squares where the side owning ``own`` may play (Kogge-Stone flood per direction)."""
    empty = FULL & ~(own | opp)
    moves = 0
    for s, mask in _SHIFTS:
        t = _shift(own, s, mask) & opp
        for _ in range(5):
            t |= _shift(t, s, mask) & opp
        moves |= _shift(t, s, mask) & empty
    return moves


def square_score(own: int, opp: int) -> int:
    """Weighted squares of ``own`` minus ``opp``'s; a taken corner's three neighbours weigh 0."""
    total = 0
    for bit, w in _BIT_WEIGHTS:
        if own & bit:
            total += w
        elif opp & bit:
            total -= w
    for corner, around in _CORNERS:
        if (own | opp) >> corner & 1:
            for sq in around:
                w = int(WEIGHTS.flat[sq])
                total -= w * ((own >> sq & 1) - (opp >> sq & 1))
    return total


def evaluate_bits(own: int, opp: int) -> float:
    """Value in (-0.99, 0.99) of the position for the side owning ``own`` (either side may be to move)."""
    m_own, m_opp = legal_moves(own, opp).bit_count(), legal_moves(opp, own).bit_count()
    points = square_score(own, opp) + MOBILITY_WEIGHT * (m_own - m_opp)
    if 64 - (own | opp).bit_count() <= PARITY_EMPTIES:
        points += PARITY_WEIGHT * (own.bit_count() - opp.bit_count())
    return 0.99 * math.tanh(points / SCALE)


def boards(state: Any, player: int) -> tuple[int, int]:
    """``(own, opp)`` bitboards of an OpenSpiel ``othello`` state from ``player``'s side (its observation
    planes: empty, the player's discs, the opponent's)."""
    planes = np.asarray(state.observation_tensor(player), dtype=np.float32).reshape(3, 64)
    own = int((_POWERS * (planes[1] > 0)).sum())
    opp = int((_POWERS * (planes[2] > 0)).sum())
    return own, opp


def othello_value(player: int) -> Callable[[Any], float]:
    """``value(state)``: :func:`evaluate_bits` from ``player``'s side, the ``value_function`` of
    OpenSpiel's ``alpha_beta_search`` with ``maximizing_player_id=player``."""

    def value(state: Any) -> float:
        return evaluate_bits(*boards(state, player))

    return value
