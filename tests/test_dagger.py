"""DAgger: beta schedule, relabelling of every visited state, aggregation, query counts, masks,
the safe checkpoint (resume replays the uninterrupted run), the run directory, the expert specs,
and a tic-tac-toe learning test that fails without the expert's relabelling."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from genplay.envs import EnvFactory
from genplay.errors import CheckpointError, GenplayError
from genplay.gail.algos.dagger import DAgger
from genplay.gail.algos.dagger_config import DAggerConfig, dagger_preset
from genplay.gail.data.collect import collect_demos
from genplay.gail.runs.dagger_run import train_dagger

CARTPOLE = "CartPole-v1"
TTT = "genplay/TicTacToe-v0"


def push_right(obs, action_masks=None):
    """A batched scripted 'expert' that always answers 1: labels are then recognisable."""
    return np.ones(len(obs), dtype=np.int64)


def small(**changes) -> DAggerConfig:
    base = DAggerConfig(rounds=2, steps_per_round=64, n_envs=4, bc_epochs=2, bc_patience=1, bc_epoch_rows=1,
                        net_arch=(16,))  # fmt: skip
    return dataclasses.replace(base, **changes)


@pytest.fixture(scope="module")
def cartpole_demos():
    return collect_demos(CARTPOLE, "random", 3, seed=0)


def make(config: DAggerConfig, demos, expert=push_right, env=CARTPOLE) -> DAgger:
    factory = EnvFactory(env) if demos is None else demos.env_factory
    return DAgger(venv=factory.make_vec(config.n_envs, seed=config.seed), demos=demos, config=config,
                  expert=expert, factory=factory)  # fmt: skip


def test_beta_schedules():
    cfg = DAggerConfig(beta0=0.8, beta_decay=0.5)
    assert [cfg.beta(i) for i in range(4)] == [1.0, 0.4, 0.2, 0.1]
    paper = DAggerConfig(beta_schedule="indicator")
    assert [paper.beta(i) for i in range(3)] == [1.0, 0.0, 0.0]


@pytest.mark.parametrize(
    "bad",
    [
        {"beta_schedule": "linear"},
        {"beta0": 1.5},
        {"beta_decay": -0.1},
        {"rounds": -1},
        {"expert": ""},
        {"activation": "sigmoid"},
        {"n_envs": 0},
        {"bc_lr": 0.0},
    ],  # fmt: skip
)
def test_config_refuses_bad_values(bad):
    with pytest.raises(GenplayError, match=f"DAggerConfig.{next(iter(bad))}"):
        DAggerConfig(**bad)


def test_every_visited_state_is_relabelled_and_aggregated(cartpole_demos):
    """Indicator schedule: the learner alone acts after round 0, yet every stored label is the expert's;
    D grows by each round's rows; one query per visited state."""
    trainer = make(small(beta_schedule="indicator"), cartpole_demos).learn(128)
    n_demo = cartpole_demos.n_transitions
    assert len(trainer.data) == n_demo + 128
    assert trainer.expert_queries == trainer.num_timesteps == 128
    assert (trainer.data.acts[n_demo:] == 1).all()
    np.testing.assert_array_equal(trainer.data.acts[:n_demo], cartpole_demos.acts)
    assert trainer.data.lengths.sum() == len(trainer.data)
    rounds = [h for h in trainer.history if "beta" in h]
    assert [h["beta"] for h in rounds] == [0.0, 0.0] and all(h["expert_share"] == 0.0 for h in rounds)
    assert [h["dataset_size"] for h in trainer.history] == [n_demo, n_demo + 64, n_demo + 128]
    assert trainer.round == 3


def test_the_learner_learns_the_labels(cartpole_demos):
    trainer = make(small(bc_epochs=20, bc_patience=20), cartpole_demos).learn(128)
    obs = trainer.data.obs[-64:]
    assert (trainer.predict(obs)[0] == 1).mean() > 0.9


def test_zero_demos_round0_is_the_expert_alone():
    trainer = make(small(rounds=1), None).learn(128)
    first = trainer.history[0]
    assert first["beta"] == 1.0 and first["expert_share"] == 1.0 and first["rollout_rows"] == 64
    assert trainer.expert_queries == 128 and len(trainer.data) == 128


