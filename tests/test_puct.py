"""PUCT with a learned prior: the puct:RUN:N spec, the evaluator's prior, a game end to end, the prior's effect."""

from __future__ import annotations

import numpy as np
import pyspiel
import pytest
import torch

import genplay.gail.suites.boardgames  # noqa: F401  (installs the policy loader and the PUCT factory)
from genplay.envs import make_env
from genplay.envs.board_bots import MAX_PUCT_SIMULATIONS, make_bot, parse_bot_spec
from genplay.errors import EnvError
from genplay.gail.saving.sb3_zip import save_sb3_zip
from genplay.gail.suites.puct import PolicyEvaluator, PolicyNet, PuctConfig, masked_prior, puct_bot

C4 = "genplay/ConnectFour-v0"


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory):
    """A small untrained MaskablePPO connect-four policy saved as a run dir (policy.zip)."""
    from sb3_contrib import MaskablePPO

    env = make_env(C4)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = MaskablePPO("MlpPolicy", env, n_steps=16, policy_kwargs={"net_arch": [16]}, seed=0)
    env.close()
    run = tmp_path_factory.mktemp("puct") / "run"
    run.mkdir()
    save_sb3_zip(model, run / "policy.zip")
    return run, model


def test_puct_spec_parses_run_and_simulations():
    assert parse_bot_spec("puct:runs/c4:50") == ("puct", ("runs/c4", 50))
    assert parse_bot_spec("puct:C:/runs/c4:7") == ("puct", ("C:/runs/c4", 7))  # the last colon splits


@pytest.mark.parametrize(
    "spec, needle",
    [
        ("puct:", "puct:<run dir>"),
        ("puct:50", "puct:<run dir>"),
        ("puct:runs/c4", "puct:<run dir>"),
        ("puct:runs/c4:0", "puct:<run dir>"),
        ("puct:runs/c4:-3", "puct:<run dir>"),
        ("puct:runs/c4:2**9", "puct:<run dir>"),
        ("puct:runs/c4:٣", "puct:<run dir>"),  # a non-ASCII digit
        (f"puct:runs/c4:{MAX_PUCT_SIMULATIONS + 1}", "must be <="),
        ("puct:runs/c4:1234567890123", "must be <="),
    ],
)
def test_bad_puct_spec_is_refused_in_one_line(spec, needle):
    with pytest.raises(EnvError) as info:
        parse_bot_spec(spec)
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_config_refuses_bad_values():
    bad = (
        {"simulations": 0},
        {"simulations": 5, "value": "oracle"},
        {"simulations": 5, "c": 0.0},
        {"simulations": 5, "temperature": 0},
    )
    for kwargs in bad:
        with pytest.raises(EnvError):
            PuctConfig(**kwargs)


def _position(moves: list[int]):
    game = pyspiel.load_game("connect_four")
    state = game.new_initial_state()
    for a in moves:
        state.apply_action(a)
    return game, state


def test_prior_is_the_policy_masked_probabilities(saved_run):
    run, model = saved_run
    game, state = _position([3, 3, 3, 3, 3, 3, 2, 4])  # column 3 full: action 3 is illegal
    net = PolicyNet(model)
    assert net.actor is not None  # the numpy path is the one under test
    evaluator = PolicyEvaluator(net, "connect_four", (3, 6, 7), "rollout", np.random.RandomState(0))
    prior = dict(evaluator.prior(state))
    env = make_env(C4)
    planes, mask = env.unwrapped.observe(state, state.current_player())
    env.close()
    assert sorted(prior) == [0, 1, 2, 4, 5, 6] and not mask[3]
    np.testing.assert_array_equal(evaluator.planes(state), planes)  # the evaluator sees what the learner sees
    with torch.inference_mode():
        dist = model.policy.get_distribution(
            torch.as_tensor(planes[None], dtype=torch.float32), action_masks=mask[None]
        )
        expected = dist.distribution.probs[0].numpy()
    np.testing.assert_allclose([prior[a] for a in sorted(prior)], expected[mask], rtol=1e-5, atol=1e-6)
    assert abs(sum(prior.values()) - 1.0) < 1e-9
    assert evaluator.net_calls == 1 and dict(evaluator.prior(state)) == prior and evaluator.net_calls == 1  # cached


