"""Board games through the same commands as every other env: ``demos collect`` with bot keywords,
``gail train`` (MaskablePPO, presets, run directory, resume) and ``evaluate --suite boardgames``."""

from __future__ import annotations

import csv
import json
import zipfile
from pathlib import Path

import pytest

pytest.importorskip("pyspiel")

from genplay.cli import main  # noqa: E402
from genplay.gail.data.demos import load_demos  # noqa: E402

ENV = "genplay/TicTacToe-v0"
TINY = [
    "--n-envs",
    "2",
    "--ppo-n-steps",
    "32",
    "--ppo-batch-size",
    "64",
    "--ppo-n-epochs",
    "1",
    "--ppo-net-arch",
    "16",
    "--disc-hidden",
    "16",
    "--disc-updates",
    "1",
    "--disc-batch-size",
    "32",
    "--bc-epochs",
    "1",
    "--quiet",
]


def run(argv: list[str]) -> int:
    return main([str(a) for a in argv])


@pytest.fixture(scope="module")
def root(tmp_path_factory) -> Path:
    """Expert demos and a tiny trained run (preset settings, 128 steps), shared by the tests."""
    root = tmp_path_factory.mktemp("board_cli")
    assert run(["demos", "collect", "--env", ENV, "--n-episodes", 6, "--out", root / "demos.npz"]) == 0
    train = ["gail", "train", "--env", ENV, "--demos", root / "demos.npz", "--out", root / "run", *TINY]
    assert run([*train, "--timesteps", 128]) == 0
    return root


def _zip_meta(path: Path) -> dict:
    with zipfile.ZipFile(path) as zf:
        return json.loads(zf.read("genplay.json"))


@pytest.mark.parametrize("policy", ["expert", "solver", "mcts:5", "alphabeta:2", "random", "RUN_DIR"])
def test_demos_collect_plays_each_bot_keyword_and_a_run_dir(root, policy):
    out = root / f"d_{policy.replace(':', '_')}.npz"
    given = str(root / "run") if policy == "RUN_DIR" else policy
    argv = ["demos", "collect", "--env", ENV, "--policy", given, "--n-episodes", 3, "--out", out]
    assert run([*argv, "--opponent", "random"]) == 0
    demos = load_demos(out, env_id=ENV)
    assert demos.n_episodes == 3 and demos.action_masks is not None
    assert demos.metadata["policy"] == {"expert": "solver", "RUN_DIR": given}.get(policy, policy)
    assert demos.metadata["opponent"] == "random"


def test_a_saved_run_plays_as_the_opponent(root, monkeypatch):
    """``policy:RUN_DIR`` opponents load through the loader gail installs (envs imports nothing from gail)."""
    from genplay.envs import board_bots

    spec = f"policy:{root / 'run'}"
    out = root / "vs_policy.npz"
    argv = ["demos", "collect", "--env", ENV, "--policy", "solver", "--opponent", spec, "--n-episodes", 2]
    assert run([*argv, "--out", out]) == 0
    record = load_demos(out).metadata["expert_record_by_opponent"]
    assert set(record) == {spec} and record[spec]["loss"] == 0
    import pyspiel

    monkeypatch.setattr(board_bots, "_POLICY_LOADER", [])
    with pytest.raises(board_bots.EnvError, match="no policy loader"):
        board_bots.make_bot(spec, pyspiel.load_game("tic_tac_toe"), observe=lambda state, player: None)


def test_demos_collect_defaults_to_the_preset_games_and_opponents(root):
    from genplay.gail.suites.boardgame_presets import PRESETS

    demos = load_demos(root / "demos.npz")  # collected with --n-episodes 6 and no --opponent
    assert demos.metadata["opponent"] == PRESETS["tic_tac_toe"].demo_opponents
    assert demos.metadata["expert_record"]["loss"] == 0  # the solver never loses


