"""Board symmetries that OpenSpiel's rules respect, and demos augmented with their images.

Apart from the match code so that the symmetry-averaged policy (``boardgame_policy``) and the
training recipes (``algos/board_training``) can use them without importing the suites.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from genplay.errors import EnvError
from genplay.gail.data.demos import Demos


def symmetries(game: str) -> list[tuple[Any, np.ndarray]]:
    """Board symmetries of ``game`` that OpenSpiel's rules respect: ``(planes_fn, action_map)`` pairs.

    ``planes_fn`` maps ``(..., H, W)`` planes; ``action_map[a]`` is the image of action ``a``.
    Tic-tac-toe: the 8 of the square. Connect four: the mirror. Othello: the 4 that keep
    the starting position (identity, half turn, both diagonal reflections); pass stays pass.
    """
    if game == "connect_four":
        return [(lambda x: x, np.arange(7)), (lambda x: x[..., ::-1], np.arange(7)[::-1].copy())]
    if game == "tic_tac_toe":
        fns = [
            lambda x, k=k, f=f: np.rot90(x[..., ::-1] if f else x, k, axes=(-2, -1)) for f in (0, 1) for k in range(4)
        ]
        size, extra = 3, 0
    elif game == "othello":
        fns = [lambda x: x, lambda x: np.rot90(x, 2, axes=(-2, -1)), lambda x: np.swapaxes(x, -1, -2)]
        fns.append(lambda x: np.rot90(np.swapaxes(x, -1, -2), 2, axes=(-2, -1)))
        size, extra = 8, 1
    else:
        raise EnvError(f"no symmetries known for {game!r}")
    out = []
    for fn in fns:
        moved = np.ascontiguousarray(fn(np.arange(size * size).reshape(size, size))).ravel()
        amap = np.argsort(moved)  # old cell a now sits at position amap[a]
        out.append((fn, np.concatenate([amap, np.arange(size * size, size * size + extra)])))
    return out


def augment_symmetries(demos: Demos, game: str) -> Demos:
    """The demos plus their images under the game's board symmetries (each image its own episode).

    A symmetric image of an expert move is an equally good move in the image position, so
    this multiplies the states an imitation learner sees without another expert game.
    """
    obs, acts, masks = [], [], []
    for fn, amap in symmetries(game):
        obs.append(np.ascontiguousarray(fn(demos.obs)))
        acts.append(amap[demos.acts])
        m = np.zeros_like(demos.action_masks)
        m[:, amap] = demos.action_masks
        masks.append(m)
    k = len(obs)
    return dataclasses.replace(
        demos,
        obs=np.concatenate(obs),
        acts=np.concatenate(acts),
        action_masks=np.concatenate(masks),
        rewards=np.tile(demos.rewards, k),
        episode_lengths=np.tile(demos.episode_lengths, k),
        terminated=np.tile(demos.terminated, k),
        metadata={**demos.metadata, "augmented_symmetries": k},
    )
