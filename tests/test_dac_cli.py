"""``genplay gail train --algo dac``: a run directory like GAIL's (checkpoint, resume, policy.zip for
``evaluate``), DQN policies saved and loaded without unpickling, third-party DQN zips as experts."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.env_util import make_vec_env

from genplay.cli import main
from genplay.gail.algos.dac_config import dac_preset
from genplay.gail.data.demos import save_demos
from genplay.gail.saving.off_policy_checkpoint import read_off_policy
from genplay.gail.saving.run_files import load_policy
from genplay.gail.saving.sb3_zip import load_sb3_zip

ENV = "CartPole-v1"
SMALL = ["--n-envs", "4", "--checkpoint-every", "1000", "--dqn-learning-starts", "1000", "--dqn-buffer-size", "20000"]
SMALL += ["--dqn-disc-every", "500", "--dqn-net-arch", "64", "64"]
BC_EPOCHS = str(dac_preset(ENV)[0].bc.epochs)
"""The preset's (GAIL's) --bc-epochs, which DAC never reads: giving it changes nothing."""


@pytest.fixture(scope="module")
def demos_path(tmp_path_factory, cartpole_demos):
    path = tmp_path_factory.mktemp("dac_cli") / "cartpole.npz"
    save_demos(path, cartpole_demos)
    return path


def train(demos_path, out, steps: int, *flags: str) -> int:
    argv = ["gail", "train", "--algo", "dac", "--env", ENV, "--demos", str(demos_path)]
    return main([*argv, "--timesteps", str(steps), "--out", str(out), "--quiet", *flags])


@pytest.fixture(scope="module")
def dac_run(tmp_path_factory, demos_path):
    out = tmp_path_factory.mktemp("dac_cli") / "run"
    assert train(demos_path, out, 2_000, *SMALL) == 0
    return out


def test_dac_run_dir_holds_policy_checkpoint_and_config(dac_run):
    from genplay.gail.evaluation.evaluate import episode_returns

    for name in ("policy.zip", "checkpoint.pt", "config.json", "history.json", "learning_curve.png"):
        assert (dac_run / name).is_file(), name
    config = json.loads((dac_run / "config.json").read_text())
    assert config["algo"] == "dac" and config["dqn"]["net_arch"] == [64, 64] and config["run"]["n_envs"] == 4
    assert read_off_policy(dac_run / "checkpoint.pt", "dac")["counters"]["num_timesteps"] == 2_000
    returns = episode_returns(ENV, load_policy(dac_run, env_id=ENV), 2, seed=0)  # what `genplay evaluate` plays
    assert returns.shape == (2,) and (returns >= 8).all()


def test_exported_policy_acts_as_the_trained_q_network(dac_run, demos_path):
    """policy.zip is read back without unpickling and picks the checkpointed Q-network's greedy actions."""
    from genplay.envs import EnvFactory
    from genplay.gail.algos.dac import DAC
    from genplay.gail.data.demos import load_demos

    demos = load_demos(demos_path)
    trainer = DAC.load(str(dac_run / "checkpoint.pt"), venv=EnvFactory(ENV).make_vec(4), demos=demos)
    obs = demos.transitions()["obs"][:200]
    np.testing.assert_array_equal(load_policy(dac_run)(obs), trainer.predict(obs)[0])
    model, _ = load_sb3_zip(dac_run / "policy.zip")
    assert type(model) is DQN and model.replay_buffer.buffer_size <= 1_000  # an inference model: no big buffer


@pytest.mark.slow
def test_resume_continues_and_refuses_changed_settings(dac_run, demos_path, tmp_path, capsys):
    import shutil

    out = tmp_path / "run"
    shutil.copytree(dac_run, out)
    (out / ".lock").unlink(missing_ok=True)
    assert train(demos_path, out, 2_500, "--dqn-margin", "0.5", "--resume") == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "dqn.margin: 0.8 -> 0.5" in err[0] and "--force" in err[0]
    history = read_off_policy(out / "checkpoint.pt", "dac")["history"]
    assert train(demos_path, out, 3_000, "--resume") == 0  # the checkpoint's settings, not the preset's
    resumed = read_off_policy(out / "checkpoint.pt", "dac")
    assert resumed["counters"]["num_timesteps"] == 3_000 and resumed["history"][: len(history)] == history
    assert tuple(resumed["dqn"]["net_arch"]) == (64, 64)
    assert train(demos_path, out, 3_000, *SMALL) == 2  # a fresh run into a run dir: refused
    assert "already holds a run" in capsys.readouterr().err


