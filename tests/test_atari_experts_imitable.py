"""Imitable Atari experts: the registry of both kinds, decisions from the last frame's RAM only,
and each expert beating random play on a short game."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ale_py")

from genplay.envs.atari import make_atari  # noqa: E402
from genplay.envs.atari_experts import (  # noqa: E402
    ATARI_EXPERTS,
    EXPERT_KINDS,
    BreakoutExpert,
    PongExpert,
    RandomExpert,
    expert_games,
    expert_name,
    play_game,
)
from genplay.envs.atari_imitable import (  # noqa: E402
    ImitableBoxing,
    ImitableBreakout,
    ImitableFreeway,
    ImitablePong,
    ImitableSkiing,
    ScreenExpert,
    freeway_lanes,
)
from genplay.errors import EnvError  # noqa: E402

IMITABLE = ("pong", "breakout", "freeway", "boxing", "skiing")


def test_a_games_name_is_its_imitable_expert_and_planners_are_named_apart():
    assert ATARI_EXPERTS["pong"] is ImitablePong and ATARI_EXPERTS["breakout"] is ImitableBreakout
    assert ATARI_EXPERTS["boxing"] is ImitableBoxing and ATARI_EXPERTS["freeway"] is ImitableFreeway
    assert ATARI_EXPERTS["skiing"] is ImitableSkiing
    assert ATARI_EXPERTS["pong-planner"] is PongExpert and ATARI_EXPERTS["breakout-planner"] is BreakoutExpert
    assert set(IMITABLE) <= set(expert_games()) and expert_games("planner") == ["breakout", "pong"]
    assert expert_name("pong") == "pong" and expert_name("pong", "planner") == "pong-planner"
    assert EXPERT_KINDS == ("imitable", "planner")


def test_expert_lookup_refuses_unknown_games_and_kinds():
    with pytest.raises(EnvError, match="no imitable scripted expert for alien; genplay has them for boxing"):
        expert_name("alien")
    with pytest.raises(EnvError, match="no planner scripted expert for boxing"):
        expert_name("boxing", "planner")
    with pytest.raises(EnvError, match="unknown Atari expert kind 'oracle'; expected one of imitable, planner"):
        expert_games("oracle")


@pytest.mark.parametrize("name", IMITABLE)
def test_imitable_experts_read_only_the_last_frame_of_each_step(name):
    """The frames inside a step (which the frame stack does not show) never change the decision."""
    rng = np.random.default_rng(0)
    expert_a, expert_b = ATARI_EXPERTS[name](rng), ATARI_EXPERTS[name](rng)
    assert isinstance(expert_a, ScreenExpert)
    first = rng.integers(1, 200, size=(4, 128), dtype=np.uint8)
    expert_a.reset(first)
    expert_b.reset(first[-1:])
    for _ in range(20):
        ram = rng.integers(1, 200, size=(4, 128), dtype=np.uint8)
        other = rng.integers(1, 200, size=(4, 128), dtype=np.uint8)
        other[-1] = ram[-1]
        assert expert_a.act(ram) == expert_b.act(other)


def test_imitable_pong_steers_toward_the_ball_and_waits_in_the_middle():
    expert = ImitablePong(np.random.default_rng(0))
    before, now = np.zeros(128, np.int64), np.zeros(128, np.int64)
    before[[49, 54, 51]], now[[49, 54, 51]] = (150, 60, 150), (154, 60, 150)  # flat ball high up, paddle low
    assert expert.decide(now, before)[0] == 2  # up
    before[[49, 54, 51]], now[[49, 54, 51]] = (150, 190, 60), (154, 190, 60)
    assert expert.decide(now, before)[0] == 3  # down
    now[[49, 54, 51]] = (0, 0, 110)  # no ball: rest in the middle
    assert expert.decide(now, now)[0] == 0


def test_imitable_freeway_waits_for_a_car_in_the_lane_ahead():
    expert = ImitableFreeway(np.random.default_rng(0))
    assert freeway_lanes(6, 12) == [0] and freeway_lanes(20, 26) == [0, 1]
    before, now = np.zeros(128, np.int64), np.zeros(128, np.int64)
    now[14] = 30  # in lane 1 (22-38); a step up reaches lane 2
    before[108:118], now[108:118] = 100, 100  # every car far to the right, standing
    assert expert.decide(now, before)[0] == 1  # up
    before[110], now[110] = 36, 40  # lane 2's car enters the chicken's column: wait
    assert expert.decide(now, before)[0] == 0
    before[109], now[109] = 36, 40  # and lane 1's too, where a step back also lands: up anyway
    assert expert.decide(now, before)[0] == 1


def test_imitable_skiing_turns_toward_the_next_gate_below():
    expert = ImitableSkiing(np.random.default_rng(0))
    now = np.zeros(128, np.int64)
    now[25], now[15] = 76, 8  # skier at x 76 heading straight down
    now[70:78] = 85  # trees everywhere ...
    now[70], now[62], now[86] = 2, 100, 178 - 120  # ... and a gate to the right, below
    now[71], now[63], now[87] = 2, 10, 178 - 40  # a gate already passed (above the skier): ignored
    assert expert.decide(now, now)[0] == 1  # right
    now[62] = 20  # the gate to the left
    assert expert.decide(now, now)[0] == 2  # left
    now[62], now[15] = 61, 8  # straight below, heading down: hold
    assert expert.decide(now, now)[0] == 0


def _score(game: str, expert, steps: int, seed: int = 0) -> float:
    env = make_atari(game, record_ram=True)
    try:
        return play_game(env, expert, seed=seed, max_steps=steps).score
    finally:
        env.close()


SHORT_GAMES = {  # game: (agent steps, least expert score, least margin over random)
    "pong": (1500, -1, 5),
    "breakout": (500, 12, 8),
    "boxing": (800, 20, 10),
    "freeway": (400, 4, 4),
    "skiing": (1500, -4000, 5000),  # a full expert run (about 520 steps); random is far slower
}


@pytest.mark.slow
@pytest.mark.parametrize("game", IMITABLE)
def test_each_imitable_expert_beats_random_on_a_short_game(game):
    steps, least, margin = SHORT_GAMES[game]
    expert = _score(game, ATARI_EXPERTS[game](np.random.default_rng(0)), steps)
    rand = _score(game, RandomExpert(np.random.default_rng(0), make_atari(game).action_space.n), steps)
    assert expert >= least and expert >= rand + margin, (expert, rand)
