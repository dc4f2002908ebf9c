"""Masked GAIL on tic-tac-toe: binary planes scaled sanely, masked BC and GAIL beat random."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("pyspiel")

from genplay.gail.algos.board_training import BCRegulariser, masked_gail  # noqa: E402
from genplay.gail.algos.config import GAILConfig, PPOConfig, replace  # noqa: E402
from genplay.gail.data.store import TransitionStore  # noqa: E402
from genplay.gail.rewards.features import CLIP, DemoScaling, to_flat  # noqa: E402
from genplay.gail.suites.board_symmetry import augment_symmetries  # noqa: E402
from genplay.gail.suites.boardgames import collect_bot_demos, play_games  # noqa: E402

CONFIG = replace(
    GAILConfig(),
    bc_fit_value=False,  # as the board-game recipes (gail/suites/boardgame_presets.py)
    n_envs=4,
    use_next_obs=True,
    disc_batch_size=128,
    disc_updates=2,
    bc_patience=20,
    checkpoint_every=0,
    device="cpu",
    ppo=PPOConfig(n_steps=128, batch_size=256, n_epochs=4, net_arch=(256, 256), activation="relu", learning_rate=1e-4),
)


@pytest.fixture(scope="module")
def demos():
    return augment_symmetries(
        collect_bot_demos("tic_tac_toe", "solver", 30, opponent="random|solver", seed=0), "tic_tac_toe"
    )


def test_board_planes_constant_in_the_demos_stay_small(demos):
    """A cell the expert's planes never show filled must not become a huge discriminator input."""
    env = demos.env_factory.make()
    scaling = DemoScaling(env.observation_space)
    obs = demos.obs.copy()
    obs[:, 0, 0, 0] = 0  # own stone never in the corner, in the demos
    scaling.fit(iter([to_flat(env.observation_space, obs, torch.device("cpu"))]))
    probe = np.zeros((1, 3, 3, 3), dtype=np.int8)
    probe[0, 0, 0, 0] = 1
    scaled = scaling(to_flat(env.observation_space, probe, torch.device("cpu")))
    assert float(scaled.abs().max()) <= 4.0 + 1e-5 < CLIP


def test_demos_against_mixed_opponents_keep_the_record_per_opponent():
    demos = collect_bot_demos("tic_tac_toe", "solver", 12, opponent="random|mcts:10|solver", seed=0)
    by_opponent = demos.metadata["expert_record_by_opponent"]
    assert len(by_opponent) >= 2 and set(by_opponent) <= {"random", "mcts:10", "solver"}
    assert sum(sum(r.values()) for r in by_opponent.values()) == demos.n_episodes == 12
    assert all(r["loss"] == 0 for r in by_opponent.values())  # perfect play never loses


def test_masked_bc_never_predicts_an_illegal_move(demos):
    bc = masked_gail(demos, CONFIG, 0)
    i, _ = demos.transition_indices()
    actions, _ = bc.predict(demos.obs[i], action_masks=demos.action_masks)
    assert demos.action_masks[np.arange(len(i)), actions].all()
    unmasked, _ = bc.predict(demos.obs[i])
    assert not demos.action_masks[np.arange(len(i)), unmasked].all()  # without masks it would play illegal moves


@pytest.mark.slow
def test_short_masked_gail_run_beats_random(demos):
    # the env raises on an illegal move: finishing the run shows the generator only ever played
    # legal moves, so the discriminator's generator rows hold legal actions only
    trainer = masked_gail(demos, replace(CONFIG, bc_epochs=50), 4096)
    store = TransitionStore.from_episodes(demos.obs, demos.acts, demos.episode_lengths, with_next=True)
    assert len(store) == demos.n_transitions and np.isfinite(trainer.history[-1]["loss"])
    record = play_games("tic_tac_toe", trainer, "random", 200, seed=1)
    baseline = play_games("tic_tac_toe", "random", "random", 200, seed=1)
    assert record.score >= 0.65 > 0.5 > baseline.score, (record, baseline)
    assert record.win > 3 * record.loss, record


def _demo_accuracy(trainer, demos) -> float:
    i, _ = demos.transition_indices()
    actions, _ = trainer.predict(demos.obs[i], action_masks=demos.action_masks)
    return float(np.mean(actions == demos.acts))


