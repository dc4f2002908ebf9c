"""Imitable scripted Atari experts: one decision per agent step, from what the observation shows.

Why: the RAM planners of :mod:`genplay.envs.atari_experts` read the RAM after every emulator
frame, including state the screen never shows (Pong's controller reading and frame parity),
and plan over sticky-action draws with random aims. Their actions are not a function of the
learner's frame stack, and BC from 20 of their Pong games stays at the random level. The
experts here are what published imitation work uses instead: an expert acting on the same
observation as the learner.

Each expert decides once per agent step (frame skip 4, sticky actions on) from two RAM reads:
the last emulator frame of this step and of the previous step (``info["ram"][-1]``; the
other frames' RAM is ignored), restricted to positions drawn on screen. Velocities are the
difference of the two reads, which the 4-frame stack shows too. The decision is a
deterministic function of those reads (no random aims, no hidden plan), so a pixel policy can
in principle reproduce it. RAM addresses (found by stepping the games and printing RAM, and
checked against published annotations):

* **Pong**: ball x ``49``, y ``54`` (0 when out of play), player paddle top ``51``. The ball's
  arrival at the paddle column is predicted from its position and its speed between the
  two reads (walls turn it as :func:`~genplay.envs.atari_pong.ball_arrival` steps it), and
  the paddle is steered toward ``arrival - aim`` with a dead zone, its rest point extrapolated
  from its own motion (it moves 3/4 of the way to the controller each step, so the rest point
  is about ``p + (p - p_before) / 3``). The aim is the paddle's middle: step-level control
  cannot place the paddle within the 3 px edge windows that the planner exploits, and a
  central hit is almost never missed, so points come from the hits that land off-centre.
* **Breakout**: ball x ``99``, y ``101`` (0 when out of play), paddle x ``72``; the ball's
  crossing of the paddle row is predicted (side walls reflect) and the paddle steered under
  it; FIRE serves when no ball is in play.
* **Freeway**: chicken y ``14`` (up is larger; lane ``k`` spans about ``6 + 16k .. 22 + 16k``),
  car x ``108 + k`` of lane ``k`` (cars wrap around a 160 px road; speed from the two reads).
  Hits, read off a walk-up game, happen with a car at x 40-54. The chicken steps up unless a
  car of the lane it would enter is in that column now or after one step; then it waits,
  or steps back if its own lane is about to be hit (walking up alone scores 21.4).
* **Boxing**: player x ``32``, y ``34``, opponent x ``33``, y ``35``. Punches land with the
  boxers 14-29 px apart in x and 8-28 px apart in y (read off random play's scoring steps);
  the expert stands 18 px beside and 14 px above or below the opponent, on the side it is
  already on, and punches whenever the opponent is in that window.
* **Skiing**: skier x ``25`` (its centre is ``x + 5``), heading ``15`` (8 is straight downhill;
  LEFT lowers it and RIGHT raises it one notch per two held steps, and the skier drifts sideways
  as ``heading - 8``, the pose drawn on screen); the 8 course objects' x ``62..69``, kind
  ``70..77`` (2 a gate, 5 a mogul, 85 a tree) and screen y ``178 - ram[86..93]`` (objects
  scroll up; a gate is still ahead while its y exceeds 50, the skier being drawn at y 41-58;
  a gate's middle is at ``x + 20``). The expert heads for
  the middle of the nearest gate still below it, at a heading ``8 + 2.5 * dx / dy`` clipped to
  +-2.5 notches (steeper turns lose speed), and turns one notch at a time toward it.
"""

from __future__ import annotations

import functools

import numpy as np

from genplay.envs.atari_pong import PONG_DOWN, PONG_NOOP, PONG_UP, STALL_STEPS, ball_arrival


class NoBallClock:
    """Counts consecutive steps without a ball in play (an expert's ``stalled``)."""

    def __init__(self) -> None:
        self.steps = 0

    def tick(self, ball_in_play: bool) -> None:
        self.steps = 0 if ball_in_play else self.steps + 1

    @property
    def stalled(self) -> bool:
        return self.steps >= STALL_STEPS


class ScreenExpert:
    """Base of the imitable experts: keeps the previous step's last-frame RAM, calls :meth:`decide`.

    Subclasses implement ``decide(now, before)`` on two ``(128,)`` int arrays (this step's
    and the previous step's last emulator frame) and say whether a ball is in play.
    """

    def __init__(self, rng: np.random.Generator) -> None:
        self.rng = rng  # unused by the decisions (deterministic), kept for the factory signature
        self._clock = NoBallClock()
        self._before: np.ndarray | None = None

    def reset(self, ram: np.ndarray) -> None:
        self._clock = NoBallClock()
        self._before = _last_frame(ram)

    @property
    def stalled(self) -> bool:
        return self._clock.stalled

    def act(self, ram: np.ndarray) -> int:
        now = _last_frame(ram)
        before = now if self._before is None else self._before
        action, in_play = self.decide(now, before)
        self._clock.tick(in_play)
        self._before = now
        return int(action)

    def decide(self, now: np.ndarray, before: np.ndarray) -> tuple[int, bool]:
        """The action for this step and whether a ball (or the game) is in play."""
        raise NotImplementedError


