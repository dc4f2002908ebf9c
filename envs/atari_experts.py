"""Scripted Atari experts: the registry of both kinds, the RAM planners, and :func:`play_game`.

Two kinds (:data:`ATARI_EXPERTS`, :func:`expert_name`):

* **imitable** (a game's own name, the default for demos): decides once per agent step from
  what the observation shows (:mod:`genplay.envs.atari_imitable`), so a pixel policy can
  reproduce it;
* **planner** (``GAME-planner``, below): reads the RAM of every emulator frame, including
  state the screen never shows, and plans; the documented contrast, experts a pixel policy
  cannot imitate (BC from 20 Pong planner games stays at the random level).

Each planner gets ``info["ram"]`` of :func:`genplay.envs.atari.make_atari` (``record_ram=True``):
the RAM after every emulator frame of the last agent step, so it can measure velocities
exactly even at frame skip 4. Demos store only the frames and actions (:func:`play_game`'s
``on_step``). RAM addresses (found by stepping the games and printing RAM):

* **Pong** (:mod:`genplay.envs.atari_pong`): ball x ``49``, y ``54``, vertical speed
  ``56``, paddle top ``60``, controller reading ``4``. The ball's arrival at the paddle is
  predicted exactly from RAM, the return's speed is set by where the ball meets the paddle,
  and the paddle is planned over sticky-action draws to make fast edge returns (+18.9 mean
  over 10 full sticky games; see that module).
* **Breakout**: ball x ``99``, ball y ``101`` (0 when out of play), paddle x ``72`` (hits
  when ball x - paddle x is in about [-1, 19], at ball y ~177). The
  expert predicts where the ball crosses the paddle row (side walls reflect) and steers
  the paddle under it, pressing FIRE when no ball is in play (a new ball after each life).

Freeway has no planner: its former expert only walked up (21.4 over 10 sticky games), which the
imitable expert's dodging replaces.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from genplay.envs.atari_imitable import (
    BREAKOUT_FIRE,
    BREAKOUT_LEFT,
    BREAKOUT_LEFT_WALL,
    BREAKOUT_NOOP,
    BREAKOUT_PADDLE_ROW,
    BREAKOUT_RIGHT,
    BREAKOUT_RIGHT_WALL,
    ImitableBoxing,
    ImitableBreakout,
    ImitableFreeway,
    ImitablePong,
    ImitableSkiing,
    NoBallClock,
    reflect,
)
from genplay.envs.atari_pong import STALL_STEPS, PongExpert  # noqa: F401  (STALL_STEPS: re-exported)
from genplay.errors import EnvError


class RamExpert(Protocol):
    """A causal policy on RAM frames (``(k, 128)`` uint8, oldest first)."""

    def reset(self, ram: np.ndarray) -> None: ...

    def act(self, ram: np.ndarray) -> int: ...

    @property
    def stalled(self) -> bool: ...


# --------------------------------------------------------------------------- Breakout


class BreakoutExpert:
    """Keeps the paddle under where the ball will cross the paddle row; FIRE serves."""

    def __init__(self, rng: np.random.Generator, *, offset: float = -9.0, dead_zone: float = 8.0, jitter: float = 3.0):
        self.rng = rng
        self.offset, self.dead_zone, self.jitter = offset, dead_zone, jitter
        self._clock = NoBallClock()
        self._aim = 0.0

    def reset(self, ram: np.ndarray) -> None:
        self._clock = NoBallClock()

    @property
    def stalled(self) -> bool:
        return self._clock.stalled

    def act(self, ram: np.ndarray) -> int:
        ram = np.asarray(ram).reshape(-1, 128).astype(float)
        x, y, paddle = ram[-1, 99], ram[-1, 101], ram[-1, 72]
        self._clock.tick(y != 0)
        if y == 0 or len(ram) < 2 or ram[-2, 101] == 0:
            return BREAKOUT_FIRE
        dx, dy = np.diff(ram[:, 99]), np.diff(ram[:, 101])  # mean speed, direction after any bounce
        vx, vy = np.sign(dx[-1]) * np.abs(dx).mean(), np.sign(dy[-1]) * np.abs(dy).mean()
        if vy > 0.1:
            frames = max((BREAKOUT_PADDLE_ROW - y) / vy, 0.0)
            target = reflect(x + vx * frames, BREAKOUT_LEFT_WALL, BREAKOUT_RIGHT_WALL)
        else:  # going up: follow the ball, new aim for the next return
            target = x
            self._aim = float(self.rng.uniform(-self.jitter, self.jitter))
        error = target + self.offset + self._aim - paddle
        if error > self.dead_zone:
            return BREAKOUT_RIGHT
        if error < -self.dead_zone:
            return BREAKOUT_LEFT
        return BREAKOUT_NOOP


# --------------------------------------------------------------------------- playing


@dataclass(frozen=True)
class GameResult:
    """One full game: raw score, agent steps, and whether it ended because the game was stuck."""

    score: float
    steps: int
    stalled: bool


def play_game(
    env,
    expert: RamExpert,
    *,
    seed: int,
    on_step: Callable[[np.ndarray, int], None] | None = None,
    max_steps: int | None = None,
) -> GameResult:
    """Play one game of ``env`` (``make_atari(..., record_ram=True)``) with ``expert``.

    ``on_step(obs, action)`` sees every observation the expert acted on and its action, so
    demos record exactly what the learner sees.
    """
    obs, info = env.reset(seed=seed)
    expert.reset(info["ram"])
    ram, score, steps = info["ram"], 0.0, 0
    while max_steps is None or steps < max_steps:
        action = int(expert.act(ram))
        if on_step is not None:
            on_step(obs, action)
        obs, reward, terminated, truncated, info = env.step(action)
        ram, score, steps = info["ram"], score + float(reward), steps + 1
        if terminated or truncated:
            return GameResult(score, steps, False)
        if expert.stalled:
            return GameResult(score, steps, True)
    return GameResult(score, steps, False)


class RandomExpert:
    """Uniform random actions (the baseline the experts are compared with)."""

    def __init__(self, rng: np.random.Generator, n_actions: int) -> None:
        self.rng, self.n_actions = rng, n_actions

    def reset(self, ram: np.ndarray) -> None:
        pass

    def act(self, ram: np.ndarray) -> int:
        return int(self.rng.integers(self.n_actions))

    @property
    def stalled(self) -> bool:
        return False


ATARI_EXPERTS: dict[str, Callable[[np.random.Generator], RamExpert]] = {
    "pong": ImitablePong,
    "breakout": ImitableBreakout,
    "freeway": ImitableFreeway,
    "boxing": ImitableBoxing,
    "skiing": ImitableSkiing,
    "pong-planner": PongExpert,
    "breakout-planner": BreakoutExpert,
}
"""Expert name -> factory (takes the expert's random generator). A game's own name is its imitable
expert (:mod:`genplay.envs.atari_imitable`, the default for demos); ``GAME-planner`` is its RAM
planner (the contrast a pixel policy cannot imitate)."""

EXPERT_KINDS = ("imitable", "planner")
"""``imitable``: decides once per agent step from what the screen shows (demos' default, since a
pixel learner can reproduce it); ``planner``: reads every emulator frame's RAM and plans."""


def expert_name(game: str, kind: str = "imitable") -> str:
    """The :data:`ATARI_EXPERTS` name of ``game``'s expert of ``kind`` (EnvError when there is none)."""
    have = expert_games(kind)
    if game not in have:
        raise EnvError(f"no {kind} scripted expert for {game}; genplay has them for {', '.join(have)}")
    return game if kind == "imitable" else f"{game}-{kind}"


def expert_games(kind: str = "imitable") -> list[str]:
    """The games that have an expert of ``kind``, sorted (EnvError for an unknown kind)."""
    if kind not in EXPERT_KINDS:
        raise EnvError(f"unknown Atari expert kind {kind!r}; expected one of {', '.join(EXPERT_KINDS)}")
    suffix = "" if kind == "imitable" else f"-{kind}"
    return sorted(n.removesuffix(suffix) for n in ATARI_EXPERTS if ("-" not in n if not suffix else n.endswith(suffix)))