def test_board_game_masks_recorded_and_respected():
    """Tic-tac-toe with the solver: the masks stored are the legal moves of the stored boards, the
    solver answers for the side to move (always a legal move), and the learner never plays an illegal one."""
    factory = EnvFactory(TTT, {"opponent": "random"})
    cfg = small(expert="solver", steps_per_round=96, rounds=1, beta0=0.5)
    trainer = DAgger(venv=factory.make_vec(4, seed=0), demos=None, config=cfg, factory=factory).learn(192)
    d = trainer.data
    empty = d.obs[:, 2].reshape(len(d), -1).astype(bool)  # plane 2: the empty cells
    np.testing.assert_array_equal(d.masks, empty)
    assert d.masks[np.arange(len(d)), d.acts].all()
    rng = np.random.default_rng(0)
    masks = d.masks & (rng.random(d.masks.shape) < 0.3)  # fewer legal moves than the learner was taught
    pick = np.argmax(d.masks, axis=1)
    masks[np.arange(len(d)), pick] |= ~masks.any(1)
    chosen = trainer.predict(d.obs, action_masks=masks)[0]
    assert masks[np.arange(len(d)), chosen].all()


def test_train_opponent_plays_the_rollouts(cartpole_demos):
    """DAggerConfig.train_opponent replaces the env's opponent in every rollout env and in the factory
    a checkpoint records; refused on an env that is not a board game, and for a malformed bot spec."""
    factory = EnvFactory(TTT, {"opponent": "random"})
    cfg = small(expert="solver", steps_per_round=32, rounds=1, train_opponent="solver")
    trainer = DAgger(venv=factory.make_vec(4, seed=0), demos=None, config=cfg, factory=factory).learn(64)
    assert trainer.venv.get_attr("opponent_name") == ["solver"] * 4
    assert trainer.factory.kwargs["opponent"] == "solver" and trainer.state()["env"]["kwargs"]["opponent"] == "solver"
    with pytest.raises(GenplayError, match="train_opponent: only for board games"):
        make(small(train_opponent="random"), cartpole_demos)
    with pytest.raises(GenplayError, match="train_opponent: .*mcts"):
        DAgger(venv=factory.make_vec(2), demos=None, config=small(train_opponent="mcts:x", n_envs=2), factory=factory)


def test_expert_specs_are_checked(cartpole_demos):
    for spec, why in (("mcts:50", "not a board game"), ("nonsense", "nor an existing path")):
        with pytest.raises(GenplayError, match=why):
            make(small(expert=spec), cartpole_demos, expert=None).learn(64)
    factory = EnvFactory(TTT)
    with pytest.raises(GenplayError, match="mcts simulations must be <="):
        DAgger(venv=factory.make_vec(2), demos=None, config=small(expert="mcts:999999", n_envs=2),
               factory=factory).learn(8)  # fmt: skip


def test_checkpoint_round_trip_and_resume_replays_the_run(cartpole_demos, tmp_path):
    """A trainer saved after round 1 and loaded goes on exactly as the uninterrupted one."""
    whole = make(small(), cartpole_demos).learn(128)
    part = make(small(rounds=1), cartpole_demos).learn(64)
    part.save(tmp_path / "run")
    loaded = DAgger.load(tmp_path / "run", venv=None, demos=cartpole_demos, config=small(rounds=1),
                         expert=push_right)  # fmt: skip
    assert (loaded.round, loaded.num_timesteps, loaded.expert_queries) == (part.round, 64, 64)
    np.testing.assert_array_equal(loaded.data.obs, part.data.obs)
    obs = cartpole_demos.obs[:20]
    np.testing.assert_array_equal(loaded.predict(obs)[0], part.predict(obs)[0])
    resumed = DAgger.load(tmp_path / "run", venv=None, demos=cartpole_demos, config=small(), expert=push_right,
                          force=True).learn(128)  # fmt: skip
    np.testing.assert_array_equal(resumed.data.obs, whole.data.obs)
    for a, b in zip(resumed.algo.policy.state_dict().values(), whole.algo.policy.state_dict().values()):
        torch.testing.assert_close(a, b)
    with pytest.raises(CheckpointError, match="settings differ: rounds"):
        DAgger.load(tmp_path / "run", venv=None, demos=cartpole_demos, config=small(), expert=push_right)


