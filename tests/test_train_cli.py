"""``genplay train --algo NAME``: one command for every algorithm, foreign flags refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from stable_baselines3 import PPO

from genplay.cli import main
from genplay.envs.scripted import SCRIPTED_EXPERTS
from genplay.gail.algos.registry import ALGORITHMS
from genplay.gail.data.collect import collect_demos
from genplay.gail.data.demos import save_demos


@pytest.fixture(scope="module")
def demos_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("demos") / "acrobot.npz"
    save_demos(path, collect_demos("Acrobot-v1", SCRIPTED_EXPERTS["Acrobot-v1"], 6, seed=0))
    return path


def _error(capsys) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: "), err
    return err[0]


def test_every_registered_algorithm_has_a_help(capsys):
    for name in ALGORITHMS:
        with pytest.raises(SystemExit) as exc:
            main(["train", "--algo", name, "--help"])
        assert exc.value.code == 0
        assert "--env" in capsys.readouterr().out


def test_bc_writes_a_run_sb3_loads_alone(tmp_path, demos_file, capsys):
    out = tmp_path / "bc"
    args = ["train", "--algo", "bc", "--env", "Acrobot-v1", "--demos", str(demos_file), "--out", str(out)]
    assert main([*args, "--timesteps", "1", "--bc-epochs", "5"]) == 0
    assert {"config.json", "checkpoint.pt", "policy.zip", "history.json"} <= {p.name for p in out.iterdir()}
    model = PPO.load(out / "policy.zip", device="cpu")
    assert model.predict(model.observation_space.sample())[0] in (0, 1, 2)
    assert main([*args, "--timesteps", "1"]) == 2  # the directory holds a run: refused without --resume/--force
    assert "already holds a run" in _error(capsys)


def test_a_flag_of_another_algorithm_is_refused_naming_its_owner(tmp_path, demos_file, capsys):
    args = ["train", "--algo", "bc", "--env", "Acrobot-v1", "--demos", str(demos_file), "--out", str(tmp_path / "x")]
    assert main([*args, "--timesteps", "1", "--dqn-batch-size", "4"]) == 2
    assert _error(capsys) == "error: --dqn-batch-size: --algo bc does not take this flag (it is for --algo dac)"
    assert main([*args, "--timesteps", "1", "--no-such-flag", "4"]) == 2
    assert "--no-such-flag: not a flag of genplay train --algo bc" in _error(capsys)
    assert not (tmp_path / "x").exists()


def test_unknown_or_missing_algo_is_one_line(capsys):
    assert main(["train", "--algo", "nope", "--env", "Acrobot-v1"]) == 2
    assert "--algo: 'nope' is not an algorithm here" in _error(capsys)
    assert main(["train", "--env", "Acrobot-v1"]) == 2
    assert "--algo: required" in _error(capsys)


def test_an_algorithm_refuses_an_action_space_it_cannot_train(tmp_path, capsys, monkeypatch):
    import dataclasses

    demos = collect_demos("Pendulum-v1", "random", 2, seed=0)
    save_demos(tmp_path / "p.npz", demos)
    # every registered algorithm trains both kinds now (DAC: SAC for Box actions): a discrete-only spec
    monkeypatch.setitem(ALGORITHMS, "sqil", dataclasses.replace(ALGORITHMS["sqil"], actions=("discrete",)))
    args = ["train", "--algo", "sqil", "--env", "Pendulum-v1", "--demos", str(tmp_path / "p.npz")]
    assert main([*args, "--out", str(tmp_path / "o"), "--timesteps", "64"]) == 2
    assert "sqil needs discrete actions" in _error(capsys)


@pytest.mark.parametrize(
    ("stored", "have", "algo"),
    [
        ({"algo": "sqil"}, "sqil", "gail"),
        ({"algo": "dagger"}, "dagger", "iq"),
        ({"airl_h_hidden": [64, 64]}, "airl", "gail"),  # a run from before config.json named the algorithm
        ({"disc_lr": 1e-3}, "gail", "airl"),
    ],
)
def test_resuming_another_algorithms_run_names_the_right_algo(tmp_path, demos_file, capsys, stored, have, algo):
    import json

    out = tmp_path / "run"
    out.mkdir()
    (out / "config.json").write_text(json.dumps(stored))
    (out / "checkpoint.pt").write_bytes(b"not read: the algorithm is checked first")
    args = ["train", "--algo", algo, "--env", "Acrobot-v1", "--demos", str(demos_file), "--out", str(out)]
    assert main([*args, "--timesteps", "10", "--resume"]) == 2
    assert _error(capsys) == (
        f"error: --resume: {out} holds a run of --algo {have}; resume it with --algo {have}, "
        "or start over there with --force"
    )
    assert sorted(p.name for p in out.iterdir()) == ["checkpoint.pt", "config.json"]
