"""Board-game envs: OpenSpiel's rules, masks against the library's legal moves, illegal moves,
both colours, the env checker, the bots, and the demos' symmetry augmentation."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

pyspiel = pytest.importorskip("pyspiel")

from genplay.envs.board_bots import SolverBot, make_bot  # noqa: E402
from genplay.envs.boardgames import GAMES, IllegalActionError  # noqa: E402
from genplay.errors import EnvError  # noqa: E402
from genplay.gail.suites.board_symmetry import augment_symmetries  # noqa: E402
from genplay.gail.suites.boardgames import collect_bot_demos, play_games  # noqa: E402

IDS = {name: g.env_id for name, g in GAMES.items()}


def scripted(moves):
    """An opponent policy playing ``moves`` in order (each must be legal)."""
    it = iter(moves)
    return lambda obs, masks: np.array([next(it)])


def test_tic_tac_toe_row_wins_and_the_loser_loses():
    env = gym.make(IDS["tic_tac_toe"], agent_player=0)
    env.unwrapped.set_opponent(scripted([3, 4]))
    env.reset(seed=0)
    assert env.step(0)[1:3] == (0.0, False) and env.step(1)[1:3] == (0.0, False)
    obs, reward, term, _, info = env.step(2)  # 0, 1, 2: top row
    assert (reward, term, info["outcome"]) == (1.0, True, 1)
    assert obs[0].ravel().tolist() == [1, 1, 1, 0, 0, 0, 0, 0, 0]  # own plane
    assert obs[1].ravel().tolist() == [0, 0, 0, 1, 1, 0, 0, 0, 0]  # opponent's plane
    assert not env.unwrapped.action_masks().any()  # game over: nothing legal
    env.unwrapped.set_opponent(scripted([0, 1, 2]))  # now the opponent (X) completes the row
    env.reset(seed=0, options={"agent_player": 1})
    env.step(4)
    _, reward, term, _, info = env.step(8)
    assert (reward, term, info["outcome"]) == (-1.0, True, -1)


def test_connect_four_vertical_four_and_full_column():
    env = gym.make(IDS["connect_four"], agent_player=0)
    env.unwrapped.set_opponent(scripted([1, 1, 1, 0, 0, 0]))
    env.reset(seed=0)
    for _ in range(3):
        assert env.step(0)[2] is False
    _, reward, term, _, _ = env.step(0)
    assert (reward, term) == (1.0, True)
    env.unwrapped.set_opponent(scripted([0, 0, 0]))  # column 0 fills up: 6 stones
    env.reset(seed=0)
    for _ in range(3):
        env.step(0)
    assert env.unwrapped.action_masks().tolist() == [False] + [True] * 6


def test_othello_opening_moves_are_the_librarys():
    env = gym.make(IDS["othello"], agent_player=0)
    obs, info = env.reset(seed=0)
    assert np.flatnonzero(info["action_mask"]).tolist() == [19, 26, 37, 44]  # d3, c4, f5, e6
    assert obs[0].sum() == 2 and obs[1].sum() == 2 and obs[2].sum() == 60


@pytest.mark.parametrize("game", sorted(GAMES))
def test_masks_match_legal_moves_on_random_playouts(game):
    env = gym.make(IDS[game])
    rng = np.random.default_rng(0)
    for episode in range(10 if game == "othello" else 30):
        obs, info = env.reset(seed=episode)
        state, agent = env.unwrapped.state, env.unwrapped.agent
        term = False
        while not term:
            legal = state.legal_actions(agent)
            mask = env.unwrapped.action_masks()
            assert np.flatnonzero(mask).tolist() == legal and (info["action_mask"] == mask).all()
            assert (obs.sum(0) == 1).all()  # every cell is own, opponent's or empty
            assert obs.shape == env.observation_space.shape and env.observation_space.contains(obs)
            obs, _, term, _, info = env.step(int(rng.choice(legal)))
        assert info["outcome"] == np.sign(state.returns()[agent])


@pytest.mark.parametrize("game", sorted(GAMES))
def test_env_checker(game):
    # othello's first sampled action is usually illegal: the checker runs it in the penalty mode
    check_env(gym.make(IDS[game], illegal="lose" if game == "othello" else "raise").unwrapped, skip_render_check=True)


def test_illegal_move_is_refused_and_the_board_kept():
    env = gym.make(IDS["tic_tac_toe"], agent_player=0)
    env.reset(seed=0)
    env.step(4)
    before = str(env.unwrapped.state)
    taken = int(np.flatnonzero(env.unwrapped.action_masks() == 0)[0])
    with pytest.raises(IllegalActionError, match="illegal action"):
        env.step(taken)
    assert str(env.unwrapped.state) == before
    lose = gym.make(IDS["tic_tac_toe"], agent_player=0, illegal="lose")
    lose.reset(seed=0)
    lose.step(4)
    _, reward, term, _, info = lose.step(4)
    assert (reward, term, info["illegal_action"]) == (-1.0, True, True)


def test_both_colours_and_the_agents_point_of_view():
    first = gym.make(IDS["tic_tac_toe"], agent_player=0).reset(seed=0)[0]
    second, info = gym.make(IDS["tic_tac_toe"], agent_player=1).reset(seed=0)
    assert first.sum((1, 2)).tolist() == [0, 0, 9]
    assert second.sum((1, 2)).tolist() == [0, 1, 8] and info["agent_player"] == 1  # the opponent has moved
    env = gym.make(IDS["connect_four"])
    colours = {env.reset(seed=s)[1]["agent_player"] for s in range(20)}
    assert colours == {0, 1}


def test_info_names_the_episodes_opponent():
    env = gym.make(IDS["tic_tac_toe"], opponent="random|solver")
    assert {env.reset(seed=s)[1]["opponent"] for s in range(20)} == {"random", "solver"}
    env.unwrapped.set_opponent(scripted([4]))
    _, info = env.reset(seed=0, options={"agent_player": 0})
    after = env.step(0)[4]
    assert info["opponent"] == after["opponent"] == "policy"


def test_bad_env_options_name_the_option():
    with pytest.raises(EnvError, match="opponent"):
        gym.make(IDS["tic_tac_toe"], opponent="mcts:lots")
    with pytest.raises(EnvError, match="agent_player"):
        gym.make(IDS["tic_tac_toe"], agent_player=2)
    with pytest.raises(EnvError, match="illegal"):
        gym.make(IDS["tic_tac_toe"], illegal="ignore")


def test_solver_is_perfect_and_search_bots_play():
    game = pyspiel.load_game("tic_tac_toe")
    assert SolverBot(game, np.random.default_rng(0)).value(game.new_initial_state()) == 0  # a draw
    assert play_games("tic_tac_toe", "solver", "random", 100, seed=0).loss == 0
    assert play_games("tic_tac_toe", "solver", "solver", 20, seed=0).draw == 20
    assert play_games("tic_tac_toe", "alphabeta:9", "solver", 10, seed=0).draw == 10
    c4 = play_games("connect_four", "mcts:100", "random", 20, seed=0)
    assert c4.win >= 18
    state = pyspiel.load_game("connect_four").new_initial_state()
    assert make_bot("mcts:10", state.get_game(), seed=0)(state) in range(7)


def test_demos_carry_masks_and_symmetries_keep_moves_legal():
    demos = collect_bot_demos("tic_tac_toe", "solver", 6, seed=0)
    assert demos.action_masks[np.arange(demos.n_transitions), demos.acts].all()
    aug = augment_symmetries(demos, "tic_tac_toe")
    assert aug.n_transitions == 8 * demos.n_transitions
    i, _ = aug.transition_indices()
    empty = aug.obs[i, 2].reshape(len(i), 9)
    assert (aug.action_masks == empty.astype(bool)).all()  # tic-tac-toe: legal == empty cell
    assert empty[np.arange(len(i)), aug.acts].all()
    c4 = augment_symmetries(collect_bot_demos("connect_four", "mcts:20", 2, seed=0), "connect_four")
    j, _ = c4.transition_indices()
    assert (c4.action_masks == c4.obs[j, 2, -1].astype(bool)).all()  # legal == top cell empty (last row)