def test_expert_choice_is_one_setting_per_env_family():
    from genplay.envs import EnvFactory
    from genplay.errors import EnvError
    from genplay.gail.data.expert_choice import default_expert, expert_demos, expert_family

    families = {e: expert_family(e) for e in (ENV, "genplay/ConnectFour-v0", "Pendulum-v1", "CartPole-v1")}
    assert families == {ENV: "board-bot", "genplay/ConnectFour-v0": "board-bot", "Pendulum-v1": "scripted",
                        "CartPole-v1": "ppo"}  # fmt: skip
    with pytest.raises(EnvError, match="mcts:200"):  # a bot reads the game's state: no policy on observations
        default_expert("genplay/ConnectFour-v0")
    demos = expert_demos(ENV, 2, seed=3)  # a bare id: the preset's bot and demo opponents
    assert (demos.metadata["policy"], demos.metadata["opponent"]) == ("solver", "random|mcts:10|solver")
    demos = expert_demos(EnvFactory(ENV, {"opponent": "random"}), 2, seed=3)
    assert demos.metadata["opponent"] == "random" and demos.n_episodes == 2


def test_every_board_env_gets_its_board_preset_not_an_atari_one():
    """ALE has an Othello too: the id ``genplay/Othello-v0`` is the board game and takes the board preset
    (the Atari preset's CnnPolicy refused its planes, so `genplay train --algo bc` failed on Othello)."""
    from genplay.gail.algos.config import atari_game_of
    from genplay.gail.algos.presets import preset
    from genplay.gail.suites.boardgame_presets import PRESETS, board_config

    for game, recipe in PRESETS.items():
        env_id = "genplay/" + "".join(part.title() for part in game.split("_")) + "-v0"
        assert atari_game_of(env_id) is None, env_id
        assert preset(env_id) == board_config(recipe), env_id
    assert atari_game_of("genplay/Pong-v0") == "Pong"


def test_gail_train_writes_a_masked_run_dir_and_resumes_it(root):
    out = root / "run"
    for name in ("checkpoint.pt", "config.json", "policy.zip", "learning_curve.png", "logs/progress.csv"):
        assert (out / name).is_file(), name
    meta = _zip_meta(out / "policy.zip")
    assert (meta["algo"], meta["policy"]) == ("MaskablePPO", "SymmetricMaskablePolicy")  # the preset's policy
    resume = ["gail", "train", "--env", ENV, "--demos", root / "demos.npz", "--out", out, "--quiet", "--resume"]
    assert run([*resume, "--timesteps", 192]) == 0
    from genplay.gail.saving.checkpoint import read_checkpoint

    state = read_checkpoint(out / "checkpoint.pt")
    assert state["generator"]["meta"]["algo"] == "MaskablePPO" and state["generator"]["meta"]["num_timesteps"] == 192
    assert _zip_meta(out / "policy.zip")["policy"] == "SymmetricMaskablePolicy"
    with open(out / "logs" / "progress.csv") as f:
        rows = list(csv.DictReader(f))
    assert rows[-1]["time/total_timesteps"] == "192"
    assert rows[-1]["gail/bc_reg_nll"] not in ("", None)  # the resumed run kept its BC regulariser


def test_gail_train_applies_the_board_preset_and_a_flag_given_wins(root):
    from genplay.gail.suites.boardgame_presets import PRESETS

    ttt = PRESETS["tic_tac_toe"]
    preset = json.loads((root / "run" / "config.json").read_text())
    assert (preset["bc"]["reg_steps"], preset["symmetric_policy"], preset["demo_symmetries"]) == (
        ttt.bc_reg_steps,
        True,
        True,
    )
    assert preset["train_opponent"] == ttt.train_opponent == "" and preset["ppo"]["activation"] == "relu"
    out = root / "flags"
    flags = ["--bc-reg-steps", 0, "--symmetric-policy", "false", "--train-opponent", "random", "--timesteps", 64]
    assert run(["gail", "train", "--env", ENV, "--demos", root / "demos.npz", "--out", out, *TINY, *flags]) == 0
    given = json.loads((out / "config.json").read_text())
    assert (given["bc"]["reg_steps"], given["symmetric_policy"], given["train_opponent"]) == (0, False, "random")
    assert _zip_meta(out / "policy.zip")["policy"] == "MlpPolicy"