def test_run_directory_contract(cartpole_demos, tmp_path):
    from stable_baselines3 import PPO

    out = tmp_path / "run"
    with pytest.raises(GenplayError, match="--resume"):
        train_dagger(CARTPOLE, cartpole_demos, 64, config=small(rounds=1), out_dir=out, resume=True,
                     expert=push_right)  # fmt: skip
    train_dagger(CARTPOLE, cartpole_demos, 64, config=small(rounds=1), out_dir=out, expert=push_right)
    assert json.loads((out / "config.json").read_text())["algo"] == "dagger"
    model = PPO.load(out / "policy.zip", device="cpu")  # SB3's own loader
    assert model.predict(cartpole_demos.obs[:3])[0].shape == (3,)
    with pytest.raises(GenplayError, match="already holds a run|holds a run"):
        train_dagger(CARTPOLE, cartpole_demos, 64, config=small(rounds=1), out_dir=out, expert=push_right)
    resumed = train_dagger(CARTPOLE, cartpole_demos, 128, config=small(rounds=2), out_dir=out, resume=True,
                           force=True, expert=push_right)  # fmt: skip
    assert resumed.round == 3 and resumed.expert_queries == 128
    history = json.loads((out / "history.json").read_text())
    assert [h["round"] for h in history] == [0, 1, 2]


def test_board_policy_zip_loads_in_maskable_ppo(tmp_path):
    from sb3_contrib import MaskablePPO

    factory = EnvFactory(TTT, {"opponent": "random"})
    cfg = dataclasses.replace(dagger_preset(TTT), rounds=1, steps_per_round=32, n_envs=2, bc_epochs=1,
                              bc_patience=1, bc_epoch_rows=1, expert="random", net_arch=(16,))  # fmt: skip
    train_dagger(factory, None, 32, config=cfg, out_dir=tmp_path / "run")
    model = MaskablePPO.load(tmp_path / "run" / "policy.zip", device="cpu")
    obs = np.zeros((1, 3, 3, 3), dtype=np.int8)
    obs[0, 2] = 1
    mask = np.zeros((1, 9), dtype=bool)
    mask[0, 4] = True
    assert model.predict(obs, action_masks=mask)[0][0] == 4


@pytest.mark.slow
def test_tictactoe_dagger_fixes_the_positions_bc_loses():
    """From 20 solver games BC alone loses games to random in positions the demos never show; with the
    solver relabelling the learner's own states (the paper's indicator schedule: the learner alone
    acts after round 0), DAgger loses none of 400. Fails when the labels are the learner's own actions
    (BC 44 losses, DAgger 0; with its own actions as labels 43). A 128x128 policy, not the preset's 256x256:
    the same result in 23 s instead of 50 (the fits are the whole cost)."""
    from genplay.gail.suites.boardgames import collect_bot_demos, play_games

    demos = collect_bot_demos("tic_tac_toe", "solver", 20, opponent="random|mcts:10|solver", seed=3)
    cfg = dataclasses.replace(dagger_preset(TTT), expert="solver", rounds=3, beta_schedule="indicator",
                              steps_per_round=1_000, bc_patience=5, net_arch=(128, 128))  # fmt: skip
    bc_only = train_dagger(TTT, demos, 1, config=dataclasses.replace(cfg, rounds=0))
    dagger = train_dagger(TTT, demos, 3_000, config=cfg)
    assert dagger.expert_queries == 3_000
    bc_losses = play_games("tic_tac_toe", bc_only, "random", 400, seed=1).loss
    dagger_losses = play_games("tic_tac_toe", dagger, "random", 400, seed=1).loss
    assert bc_losses >= 3, bc_losses  # the gap exists
    assert dagger_losses == 0, (dagger_losses, bc_losses)
