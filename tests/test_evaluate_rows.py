"""`genplay evaluate`: reference rows can be left out; a policy is scored only on the env it was trained on."""

from __future__ import annotations

import json
import warnings

import pytest

from genplay.cli import main
from genplay.gail.data.demos import save_demos


@pytest.fixture(scope="module")
def run(tmp_path_factory, cartpole_demos):
    root = tmp_path_factory.mktemp("evaluate_rows")
    save_demos(root / "d.npz", cartpole_demos)
    argv = ["gail", "train", "--env", "CartPole-v1", "--demos", str(root / "d.npz"), "--out", str(root / "run")]
    assert main([*argv, "--timesteps", "256", "--n-envs", "1", "--ppo-n-steps", "256", "--quiet"]) == 0
    return root / "run"


def _rows(capsys, *flags: str, env: str = "CartPole-v1") -> list[str]:
    assert main(["evaluate", "--env", env, "--policy", str(flags[0]), "--n-episodes", "2", "--json", *flags[1:]]) == 0
    return [r["name"] for r in json.loads(capsys.readouterr().out)["results"]]


def test_reference_rows_can_be_left_out(run, capsys, monkeypatch):
    def no_expert(env_id):
        raise AssertionError("the expert was built although --no-expert was given")

    monkeypatch.setattr("genplay.gail.runs.pipeline.default_expert", no_expert)
    assert _rows(capsys, run, "--no-expert") == ["run", "random"]
    assert _rows(capsys, run, "--no-expert", "--no-random") == ["run"]


def test_a_policy_from_another_env_id_is_refused_unless_forced(run, capsys):
    # CartPole-v0 has CartPole-v1's spaces, as Space Invaders has Pong's: only the recorded id tells them apart
    argv = ["evaluate", "--env", "CartPole-v0", "--policy", str(run), "--n-episodes", "2", "--no-expert"]
    with warnings.catch_warnings():  # refused before CartPole-v0 is made: gymnasium's deprecation note never prints
        warnings.simplefilter("error", DeprecationWarning)
        assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "trained on CartPole-v1, not CartPole-v0" in err and "\n" not in err
    assert main([*argv, "--force"]) == 0


def test_demos_recorded_on_another_env_id_are_refused_unless_forced(tmp_path, capsys):
    from genplay.gail.data.collect import collect_demos

    save_demos(tmp_path / "v0.npz", collect_demos("CartPole-v0", "random", 2, seed=0))
    argv = ["gail", "train", "--env", "CartPole-v1", "--demos", str(tmp_path / "v0.npz"), "--timesteps", "256"]
    argv += ["--out", str(tmp_path / "run"), "--n-envs", "1", "--ppo-n-steps", "256", "--bc-epochs", "0", "--quiet"]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "'metadata.env_id' is 'CartPole-v0', not 'CartPole-v1'" in err and "\n" not in err
    assert not (tmp_path / "run").exists()
    assert main([*argv, "--force"]) == 0
