"""Crafted checkpoints with impossible counters or replay rows are refused in one line, never resumed."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from genplay.cli import main
from genplay.gail.data.demos import save_demos
from genplay.generative.core.state_io import load_state, save_state

ENV = "CartPole-v1"
GAIL_SMALL = ["--n-envs", "1", "--ppo-n-steps", "256", "--bc-epochs", "0", "--quiet"]
DAC_SMALL = ["--algo", "dac", "--n-envs", "2", "--dqn-learning-starts", "200", "--dqn-buffer-size", "2000"]
DAC_SMALL += ["--dqn-disc-every", "200", "--dqn-net-arch", "16", "--quiet"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory, cartpole_demos):
    root = tmp_path_factory.mktemp("crafted")
    demos = root / "d.npz"
    save_demos(demos, cartpole_demos)
    base = ["gail", "train", "--env", ENV, "--demos", str(demos)]
    assert main([*base, "--timesteps", "256", "--out", str(root / "gail"), *GAIL_SMALL]) == 0
    assert main([*base, "--timesteps", "400", "--out", str(root / "dac"), *DAC_SMALL]) == 0
    return root, base


def _edit(state: dict, path: str, value) -> None:
    *parents, last = path.split(".")
    for key in parents:
        state = state[key]
    state[last] = value


@pytest.mark.parametrize(
    ("algo", "field", "value", "needle"),
    [
        ("gail", "n_rollouts", -7, "n_rollouts"),
        ("gail", "generator.meta.num_timesteps", -1, "num_timesteps"),
        ("gail", "generator.meta.num_timesteps", 10**30, "num_timesteps"),
        ("dac", "replay.pos", -3, "replay.pos"),
        ("dac", "replay.pos", 10**6, "past the buffer"),
        ("dac", "counters.num_timesteps", -5, "num_timesteps"),
        ("dac", "replay.actions", "out_of_range", "replay actions outside"),
        ("dac", "replay.observations", "wrong_shape", "replay observations"),
    ],
)
def test_impossible_counters_are_one_error_line(runs, tmp_path, capsys, algo, field, value, needle):
    root, base = runs
    run = tmp_path / algo
    shutil.copytree(root / algo, run)
    ckpt = run / "checkpoint.pt"
    state = load_state(ckpt)
    if value == "out_of_range":
        value = np.full_like(state["replay"]["actions"], 7)
    elif value == "wrong_shape":
        value = state["replay"]["observations"][:, :, :2].copy()
    _edit(state, field, value)
    save_state(ckpt, state)
    capsys.readouterr()
    small = GAIL_SMALL if algo == "gail" else DAC_SMALL
    assert main([*base, "--timesteps", "800", "--out", str(run), "--resume", *small]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("error:") and needle in err and "checkpoint.pt" in err


def test_a_run_of_the_other_algorithm_is_named(runs, tmp_path, capsys):
    root, base = runs
    for run, small, needle in ((root / "dac", GAIL_SMALL, "--algo dac"), (root / "gail", DAC_SMALL, "--algo gail")):
        copy = tmp_path / run.name
        shutil.copytree(run, copy)
        assert main([*base, "--timesteps", "800", "--out", str(copy), "--resume", *small]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and needle in err, err


def test_a_valid_checkpoint_forced_onto_other_sizes_is_not_called_malformed(runs, tmp_path, capsys):
    root, base = runs
    shutil.copytree(root / "dac", tmp_path / "dac")
    argv = [*base, "--timesteps", "800", "--out", str(tmp_path / "dac"), "--resume", "--force", *DAC_SMALL]
    assert main([*argv, "--dqn-buffer-size", "3000"]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not fit the changed settings" in err and "malformed" not in err and "\n" not in err
