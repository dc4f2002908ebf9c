"""PUCT's value head: self-play labels, the fit, the stored file, and the evaluator's use of it."""

from __future__ import annotations

import numpy as np
import pyspiel
import pytest
import torch

import genplay.gail.suites.boardgames  # noqa: F401  (installs the PUCT factory)
from genplay.envs.board_bots import make_bot
from genplay.errors import CheckpointError, EnvError
from genplay.gail.suites.puct import (
    HEAD_C,
    PUCT_C,
    PolicyEvaluator,
    PolicyNet,
    PuctConfig,
    mover_planes,
    puct_bot,
)
from genplay.gail.suites.value_head import (
    VALUE_HEAD_FILE,
    ValueHeadConfig,
    build_head,
    fit_head,
    load_value_head,
    selfplay_positions,
    train_value_head,
)
from genplay.generative.core.state_io import load_state, save_state
from genplay.settings import ConfigError


class _Uniform(PolicyNet):
    """Equal logits everywhere: self-play is uniformly random play."""

    def __init__(self, n_actions: int) -> None:
        self.n = n_actions

    def logits(self, planes: np.ndarray) -> np.ndarray:
        return np.zeros((len(planes), self.n))


def _ttt():
    game = pyspiel.load_game("tic_tac_toe")
    return game, mover_planes("tic_tac_toe", tuple(game.observation_tensor_shape()))


def test_selfplay_labels_each_position_with_its_movers_result():
    game, planes_of = _ttt()
    config = ValueHeadConfig(games=40, random_moves=1, seed=3)
    planes, results, games = selfplay_positions(_Uniform(9).logits, planes_of, game, config, batch=16)
    assert planes.shape[1:] == (3, 3, 3) and len(planes) == len(results) == len(games)
    assert set(np.unique(games)) == set(range(40)) and set(np.unique(results)) <= {-1.0, 0.0, 1.0}
    for g in np.unique(games):
        rows = np.flatnonzero(games == g)
        own = planes[rows, 0].sum(axis=(1, 2))
        # the mover alternates, so consecutive positions of a decided game carry opposite results
        assert np.all(results[rows][1:] == -results[rows][:-1])
        assert own[0] == 0 and len(rows) >= 5
    # the first mover of a random tic-tac-toe game wins more than it loses (about 58% vs 29%)
    first = np.array([results[np.flatnonzero(games == g)[0]] for g in np.unique(games)])
    assert (first > 0).sum() > (first < 0).sum()


def test_fit_learns_a_signal_and_not_shuffled_labels():
    rng = np.random.default_rng(0)
    planes = (rng.random((4000, 3, 3, 3)) < 0.3).astype(np.float32)
    results = np.sign(planes[:, 0].sum(axis=(1, 2)) - planes[:, 1].sum(axis=(1, 2))).astype(np.float32)
    games = np.arange(4000)
    config = ValueHeadConfig(games=10, hidden=(32,), epochs=15, seed=0)
    _, learned = fit_head(planes, results, games, config)
    _, shuffled = fit_head(planes, rng.permutation(results), games, config)
    assert learned["heldout_mse"] < 0.5 * learned["constant_mse"] and learned["heldout_sign_accuracy"] > 0.9
    assert shuffled["heldout_mse"] > 0.9 * shuffled["constant_mse"]


def test_stored_head_round_trips_and_is_found_by_the_spec(tmp_path):
    game, planes_of = _ttt()
    config = ValueHeadConfig(games=30, hidden=(8,), epochs=2, seed=1)
    report = train_value_head(tmp_path, game, _Uniform(9).logits, planes_of, config)
    assert (tmp_path / VALUE_HEAD_FILE).is_file() and report["positions"] > 30 * 5
    values = load_value_head(tmp_path, "tic_tac_toe")
    x = np.random.default_rng(0).random((5, 3, 3, 3)).astype(np.float32)
    state = load_state(tmp_path / VALUE_HEAD_FILE)
    head = build_head(27, (8,))
    head.load_state_dict(state["weights"])
    with torch.no_grad():
        expected = head(torch.as_tensor(x.reshape(5, -1)))[:, 0].numpy()
    np.testing.assert_allclose(values(x), expected, rtol=1e-5, atol=1e-6)
    assert load_value_head(tmp_path / "elsewhere", "tic_tac_toe") is None