def test_evaluate_suite_boardgames_reads_the_run(root, capsys):
    out = root / "suite"
    argv = ["evaluate", "--suite", "boardgames", "--env", ENV, "--policy", root / "run", "--n-episodes", 1]
    assert run([*argv, "--out", out, "--json"]) == 0
    result = json.loads((out / "suite.json").read_text())
    assert "run" in result["elo"] and not result["failed"]
    assert {r["opponent"] for r in result["pairings"] if r["player"] == "run"} >= {"random", "solver"}
    capsys.readouterr()
    assert run(["evaluate", "--env", ENV, "--policy", root / "run", "--n-episodes", 1, "--json"]) == 0  # same suite
    assert json.loads(capsys.readouterr().out)["suite"] == "boardgames"
    assert run(["evaluate", "--env", "genplay/ConnectFour-v0", "--policy", "expert", "--n-episodes", 1, "--json"]) == 0
    assert "mcts:200" in json.loads(capsys.readouterr().out)["elo"]  # the preset's bot is a reference already


COLLECT = ["demos", "collect", "--env", ENV, "--n-episodes", "1", "--out", "{root}/bad.npz"]
C4 = ["demos", "collect", "--env", "genplay/ConnectFour-v0", "--n-episodes", "1", "--out", "{root}/bad.npz"]
TRAIN = ["gail", "train", "--env", ENV, "--demos", "{root}/demos.npz", "--out", "{root}/bad_run", "--timesteps", "64"]


@pytest.mark.parametrize(
    "argv, needle",
    [
        ([*COLLECT, "--policy", "minimax:3"], "--policy"),
        ([*COLLECT, "--policy", "{root}/no_such_run"], "--policy"),
        ([*C4, "--policy", "mcts:100000000"], "mcts simulations must be <= 50000"),
        ([*C4, "--policy", "mcts:2**70"], "--policy"),
        ([*C4, "--policy", "mcts:" + "9" * 30], "mcts simulations must be <="),
        ([*C4, "--policy", "alphabeta:40"], "alphabeta depth must be <= 10"),
        ([*C4, "--policy", "solver"], "solver only plays tic_tac_toe"),
        ([*COLLECT, "--opponent", "random|mcts:0"], "--opponent"),
        (
            [
                "demos",
                "collect",
                "--env",
                "CartPole-v1",
                "--n-episodes",
                "1",
                "--out",
                "{root}/x.npz",
                "--opponent",
                "random",
            ],
            "--opponent",
        ),  # fmt: skip
        ([*TRAIN, "--train-opponent", "mcts:999999"], "--train-opponent"),
        ([*TRAIN[:3], "genplay/ConnectFour-v0", *TRAIN[4:], "--train-opponent", "solver"], "--train-opponent"),
        (
            [
                "gail",
                "train",
                "--env",
                "CartPole-v1",
                "--demos",
                "{root}/demos.npz",
                "--out",
                "{root}/bad_run",
                "--symmetric-policy",
                "true",
                "--timesteps",
                "64",
            ],
            "--symmetric-policy",
        ),  # fmt: skip
        (
            ["gail", "train", "--env", "CartPole-v1", "--demos", "{root}/demos.npz", "--out", "{root}/bad_run"],
            "--timesteps",
        ),  # fmt: skip
        (["evaluate", "--suite", "boardgames", "--env", ENV, "--policy", "{root}/no_such_run"], "--policy"),
        (["evaluate", "--suite", "boardgames", "--env", ENV, "--policy", "mcts:100000000"], "mcts simulations"),
    ],
)
def test_bad_board_input_is_one_error_line(root, capsys, argv, needle):
    code = run([a.format(root=root) for a in argv])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("error: "), err
    assert needle in err[0], (needle, err[0])
    assert not (root / "bad_run" / "checkpoint.pt").exists() and not (root / "bad.npz").exists()
