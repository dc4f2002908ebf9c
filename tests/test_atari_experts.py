"""RAM-reading Atari experts: each beats random play on a short horizon; play_game's contract."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ale_py")

from genplay.envs.atari import make_atari  # noqa: E402
from genplay.envs.atari_experts import (  # noqa: E402
    ATARI_EXPERTS,
    STALL_STEPS,
    BreakoutExpert,
    PongExpert,
    RandomExpert,
    play_game,
)
from genplay.envs.atari_pong import ball_arrival  # noqa: E402


def _score(game: str, expert, steps: int, seed: int = 0) -> float:
    env = make_atari(game, record_ram=True)
    return play_game(env, expert, seed=seed, max_steps=steps).score


def test_registry_names_three_games():
    assert {"pong", "breakout"} <= set(ATARI_EXPERTS) and len(ATARI_EXPERTS) >= 3


@pytest.mark.slow
def test_breakout_expert_beats_random():
    expert = _score("breakout", BreakoutExpert(np.random.default_rng(0)), 700)
    rand = _score("breakout", RandomExpert(np.random.default_rng(0), 4), 700)
    assert expert >= 15 and expert > rand + 10


@pytest.mark.slow
def test_pong_expert_beats_random():
    expert = _score("pong", PongExpert(np.random.default_rng(0)), 1200)
    rand = _score("pong", RandomExpert(np.random.default_rng(0), 6), 1200)
    assert expert >= 4 and expert > rand + 8


def test_pong_ball_arrival_turns_at_walls_as_the_game_does():
    assert ball_arrival(187, 100, 2) == (1, 102)
    assert ball_arrival(186, 205, 2) == (2, 204)  # 207 is past the bottom wall: back by |v| + 1
    assert ball_arrival(186, 46, -2) == (2, 47)  # 44 is past the top wall
    assert ball_arrival(68, 100, 0) == (120, 100)


def test_pong_ball_arrival_matches_the_emulator():
    env = make_atari("pong", record_ram=True, sticky=False)
    env.reset(seed=0)
    predicted: dict[int, int] = {}
    frame, last_x, checked = 0, 0, 0
    for _ in range(400):
        _, _, _, _, info = env.step(0)
        for ram in info["ram"].astype(int):
            frame += 1
            x, y = ram[49], ram[54]
            if frame in predicted and y:
                assert (x, y) == (188, predicted.pop(frame))
                checked += 1
            if y and 100 < x < 188 and x == last_x + 1 and frame % 7 == 0:
                frames, y_hit = ball_arrival(x, y, int(np.int8(ram[56])))
                predicted[frame + frames] = y_hit
            last_x = x
    assert checked >= 10


@pytest.mark.slow
def test_freeway_expert_crosses():
    assert _score("freeway", ATARI_EXPERTS["freeway"](np.random.default_rng(0)), 400) >= 3


def test_play_game_feeds_on_step_what_the_learner_sees():
    env = make_atari("breakout", record_ram=True)
    seen: list[tuple[np.ndarray, int]] = []
    result = play_game(
        env, BreakoutExpert(np.random.default_rng(0)), seed=1, on_step=lambda o, a: seen.append((o, a)), max_steps=50
    )
    assert result.steps == len(seen) == 50 and not result.stalled
    assert all(o.shape == (4, 84, 84) and o.dtype == np.uint8 for o, _ in seen)
    assert all(0 <= a < env.action_space.n for _, a in seen)


def test_stalled_when_no_ball_for_long():
    expert = PongExpert(np.random.default_rng(0))
    no_ball = np.zeros((4, 128), np.uint8)
    expert.reset(no_ball)
    for _ in range(STALL_STEPS - 1):
        expert.act(no_ball)
    assert not expert.stalled
    expert.act(no_ball)
    assert expert.stalled
    ball = no_ball.copy()
    ball[:, 49], ball[:, 54] = 100, 100
    expert.act(ball)
    assert not expert.stalled


def test_play_game_ends_a_stalled_game():
    class Stuck(RandomExpert):
        @property
        def stalled(self) -> bool:
            return True

    result = play_game(make_atari("pong", record_ram=True), Stuck(np.random.default_rng(0), 6), seed=0)
    assert result.stalled and result.steps == 1
