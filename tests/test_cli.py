"""Smoke tests of the ``genplay`` command line (subprocesses, as a user runs it)."""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys

import pytest
import torch

from genplay.cli import build_parser, main
from genplay.cli_gail import config_overrides
from genplay.gail.algos.config import replace
from genplay.gail.algos.presets import preset
from genplay.gail.data.demos import save_demos
from genplay.gail.data.experts import expert_path
from genplay.gail.saving.checkpoint import read_checkpoint

ENV = "CartPole-v1"


def _cli(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_RUNTIME_DIR": "/tmp"}
    cmd = [sys.executable, "-m", "genplay", *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def _assert_one_error_line(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), proc.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])


@pytest.mark.slow
def test_demo_job_end_to_end_from_an_empty_cache(tmp_path):
    """``genplay demo`` as the README runs it (its defaults, only GAIL shortened), from an empty cache:
    subsampled scripted demos, the four-row table, the explanation, results.json and the plot."""
    env = {**os.environ, "XDG_RUNTIME_DIR": "/tmp", "GENPLAY_CACHE_DIR": str(tmp_path / "cache")}
    cmd = [sys.executable, "-m", "genplay", "demo", "--timesteps", "4096"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for row in ("GAIL (learned)", "BC alone", "expert", "random", "normalised"):
        assert row in proc.stdout, row
    assert "keeping one transition in 20: 200 of 4000" in proc.stdout
    assert "From 200 expert state-action pairs, BC alone gets" in " ".join(proc.stdout.split())
    out = tmp_path / "runs" / "demo"
    results = {r["name"]: r for r in json.loads((out / "results.json").read_text())["results"]}
    assert set(results) == {"GAIL (learned)", "BC alone", "expert", "random"}
    assert results["expert"]["normalized"] == 1.0 and results["random"]["normalized"] == 0.0
    assert (out / "learning_curve.png").stat().st_size > 0 and (out / "policy.zip").is_file()
    from genplay.gail.data.demos import load_demos

    demos = load_demos(out / "demos.npz", env_id="Pendulum-v1")
    assert demos.n_transitions == 200 and demos.metadata["subsample"]["every"] == 20
    assert demos.metadata["subsample"]["source_episodes"] == 20


@pytest.fixture(scope="module")
def demos_file(tmp_path_factory, cartpole_demos):
    path = tmp_path_factory.mktemp("cli_demos") / "demos.npz"
    save_demos(path, cartpole_demos)
    return path


@pytest.fixture(scope="module")
def cached_expert(genplay_cache_dir):
    """A tiny PPO model placed where ``genplay evaluate`` looks for the cached expert (quality irrelevant)."""
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    path = expert_path(ENV)
    assert str(path).startswith(str(genplay_cache_dir))  # never ~/.cache
    model = PPO("MlpPolicy", make_vec_env(ENV, n_envs=2, seed=0), n_steps=256, batch_size=128, n_epochs=2, seed=0)
    model.learn(1024)
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


@pytest.fixture(scope="module")
def cli_run(tmp_path_factory, demos_file):
    out = tmp_path_factory.mktemp("cli_run") / "run"
    proc = _cli(
        "gail", "train", "--env", ENV, "--demos", demos_file, "--timesteps", 2048, "--out", out,
        "--n-envs", 2, "--ppo-n-steps", 256, "--quiet",
    )  # fmt: skip
    return proc, out


@pytest.mark.slow
def test_gail_train_writes_policy_checkpoint_and_plot(cli_run):
    proc, out = cli_run
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trained 2048 steps" in proc.stdout
    for name in ("policy.zip", "checkpoint.pt", "learning_curve.png", "config.json", "history.json"):
        assert (out / name).is_file(), name
    assert (out / "learning_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not [f for f in os.listdir(out) if f.endswith(".tmp")]
    state = read_checkpoint(out / "checkpoint.pt")
    assert [h["timesteps"] for h in state["history"]] == [512, 1024, 1536, 2048]
    assert state["config"]["run"]["n_envs"] == 2 and state["config"]["ppo"]["n_steps"] == 256


@pytest.mark.slow
def test_gail_train_resume_continues(cli_run, demos_file, tmp_path):
    _, first = cli_run
    out = tmp_path / "run"
    shutil.copytree(first, out)
    before = read_checkpoint(out / "checkpoint.pt")["history"]
    proc = _cli(
        "gail", "train", "--env", ENV, "--demos", demos_file, "--timesteps", 3072, "--out", out, "--resume", "--quiet"
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trained 3072 steps" in proc.stdout
    history = read_checkpoint(out / "checkpoint.pt")["history"]
    assert [h["timesteps"] for h in history] == [512, 1024, 1536, 2048, 2560, 3072]
    assert history[:4] == before


@pytest.mark.slow
def test_evaluate_json_uses_the_cached_expert(cli_run, cached_expert):
    _, out = cli_run
    mtime = cached_expert.stat().st_mtime_ns
    proc = _cli("evaluate", "--env", ENV, "--policy", out, "--n-episodes", 3, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert cached_expert.stat().st_mtime_ns == mtime  # loaded, not retrained
    data = json.loads(proc.stdout)
    assert data["env"] == ENV
    rows = {r["name"]: r for r in data["results"]}
    assert list(rows) == [out.name, "expert", "random"]
    for r in rows.values():
        assert r["n_episodes"] == 3 and 8 <= r["mean"] <= 500 and math.isfinite(r["std"])
    assert rows["expert"]["normalized"] == pytest.approx(1.0)
    assert rows["random"]["normalized"] == pytest.approx(0.0)


@pytest.fixture(scope="module")
def cached_acrobot_expert(genplay_cache_dir):
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    torch.set_num_threads(1)
    model = PPO("MlpPolicy", make_vec_env("Acrobot-v1", n_envs=2, seed=0), n_steps=128, batch_size=64, n_epochs=1)
    model.learn(256)
    path = expert_path("Acrobot-v1")
    path.parent.mkdir(parents=True, exist_ok=True)
    model.save(path)
    return path


@pytest.mark.slow
def test_evaluate_policy_of_another_env(cli_run, cached_acrobot_expert):
    _, out = cli_run
    proc = _cli("evaluate", "--env", "Acrobot-v1", "--policy", out, "--n-episodes", 2, "--json")
    _assert_one_error_line(proc)


def test_evaluate_missing_policy(capsys, tmp_path):
    assert main(["evaluate", "--env", ENV, "--policy", str(tmp_path / "nope"), "--json"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "no trained policy" in err[0]


@pytest.mark.slow
def test_gail_train_unknown_env(demos_file, tmp_path):
    proc = _cli("gail", "train", "--env", "NoSuchEnv-v0", "--demos", demos_file, "--timesteps", 256, "--out", tmp_path)
    _assert_one_error_line(proc, "NoSuchEnv-v0")


@pytest.mark.slow
def test_gail_train_missing_demos(tmp_path):
    missing = tmp_path / "missing.npz"
    proc = _cli("gail", "train", "--env", ENV, "--demos", missing, "--timesteps", 256, "--out", tmp_path / "run")
    _assert_one_error_line(proc, str(missing))


# ---------------------------------------------------------------------------- in-process (fast)


def test_every_config_field_is_a_flag(capsys):
    with pytest.raises(SystemExit) as info:
        build_parser().parse_args(["gail", "train", "--help"])
    assert info.value.code == 0
    text = capsys.readouterr().out
    for flag in ("--reward-form", "--absorbing", "--disc-hidden", "--bc-epochs", "--ppo-n-steps", "--ppo-gamma"):
        assert flag in text
    assert "Steps per env per rollout" in text  # field docstrings are the help texts


def test_flags_override_the_preset():
    args = build_parser().parse_args(
        ["gail", "train", "--env", ENV, "--demos", "d.npz", "--timesteps", "10", "--out", "o",
         "--n-envs", "3", "--absorbing", "false", "--disc-hidden", "32", "16", "--ppo-n-steps", "128",
         "--ppo-learning-rate", "0.0005"]
    )  # fmt: skip
    config = replace(preset(ENV), **config_overrides(args))
    assert config.run.n_envs == 3 and config.reward.absorbing is False and config.reward.disc_hidden == (32, 16)
    assert config.ppo.n_steps == 128 and config.ppo.learning_rate == 0.0005
    assert config.reward.reward_form == preset(ENV).reward.reward_form  # untouched fields keep the preset


@pytest.mark.parametrize("flag", ["--disc-loss", "--reward-form", "--obs-norm", "--disc-penalty"])
def test_gail_train_rejects_invalid_config_values(flag, demos_file, tmp_path, capsys):
    """Bad choices fail up front with one error line, before any training."""
    argv = ["gail", "train", "--env", ENV, "--demos", str(demos_file), "--timesteps", "256",
            "--out", str(tmp_path / "run"), "--n-envs", "2", "--ppo-n-steps", "64", "--ppo-batch-size", "64",
            "--quiet", flag, "bogus"]  # fmt: skip
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "bogus" in err[0]
    assert not (tmp_path / "run" / "checkpoint.pt").exists()


def test_python_dash_m_genplay_is_the_cli(monkeypatch, capsys):
    """``python -m genplay`` (genplay/__main__.py) runs the CLI; in-process, for the fast tier (the
    subprocess tests above are slow)."""
    import runpy

    monkeypatch.setattr(sys, "argv", ["genplay", "--help"])
    with pytest.raises(SystemExit) as exc:
        runpy.run_module("genplay", run_name="__main__")
    assert exc.value.code == 0 and "gail" in capsys.readouterr().out