def _last_frame(ram: np.ndarray) -> np.ndarray:
    """The RAM after the last emulator frame of an agent step, as ints (``ram``: ``(k, 128)`` or ``(128,)``)."""
    return np.asarray(ram).reshape(-1, 128)[-1].astype(np.int64)


# --------------------------------------------------------------------------- Pong

PONG_MIDDLE_TOP = 110.0  # paddle top to wait at when no ball is coming
PONG_STEP_PRESS = 23.0  # controller change per pressed agent step (5.75 a frame)
PONG_PADDLE_MIN, PONG_PADDLE_MAX = 38.0, 203.0


@functools.cache
def pong_plans(steps: int) -> np.ndarray:
    """Step plans over ``steps`` agent steps: rest, or wait ``w`` < 4 steps, press one way ``m`` <= 8
    steps, then rest (one row per plan, +1 = down)."""
    rows = [np.zeros(steps)]
    for w in range(min(steps, 4)):
        for m in range(1, min(steps - w, 8) + 1):
            for d in (-1.0, 1.0):
                row = np.zeros(steps)
                row[w : w + m] = d
                rows.append(row)
    return np.array(rows)


class ImitablePong(ScreenExpert):
    """Plans the paddle at step level so the predicted arrival meets its middle, at rest (module docstring)."""

    def __init__(
        self,
        rng: np.random.Generator,
        *,
        aim: float = 7.0,
        lead: float = 0.5,
        tolerance: float = 4.0,
        moving_cost: float = 0.3,
        press_cost: float = 0.5,
    ) -> None:
        super().__init__(rng)
        self.aim, self.lead, self.tolerance = aim, lead, tolerance
        self.moving_cost, self.press_cost = moving_cost, press_cost

    def decide(self, now: np.ndarray, before: np.ndarray) -> tuple[int, bool]:
        x, y, paddle = now[49], now[54], float(now[51])
        target, steps = PONG_MIDDLE_TOP, 3
        if y and before[54] and x > before[49]:  # coming toward the player
            vy = int(np.clip(np.round((y - before[54]) / 4.0), -2, 2))
            frames, y_hit = ball_arrival(int(x), int(y), vy)
            target, steps = y_hit - self.aim, int(np.clip(np.ceil(frames / 4.0), 1, 15))
        plans = pong_plans(steps)
        # the controller leads the paddle, which moves 3/4 of the way to it each step
        raw = np.full(len(plans), paddle + self.lead * (paddle - before[51]))
        top = np.full(len(plans), paddle)
        for step in range(steps):
            raw = np.clip(raw + PONG_STEP_PRESS * plans[:, step], PONG_PADDLE_MIN, PONG_PADDLE_MAX)
            top = raw - (raw - top) / 4.0
        cost = (
            np.maximum(np.abs(top - target) - self.tolerance, 0.0)
            + self.moving_cost * np.abs(raw - top)  # still moving at the hit: less predictable
            + self.press_cost * np.abs(plans).sum(axis=1)
        )
        first = plans[int(np.argmin(cost)), 0]
        return (PONG_DOWN if first > 0 else PONG_UP if first < 0 else PONG_NOOP), bool(y)


# --------------------------------------------------------------------------- Breakout

BREAKOUT_NOOP, BREAKOUT_FIRE, BREAKOUT_RIGHT, BREAKOUT_LEFT = 0, 1, 2, 3
BREAKOUT_LEFT_WALL, BREAKOUT_RIGHT_WALL = 57.0, 198.0  # ball x reflects about these
BREAKOUT_PADDLE_ROW = 177.0  # ball y where the paddle meets it


def reflect(x: float, low: float, high: float) -> float:
    """Where a ball moving freely to ``x`` is, with walls at ``low`` and ``high``."""
    span = high - low
    t = (x - low) % (2 * span)
    return low + (t if t <= span else 2 * span - t)


class ImitableBreakout(ScreenExpert):
    """Keeps the paddle under where the ball will cross the paddle row; FIRE serves."""

    def __init__(self, rng: np.random.Generator, *, offset: float = -9.0, dead_zone: float = 6.0) -> None:
        super().__init__(rng)
        self.offset, self.dead_zone = offset, dead_zone

    def decide(self, now: np.ndarray, before: np.ndarray) -> tuple[int, bool]:
        x, y, paddle = float(now[99]), float(now[101]), float(now[72])
        if y == 0 or before[101] == 0:
            return BREAKOUT_FIRE, y != 0
        vx, vy = (x - before[99]) / 4.0, (y - before[101]) / 4.0
        target = x
        if vy > 0.1:  # coming down: where it crosses the paddle row
            target = reflect(x + vx * (BREAKOUT_PADDLE_ROW - y) / vy, BREAKOUT_LEFT_WALL, BREAKOUT_RIGHT_WALL)
        error = target + self.offset - paddle
        if error > self.dead_zone:
            return BREAKOUT_RIGHT, True
        if error < -self.dead_zone:
            return BREAKOUT_LEFT, True
        return BREAKOUT_NOOP, True