@pytest.mark.slow
def test_bc_regulariser_pulls_the_policy_to_the_expert_moves(demos):
    trainer = masked_gail(demos, replace(CONFIG, bc_epochs=0), 0)  # untrained policy
    before = _demo_accuracy(trainer, demos)
    from stable_baselines3.common.logger import Logger

    trainer.gen_algo.set_logger(Logger(None, []))
    reg = BCRegulariser(trainer, 400)
    reg.init_callback(trainer.gen_algo)
    reg._on_rollout_start()  # before any generator step: the warm start is left alone
    assert reg.losses == [] and _demo_accuracy(trainer, demos) == before
    trainer.gen_algo.num_timesteps = 1
    reg._on_rollout_start()
    after = _demo_accuracy(trainer, demos)
    assert len(reg.losses) == 1 and after >= 0.5 > before + 0.2, (before, after)


def _bench():
    import importlib.util
    from pathlib import Path

    path = Path(__file__).parents[1] / "scripts" / "bench_boardgames.py"
    spec = importlib.util.spec_from_file_location("bench_boardgames", path)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    return bench


@pytest.mark.parametrize(
    "argv",
    [
        ["--net-arch", "256,x"],
        ["--learners", "bc,dagger"],
        ["--train-opponent", "mcts:0"],
        ["--demo-opponent", "bogus"],
        ["--bc-reg", "-1"],
        ["--n-demo-games", "0"],
        ["--policy", "equivariant"],
        ["--disc-next-obs", "yes"],
        ["--disc-penalty-weight", "nan"],
        ["--disc-penalty-weight", "-1"],
        ["--route", "cli", "--learners", "bc,gail_bc"],  # the CLI trains GAIL steps
        ["--route", "cli", "--learners", "gail_bc", "--cnn", "8,2"],
        ["--route", "web"],
    ],
)
def test_bench_bad_input_is_one_error_line(argv, capsys):
    bench = _bench()
    try:
        rc = bench.main(["--game", "tic_tac_toe", *argv])
    except SystemExit as exc:  # argparse's own checks (choices) exit from the parser
        rc = exc.code
    assert rc == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:"), err


def test_board_presets_fill_only_the_values_left_out():
    """`--game connect_four` alone runs the measured preset; a value given wins over it."""
    from genplay.gail.suites.boardgame_presets import DEFAULT_BC_REG, PRESETS, board_preset

    c4 = PRESETS["connect_four"]
    assert board_preset("genplay/ConnectFour-v0") is c4 and board_preset("CartPole-v1") is None
    left_out = c4.override(n_demo_games=None, bc_reg_steps=None, train_opponent=None)
    assert (left_out.n_demo_games, left_out.bc_reg_steps, left_out.train_opponent) == (200, 5, "random")
    given = c4.override(n_demo_games=10, bc_reg_steps=0, train_opponent="mcts:5")
    assert (given.n_demo_games, given.bc_reg_steps, given.train_opponent) == (10, 0, "mcts:5")
    ttt = PRESETS["tic_tac_toe"].override(n_demo_games=None, bc_reg_steps=None, train_opponent=None)
    assert (ttt.n_demo_games, ttt.bc_reg_steps, ttt.train_opponent) == (50, DEFAULT_BC_REG, "")


def test_board_cnn_policy_saves_and_loads_by_name(demos, tmp_path):
    from genplay.gail.rewards.features import BoardCNN
    from genplay.gail.saving.run_files import export_policy, load_policy

    trainer = masked_gail(demos, replace(CONFIG, bc_epochs=3), 0, cnn={"channels": 8, "layers": 2})
    assert isinstance(trainer.gen_algo.policy.features_extractor, BoardCNN)
    export_policy(trainer, tmp_path)
    i, _ = demos.transition_indices()
    obs, masks = demos.obs[i], demos.action_masks
    expected, _ = trainer.predict(obs, action_masks=masks)
    loaded = load_policy(tmp_path, env_id="genplay/TicTacToe-v0")
    np.testing.assert_array_equal(np.asarray(loaded(obs, masks)).reshape(-1), expected)
    with pytest.raises(Exception, match="BoardCNN"):
        BoardCNN(demos.env_factory.make().observation_space, channels=0)