def test_foreign_or_damaged_head_files_are_refused(tmp_path):
    save_state(tmp_path / VALUE_HEAD_FILE, {"kind": "genplay.value_head", "game": "othello", "weights": {}})
    with pytest.raises(CheckpointError, match="expected 'genplay.value_head'/'tic_tac_toe'"):
        load_value_head(tmp_path, "tic_tac_toe")
    save_state(tmp_path / VALUE_HEAD_FILE, {"kind": "genplay.value_head", "game": "tic_tac_toe", "shape": [3, 3, 3]})
    with pytest.raises(CheckpointError, match="field 'weights'"):
        load_value_head(tmp_path, "tic_tac_toe")
    (tmp_path / VALUE_HEAD_FILE).write_bytes(b"not a state file")
    with pytest.raises(CheckpointError):
        load_value_head(tmp_path, "tic_tac_toe")


def test_config_refuses_bad_values():
    for bad in ({"games": 0}, {"temperature": 0.0}, {"holdout": 0.0}, {"hidden": (0,)}):
        with pytest.raises(ConfigError):
            ValueHeadConfig(**bad)
    with pytest.raises(EnvError):
        PuctConfig(simulations=5, mix=1.5)


def _c4_state(moves: list[int]):
    game = pyspiel.load_game("connect_four")
    state = game.new_initial_state()
    for a in moves:
        state.apply_action(a)
    return game, state


def test_head_value_is_mixed_with_a_rollout_by_mix():
    game, state = _c4_state([3, 4, 3])
    seen = []

    def head(planes: np.ndarray) -> np.ndarray:
        seen.append(planes.copy())
        return np.full(len(planes), 0.6)

    def evaluator(mix: float, **kw) -> PolicyEvaluator:
        rng = np.random.RandomState(0)
        return PolicyEvaluator(_Uniform(7), "connect_four", (3, 6, 7), "head", rng, head=head, mix=mix, **kw)

    mover = state.current_player()
    out = evaluator(0.0).evaluate(state)
    assert out[mover] == pytest.approx(0.6) and out[1 - mover] == pytest.approx(-0.6)
    mixed = evaluator(0.5)
    rollout = np.random.RandomState(0)  # the same playout seed as ``mixed``'s
    reference = PolicyEvaluator(_Uniform(7), "connect_four", (3, 6, 7), "rollout", rollout).evaluate(state)
    head_vector = np.where(np.arange(2) == mover, 0.6, -0.6)
    np.testing.assert_allclose(mixed.evaluate(state), 0.5 * head_vector + 0.5 * reference)
    np.testing.assert_array_equal(seen[0][0], mover_planes("connect_four", (3, 6, 7))(state))
    with pytest.raises(EnvError, match="no value head"):
        PolicyEvaluator(_Uniform(7), "connect_four", (3, 6, 7), "head", np.random.RandomState(0))
    assert PolicyEvaluator(_Uniform(7), "connect_four", (3, 6, 7), "auto", np.random.RandomState(0)).value == "rollout"


def test_batched_children_give_the_same_priors_and_values_in_fewer_calls():
    game, state = _c4_state([3, 4])

    def head(planes: np.ndarray) -> np.ndarray:
        return np.tanh(planes[:, 0].sum(axis=(1, 2)) - planes[:, 1].sum(axis=(1, 2)) + 0.1 * planes[:, 0, 5, 3])

    one, batched = (
        PolicyEvaluator(_Uniform(7), "connect_four", (3, 6, 7), "head", np.random.RandomState(0), head=head,
                        mix=0.0, batch_children=b)
        for b in (False, True)
    )  # fmt: skip
    children = [state.child(a) for a in state.legal_actions()]
    for ev in (one, batched):
        ev.prior(state)
    for child in children:
        assert one.prior(child) == batched.prior(child)
        np.testing.assert_allclose(one.evaluate(child), batched.evaluate(child))
    assert batched.net_calls == 1 and one.net_calls == 1 + len(children)