# --------------------------------------------------------------------------- Freeway

FREEWAY_NOOP, FREEWAY_UP, FREEWAY_DOWN = 0, 1, 2


def freeway_lanes(low: float, high: float) -> list[int]:
    """Lanes (0 at the bottom) that a chicken spanning ``low..high`` (RAM y, up is larger) overlaps."""
    return [k for k in range(10) if not (high < 6 + 16 * k or low > 22 + 16 * k)]


class ImitableFreeway(ScreenExpert):
    """Walks up unless a car will be at the chicken's column in the lane ahead; then waits, or steps back."""

    def __init__(
        self, rng: np.random.Generator, *, column: tuple[float, float] = (40.0, 54.0), height: float = 6.0
    ) -> None:
        super().__init__(rng)
        self.column, self.height = column, height

    def _danger(self, now: np.ndarray, before: np.ndarray, low: float) -> bool:
        """Whether a car of the lanes under ``low..low + height`` is in the column now or after one step."""
        for lane in freeway_lanes(low, low + self.height):
            x = int(now[108 + lane])
            speed = (x - int(before[108 + lane]) + 80) % 160 - 80  # cars wrap around the 160 px road
            if any(self.column[0] <= (x + speed * s) % 160 <= self.column[1] for s in (0, 1)):
                return True
        return False

    def decide(self, now: np.ndarray, before: np.ndarray) -> tuple[int, bool]:
        y = float(now[14])
        if not self._danger(now, before, y + 4):
            return FREEWAY_UP, True
        if not self._danger(now, before, y):
            return FREEWAY_NOOP, True
        return (FREEWAY_DOWN if not self._danger(now, before, y - 4) else FREEWAY_UP), True


# --------------------------------------------------------------------------- Boxing

BOXING_ACTIONS = (
    "NOOP", "FIRE", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT", "DOWNLEFT",
    "UPFIRE", "RIGHTFIRE", "LEFTFIRE", "DOWNFIRE", "UPRIGHTFIRE", "UPLEFTFIRE", "DOWNRIGHTFIRE", "DOWNLEFTFIRE",
)  # fmt: skip
"""ALE's Boxing action set (the full 18), in order."""


class ImitableBoxing(ScreenExpert):
    """Stands ``gap_x`` beside and ``gap_y`` above or below the opponent and punches in range."""

    def __init__(
        self, rng: np.random.Generator, *, gap_x: float = 18.0, gap_y: float = 14.0, tolerance: float = 3.0
    ) -> None:
        super().__init__(rng)
        self.gap_x, self.gap_y, self.tolerance = gap_x, gap_y, tolerance

    def decide(self, now: np.ndarray, before: np.ndarray) -> tuple[int, bool]:
        px, py, ex, ey = now[32], now[34], now[33], now[35]
        tx = ex - (self.gap_x if px <= ex else -self.gap_x)
        ty = ey - (self.gap_y if py <= ey else -self.gap_y)
        name = ""
        if abs(ty - py) >= self.tolerance:
            name += "DOWN" if ty > py else "UP"
        if abs(tx - px) >= 4:
            name += "RIGHT" if tx > px else "LEFT"
        if 8 <= abs(ey - py) <= 26 and abs(ex - px) <= 30:
            name += "FIRE"
        return BOXING_ACTIONS.index(name or "NOOP"), True


# --------------------------------------------------------------------------- Skiing

SKIING_NOOP, SKIING_RIGHT, SKIING_LEFT = 0, 1, 2
SKIING_GATE, SKIING_DOWNHILL = 2, 8  # object kind of a gate; heading straight down the hill
SKIING_FEET_Y = 50.0  # screen y a gate must be below to be still ahead of the skier
SKIING_GATE_MIDDLE = 15.0  # skier x (left edge) that centres it in a gate at object x


class ImitableSkiing(ScreenExpert):
    """Steers through the middle of the next gate below the skier, turning one notch at a time."""

    def __init__(
        self, rng: np.random.Generator, *, gain: float = 2.5, max_turn: float = 2.5, dead_zone: float = 0.5
    ) -> None:
        super().__init__(rng)
        self.gain, self.max_turn, self.dead_zone = gain, max_turn, dead_zone

    def decide(self, now: np.ndarray, before: np.ndarray) -> tuple[int, bool]:
        x, heading = float(now[25]), float(now[15])
        gates = [
            (178.0 - now[86 + i], float(now[62 + i]))
            for i in range(8)
            if now[70 + i] == SKIING_GATE and SKIING_FEET_Y < 178 - now[86 + i] <= 177
        ]
        want = float(SKIING_DOWNHILL)
        if gates:
            gate_y, gate_x = min(gates)
            slope = (gate_x + SKIING_GATE_MIDDLE - x) / max(gate_y - SKIING_FEET_Y, 8.0)
            want += float(np.clip(self.gain * slope, -self.max_turn, self.max_turn))
        if heading < want - self.dead_zone:
            return SKIING_RIGHT, True
        if heading > want + self.dead_zone:
            return SKIING_LEFT, True
        return SKIING_NOOP, True
