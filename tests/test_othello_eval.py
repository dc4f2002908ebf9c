"""envs/othello_eval.py and ``alphabeta:D`` on Othello: the cut-off evaluation is a real one."""

from __future__ import annotations

import numpy as np
import pytest

from genplay.envs.board_bots import make_bot, parse_bot_spec
from genplay.envs.othello_eval import WEIGHTS, boards, evaluate_bits, legal_moves, othello_value
from genplay.errors import EnvError

pyspiel = pytest.importorskip("pyspiel")


def _bits(*squares: int) -> int:
    return sum(1 << s for s in squares)


def _random_states(n_games: int, seed: int = 0):
    """Every non-terminal state of ``n_games`` uniformly random Othello games."""
    game = pyspiel.load_game("othello")
    rng = np.random.default_rng(seed)
    for _ in range(n_games):
        state = game.new_initial_state()
        while not state.is_terminal():
            yield state.clone()
            state.apply_action(int(rng.choice(state.legal_actions())))


def test_weights_keep_every_symmetry_of_the_square():
    for k in range(4):
        assert (np.rot90(WEIGHTS, k) == WEIGHTS).all() and (np.rot90(WEIGHTS.T, k) == WEIGHTS).all()


def test_a_corner_outranks_its_mirror_and_the_value_is_zero_sum():
    own, opp = _bits(0, 27, 28), _bits(35, 36)  # the side holding corner a1
    assert evaluate_bits(own, opp) > 0.1 > -0.1 > evaluate_bits(opp, own)
    assert evaluate_bits(own, opp) == pytest.approx(-evaluate_bits(opp, own))
    x_square = _bits(9, 27, 28)  # b2 next to an empty corner gives the corner away
    assert evaluate_bits(x_square, opp) < evaluate_bits(_bits(2, 27, 28), opp)
    assert abs(evaluate_bits((1 << 64) - 1 - 1, 1)) < 0.99  # a cut-off never outranks a proven result


def test_legal_moves_agree_with_openspiel():
    checked = 0
    for state in _random_states(6):
        player = state.current_player()
        own, opp = boards(state, player)
        bits = legal_moves(own, opp)
        legal = [a for a in state.legal_actions() if a < 64]
        assert sorted(i for i in range(64) if bits >> i & 1) == legal
        checked += 1
    assert checked > 300


def test_alphabeta_uses_the_evaluation_at_its_cut_off():
    """Depth 1 plays the first move of highest evaluation (with a 0 cut-off it would play the first legal move)."""
    game = pyspiel.load_game("othello")
    bot = make_bot("alphabeta:1", game)
    differs = 0
    for state in list(_random_states(2, seed=1))[::3]:
        player = state.current_player()
        value = othello_value(player)
        scores = []
        for a in state.legal_actions():
            child = state.child(a)
            scores.append(child.player_return(player) if child.is_terminal() else value(child))
        expected = state.legal_actions()[int(np.argmax(scores))]
        assert bot(state) == expected
        differs += expected != state.legal_actions()[0]
    assert differs > 5


def test_alphabeta_2_beats_random():
    from genplay.gail.suites.boardgames import play_both_colours

    assert play_both_colours("othello", "alphabeta:2", "random", 4, seed=0)["total"]["win"] == 1.0


@pytest.mark.parametrize("spec", ["alphabeta:", "alphabeta:0", "alphabeta:two", "alphabeta:11", "alpha-beta:2"])
def test_bad_alphabeta_specs_are_one_error(spec):
    with pytest.raises(EnvError) as exc:
        parse_bot_spec(spec)
    assert "\n" not in str(exc.value) and repr(spec) in str(exc.value)