def test_critic_value_is_the_movers_and_matches_the_net(saved_run):
    _, model = saved_run
    game, state = _position([3, 4])
    evaluator = PolicyEvaluator(PolicyNet(model), "connect_four", (3, 6, 7), "critic", np.random.RandomState(0))
    out = evaluator.evaluate(state)
    with torch.inference_mode():
        v = model.policy.predict_values(torch.as_tensor(evaluator.planes(state)[None], dtype=torch.float32))
    assert out[0] == pytest.approx(float(np.clip(v.item(), -1, 1)), abs=1e-5) and out[1] == -out[0]


def test_puct_bot_plays_a_game_from_its_spec(saved_run):
    run, _ = saved_run
    game = pyspiel.load_game("connect_four")
    bots = [make_bot(f"puct:{run}:8", game, seed=1), make_bot("mcts:8", game, seed=2)]
    state = game.new_initial_state()
    while not state.is_terminal():
        action = bots[state.current_player()](state)
        assert action in state.legal_actions()
        state.apply_action(action)
    assert bots[0].evaluator.net_calls > 0  # type: ignore[attr-defined]


def test_puct_bot_plays_inside_the_env_as_opponent(saved_run):
    run, _ = saved_run
    env = make_env(C4, opponent=f"puct:{run}:4", agent_player=0)
    _, info = env.reset(seed=0)
    _, _, term, _, info = env.step(int(np.flatnonzero(info["action_mask"])[0]))
    assert not term and int(info["action_mask"].sum()) == 7 and env.unwrapped.state.move_number() == 2
    env.close()


class _Prefers(PolicyNet):
    """A prior that puts almost all its mass on one action (a stand-in for a learned policy)."""

    def __init__(self, action: int) -> None:
        self.action = action

    def logits(self, planes: np.ndarray) -> np.ndarray:
        out = np.zeros((len(planes), 7))
        out[:, self.action] = 10.0
        return out


def _finds_win(uniform: bool, seed: int) -> bool:
    # X (player 0) has 0, 1, 2 on the bottom row; O has stacked on 6: playing 3 wins now.
    game, state = _position([0, 6, 1, 6, 2, 5])
    bot = puct_bot(_Prefers(3), game, PuctConfig(simulations=2, seed=seed, decisive=False), uniform=uniform)
    return bot(state) == 3


def test_the_learned_prior_finds_a_win_in_one_that_a_uniform_prior_misses():
    learned = [_finds_win(False, seed) for seed in range(20)]
    uniform = [_finds_win(True, seed) for seed in range(20)]
    assert all(learned), learned
    assert sum(uniform) <= 10, uniform  # 2 simulations: a uniform prior tries one child of 7


def test_decisive_moves_override_a_prior_that_looks_elsewhere():
    # X to move with 0, 1, 2 on the bottom row: 3 wins at once; the prior wants column 6.
    game, state = _position([0, 6, 1, 6, 2, 5])

    def evaluator(decisive: bool) -> PolicyEvaluator:
        head = lambda planes: np.full(len(planes), -0.4)  # noqa: E731  (a head that thinks X is losing)
        return PolicyEvaluator(_Prefers(6), "connect_four", (3, 6, 7), "head", np.random.RandomState(0), head=head,
                               decisive=decisive)  # fmt: skip

    on, off = evaluator(True), evaluator(False)
    assert on.prior(state) == [(3, 1.0)] and on.evaluate(state)[0] == 1.0
    assert len(off.prior(state)) == 7 and off.evaluate(state)[0] == pytest.approx(-0.4)
    assert on.prior(game.new_initial_state()) == off.prior(game.new_initial_state())  # no win in one: unchanged
    found = [puct_bot(_Prefers(6), game, PuctConfig(2, seed=s))(state) == 3 for s in range(10)]
    missed = [puct_bot(_Prefers(6), game, PuctConfig(2, seed=s, decisive=False))(state) == 3 for s in range(10)]
    assert all(found) and not any(missed)