def test_spec_bot_uses_the_runs_value_head(tmp_path):
    from sb3_contrib import MaskablePPO

    from genplay.envs import make_env
    from genplay.gail.saving.sb3_zip import save_sb3_zip

    env = make_env("genplay/TicTacToe-v0")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MaskablePPO("MlpPolicy", env, n_steps=16, policy_kwargs={"net_arch": [8]}, seed=0)
    env.close()
    save_sb3_zip(model, tmp_path / "policy.zip")
    game = pyspiel.load_game("tic_tac_toe")
    assert make_bot(f"puct:{tmp_path}:4", game).evaluator.value == "rollout"  # type: ignore[attr-defined]
    _, planes_of = _ttt()
    train_value_head(tmp_path, game, _Uniform(9).logits, planes_of, ValueHeadConfig(games=20, hidden=(8,), epochs=1))
    bot = make_bot(f"puct:{tmp_path}:4", game)
    state = game.new_initial_state()
    assert bot(state) in state.legal_actions() and bot.evaluator.value == "head"  # type: ignore[attr-defined]
    assert bot.c == HEAD_C and make_bot("mcts:4", game)(state) in state.legal_actions()  # type: ignore[attr-defined]
    rollout_bot = puct_bot(tmp_path, game, PuctConfig(4, value="rollout"))
    assert rollout_bot.evaluator.value == "rollout" and rollout_bot.c == PUCT_C  # type: ignore[attr-defined]


def _script_main():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scripts" / "train_value_head.py"
    spec = importlib.util.spec_from_file_location("train_value_head_script", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module.main


@pytest.mark.slow  # runs the script's main: self-play, a fit and the file round trip
def test_script_trains_a_head_and_refuses_a_missing_run(tmp_path, capsys):
    import json

    from sb3_contrib import MaskablePPO

    from genplay.envs import make_env
    from genplay.gail.saving.sb3_zip import save_sb3_zip

    main = _script_main()
    assert main(["--run", str(tmp_path / "missing"), "--game", "tic_tac_toe", "--games", "10"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "missing" in err[0]
    env = make_env("genplay/TicTacToe-v0")
    with torch.random.fork_rng():
        model = MaskablePPO("MlpPolicy", env, n_steps=16, policy_kwargs={"net_arch": [8]}, seed=0)
    env.close()
    save_sb3_zip(model, tmp_path / "policy.zip")
    assert main(["--run", str(tmp_path), "--game", "tic_tac_toe", "--games", "12", "--epochs", "1"]) == 0
    line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert line["games"] == 12 and line["source"] == "self-play of the run's policy"
    assert load_value_head(tmp_path, "tic_tac_toe") is not None


def _random_c4_states(n: int, seed: int = 0) -> list:
    game, rng, states = pyspiel.load_game("connect_four"), np.random.default_rng(seed), []
    while len(states) < n:
        state = game.new_initial_state()
        for _ in range(int(rng.integers(0, 25))):
            if state.is_terminal():
                break
            state.apply_action(int(rng.choice(state.legal_actions())))
        if not state.is_terminal():
            states.append(state)
    return states


def test_fused_policy_and_head_give_the_separate_networks_priors_and_values(tmp_path):
    """The one-pass twin (stacked layers on the raw observation tensor) against the policy and head run apart."""
    from sb3_contrib import MaskablePPO

    from genplay.envs import make_env
    from genplay.gail.suites.value_head import PlanesValue, numpy_mlp

    env = make_env("genplay/ConnectFour-v0")
    with torch.random.fork_rng():
        torch.manual_seed(0)
        # SB3's default Tanh hidden layers here, the head's ReLU: the twin applies each half's own
        model = MaskablePPO("MlpPolicy", env, n_steps=16, policy_kwargs={"net_arch": [16, 12]}, seed=0)
        head = PlanesValue(numpy_mlp(build_head(126, (16, 12))))  # type: ignore[arg-type]
    env.close()

    def evaluator(fused: bool) -> PolicyEvaluator:
        ev = PolicyEvaluator(PolicyNet(model), "connect_four", (3, 6, 7), "head", np.random.RandomState(0), head=head,
                             temperature=0.7)  # fmt: skip
        assert ev.twin is not None
        if not fused:
            ev.twin = None
        return ev

    fused, apart = evaluator(True), evaluator(False)
    states = _random_c4_states(40)
    assert {s.current_player() for s in states} == {0, 1}
    for state in states:
        prior, reference = fused.prior(state), apart.prior(state)
        assert [a for a, _ in prior] == [a for a, _ in reference] == state.legal_actions()
        np.testing.assert_allclose([p for _, p in prior], [p for _, p in reference], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(fused.evaluate(state), apart.evaluate(state), rtol=1e-5, atol=1e-6)
    with torch.random.fork_rng():
        wider = PlanesValue(numpy_mlp(build_head(126, (16, 8))))  # type: ignore[arg-type]
    other = PolicyEvaluator(PolicyNet(model), "connect_four", (3, 6, 7), "head", np.random.RandomState(0), head=wider)
    assert other.twin is None  # the widths differ: the separate path