@pytest.mark.parametrize(
    "flags, needle",
    [
        (["--dqn-learning-rate", "-1"], "--dqn-learning-rate"),
        (["--dqn-batch-size", "0", "--dqn-expert-batch-size", "0"], "--dqn-batch-size"),
        (["--ppo-n-steps", "64"], "--ppo-n-steps: --algo dac does not use this setting"),
        (
            ["--bc-epochs", "7"],
            f"--bc-epochs: --algo dac does not use this setting (it is GAIL's; default {BC_EPOCHS})",
        ),
        (["--scale-rewards", "false"], "--scale-rewards: --algo dac does not use this setting"),
        (["--disc-replay-rollouts", "2"], "--disc-replay-rollouts: --algo dac does not use this setting"),
        (["--bc-epochs", BC_EPOCHS, "--dqn-learning-rate", "-1"], "--dqn-learning-rate"),  # the default: no change
        (["--shard-demos"], "--shard-demos"),
        (["--dqn-tau", "0.5"], "--dqn-tau: DAC's DQN learner does not use this setting (it is for continuous"),
    ],
)
def test_bad_dac_flags_get_one_error_line(demos_path, tmp_path, capsys, flags, needle):
    assert train(demos_path, tmp_path / "run", 1_000, *flags) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and needle in err[0], err
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_dqn_flags_need_algo_dac(demos_path, tmp_path, capsys):
    argv = ["gail", "train", "--env", ENV, "--demos", str(demos_path), "--timesteps", "256"]
    assert main([*argv, "--out", str(tmp_path / "run"), "--dqn-margin", "0.5"]) == 2
    assert "--dqn-margin: DQN settings need --algo dac" in capsys.readouterr().err


def test_third_party_dqn_zip_is_rebuilt_from_its_weights(tmp_path):
    """An SB3 DQN someone trained (rl-zoo's Atari experts are DQNs) loads as an expert without unpickling."""
    env = make_vec_env(ENV, n_envs=1)
    model = DQN("MlpPolicy", env, policy_kwargs={"net_arch": [24, 12]}, learning_starts=0, device="cpu", seed=0)
    model.save(tmp_path / "dqn.zip")
    back, _ = load_sb3_zip(tmp_path / "dqn.zip", observation_space=env.observation_space, action_space=env.action_space)
    assert type(back) is DQN
    for a, b in zip(model.policy.parameters(), back.policy.parameters(), strict=True):
        assert torch.equal(a, b)
    obs = np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32)
    np.testing.assert_array_equal(load_policy(tmp_path / "dqn.zip", env_id=ENV)(obs), model.predict(obs)[0])


def test_dac_refuses_masked_board_game_demos(tmp_path, capsys):
    """DQN cannot respect legal-move masks: a board game is refused in one line, not trained with illegal moves."""
    pytest.importorskip("pyspiel")
    from genplay.gail.suites.boardgames import collect_bot_demos

    demos = collect_bot_demos("tic_tac_toe", "solver", 2, opponent="random", seed=0)
    save_demos(tmp_path / "ttt.npz", demos)
    argv = ["gail", "train", "--algo", "dac", "--env", "genplay/TicTacToe-v0", "--demos", str(tmp_path / "ttt.npz")]
    assert main([*argv, "--timesteps", "256", "--out", str(tmp_path / "run"), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "action masks" in err[0], err


def test_every_gail_setting_dac_ignores_is_refused(demos_path, tmp_path, capsys):
    """Each GAILConfig field outside DAC_READS (and each PPO field), given a non-default value, is one error line."""
    from genplay.gail.algos.config import GAILConfig
    from genplay.gail.algos.dac import DAC_READS
    from genplay.settings import flat_settings

    def other(value):
        if isinstance(value, bool):
            return ["true" if not value else "false"]
        if isinstance(value, int | float):
            return [str(value + 1)]
        if isinstance(value, tuple):
            return [str(n) for n in (*value, 8)]
        return ["random"]

    defaults = flat_settings(GAILConfig())  # every setting by its flag's name (sections' too: ppo_gamma)
    assert set(defaults) > DAC_READS
    names = [name for name in defaults if name not in DAC_READS]
    assert {"bc_epochs", "scale_rewards", "disc_replay_rollouts", "ppo_gamma"} <= set(names)
    for name in names:
        flag = "--" + name.replace("_", "-")
        assert train(demos_path, tmp_path / "run", 1_000, flag, *other(defaults[name])) == 2, flag
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith(f"error: {flag}: --algo dac does not use this setting"), err


def test_genplay_train_dac_on_pendulum_trains_sac_and_exports_a_sac_zip(tmp_path, capsys):
    """``genplay train --algo dac --env Pendulum-v1``: Box actions train SAC; its policy.zip is SB3's SAC,
    and DQN-only flags are refused for it in one line."""
    from stable_baselines3 import SAC

    from genplay.gail.data.expert_choice import expert_demos

    save_demos(tmp_path / "p.npz", expert_demos("Pendulum-v1", 2, seed=0))
    argv = ["train", "--algo", "dac", "--env", "Pendulum-v1", "--demos", str(tmp_path / "p.npz"), "--quiet"]
    small = ["--n-envs", "2", "--dqn-learning-starts", "100", "--dqn-batch-size", "16", "--dqn-expert-batch-size", "16"]
    small += ["--dqn-disc-every", "100", "--timesteps", "300"]
    assert main([*argv, *small, "--out", str(tmp_path / "bad"), "--dqn-margin", "0.5"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--dqn-margin: DAC's SAC learner does not use this setting" in err[0], err
    assert main([*argv, *small, "--out", str(tmp_path / "run")]) == 0
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["algo"] == "dac" and config["dqn"]["margin_weight"] == 0.0
    model = SAC.load(tmp_path / "run" / "policy.zip", device="cpu")
    assert model.action_space.shape == (1,)
    assert read_off_policy(tmp_path / "run" / "checkpoint.pt", "dac")["counters"]["num_timesteps"] == 300