def test_anti_decisive_prior_drops_the_moves_that_let_the_opponent_win():
    # O (player 1) has 0, 1, 2 on the bottom row and X to move: any move but 3 lets O win at once.
    game, state = _position([6, 0, 6, 1, 5, 2])

    def prior(anti: str, root: bool = False) -> list:
        ev = PolicyEvaluator(_Prefers(0), "connect_four", (3, 6, 7), "rollout", np.random.RandomState(0),
                             decisive=True, anti_decisive=anti)  # fmt: skip
        ev.root_key = (state.current_player(), str(state)) if root else None
        return ev.prior(state)

    assert prior("tree") == [(3, 1.0)] and prior("root", root=True) == [(3, 1.0)]
    assert len(prior("off")) == len(prior("root")) == 7  # "root" checks the search's root only
    blocks = [puct_bot(_Prefers(0), game, PuctConfig(2, seed=s))(state) == 3 for s in range(10)]
    loses = [puct_bot(_Prefers(0), game, PuctConfig(2, seed=s, anti_decisive="off"))(state) == 3 for s in range(10)]
    assert all(blocks) and not any(loses)
    with pytest.raises(EnvError):
        PuctConfig(5, anti_decisive="everywhere")


def test_win_in_one_checks_default_on_in_line_games_only():
    for name, on in (("connect_four", True), ("tic_tac_toe", True), ("othello", False)):
        ev = puct_bot(_Prefers(0), pyspiel.load_game(name), PuctConfig(2)).evaluator  # type: ignore[attr-defined]
        assert (ev.decisive, ev.anti_decisive) == ((True, "root") if on else (False, "off")), name
    ev = puct_bot(_Prefers(0), pyspiel.load_game("othello"), PuctConfig(2, decisive=True, anti_decisive="tree"))
    assert (ev.evaluator.decisive, ev.evaluator.anti_decisive) == (True, "tree")  # type: ignore[attr-defined]


def test_masked_prior_ignores_illegal_logits():
    logits = [0.0, 100.0, 0.0, float(np.log(3.0))]
    prior = masked_prior(logits, [0, 3])
    assert [a for a, _ in prior] == [0, 3]
    np.testing.assert_allclose([p for _, p in prior], [0.25, 0.75])
    np.testing.assert_allclose([p for _, p in masked_prior(logits, [0, 3], temperature=0.5)], [0.1, 0.9])


def test_a_mask_unaware_run_plays_only_legal_moves_when_given_masks():
    """A plain-PPO run (what ``train --algo bc`` saves on a board game) as ``policy:``/suite player."""
    from stable_baselines3 import PPO

    from genplay.gail.data.collect import as_policy_fn

    env = make_env(C4)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        model = PPO("MlpPolicy", env, n_steps=16, policy_kwargs={"net_arch": [16]}, seed=0)
    with torch.no_grad():
        model.policy.action_net.bias.fill_(0.0)
        model.policy.action_net.bias[3] = 50.0  # it wants column 3 above all
    _, state = _position([3, 3, 3, 3, 3, 3])  # which is full
    planes, mask = env.unwrapped.observe(state, state.current_player())
    env.close()
    act = as_policy_fn(model)
    assert int(act(planes[None])[0]) == 3  # without masks: the illegal favourite
    assert mask[int(act(planes[None], mask[None])[0])]
    assert all(mask[int(as_policy_fn(model, deterministic=False)(planes[None], mask[None])[0])] for _ in range(20))


def test_suite_with_opponents_writes_one_pairing_each(saved_run, tmp_path, capsys):
    import json

    from genplay.cli import main

    run, _ = saved_run
    argv = ["evaluate", "--suite", "boardgames", "--env", C4, "--policy", f"puct:{run}:3"]
    argv += ["--opponents", f"mcts:5,{run}", "--n-episodes", "1", "--out", str(tmp_path / "suite")]
    assert main(argv) == 0
    result = json.loads((tmp_path / "suite" / "suite.json").read_text())
    rows = {(r["player"], r["opponent"]): r["total"] for r in result["pairings"]}
    assert sorted(rows) == [(f"puct:{run}:3", o) for o in sorted(["mcts:5", str(run)])]
    assert all(t["n"] == 2 and t["score"] == pytest.approx(t["win"] + t["draw"] / 2) for t in rows.values())
    assert "Bradley-Terry" in capsys.readouterr().out
