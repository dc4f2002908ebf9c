"""`genplay reward train --resume`: a run on a learned reward goes on from its checkpoint, losing nothing."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import pytest
from stable_baselines3.common.callbacks import BaseCallback

from genplay.errors import CheckpointError, GenplayError
from genplay.gail.algos.airl import airl_config, airl_preset, train_airl
from genplay.gail.algos.config import PPOConfig
from genplay.gail.learners.reward_env import RewardLearner, RewardRLConfig, train_on_reward
from genplay.gail.rewards.export import export_reward
from genplay.generative.core.state_io import load_state

PPO_SMALL = PPOConfig(n_steps=32, batch_size=64, n_epochs=1)
CONFIG = RewardRLConfig(n_envs=2, device="cpu", checkpoint_every=64, ppo=PPO_SMALL)


class StepCount(BaseCallback):
    """Counts the vector steps a run takes."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def _on_step(self) -> bool:
        self.calls += 1
        return True


@pytest.fixture(scope="module")
def reward_dir(tmp_path_factory, cartpole_random_demos):
    root = tmp_path_factory.mktemp("reward")
    base = dict(n_envs=2, disc_batch_size=64, disc_updates=1, checkpoint_every=0, bc_epochs=0, device="cpu")
    cfg = airl_config(airl_preset("CartPole-v1"), **base)
    train_airl("CartPole-v1", cartpole_random_demos, 128, config=cfg, out_dir=root / "run")
    return export_reward(root / "run", root / "reward", part="f")


def test_resume_goes_on_from_the_checkpoint(reward_dir, tmp_path):
    out = tmp_path / "run"
    first = train_on_reward("CartPole-v1", reward_dir, 192, config=CONFIG, out_dir=out)
    saved = load_state(out / "checkpoint.pt")
    assert saved["agent"]["meta"]["num_timesteps"] == first.num_timesteps == 192
    with pytest.raises(GenplayError, match="--out"):  # a run is there: neither --resume nor --force
        train_on_reward("CartPole-v1", reward_dir, 256, config=CONFIG, out_dir=out)
    steps = StepCount()
    second = train_on_reward("CartPole-v1", reward_dir, 320, config=CONFIG, out_dir=out, resume=True, callback=steps)
    assert second.num_timesteps == 320 and steps.calls * CONFIG.n_envs == 320 - 192  # only the steps still to go
    assert second.history[: len(first.history)] == first.history  # the first run's rows are kept
    assert len(second.history) == len(first.history) + 2  # two more rollouts of 2 x 32 steps


def test_periodic_checkpoints_are_written_during_the_run(reward_dir, tmp_path, monkeypatch):
    out, seen = tmp_path / "run", []
    train_on_reward("CartPole-v1", reward_dir, 64, config=CONFIG, out_dir=out)
    original = RewardLearner.save_checkpoint

    def spy(self, path):
        seen.append(self.num_timesteps)
        original(self, path)

    monkeypatch.setattr(RewardLearner, "save_checkpoint", spy)
    train_on_reward("CartPole-v1", reward_dir, 320, config=CONFIG, out_dir=out, resume=True)
    assert seen == [128, 192, 256, 320, 320], seen  # every 64 steps at a rollout's end, then the final one


def test_resume_refuses_other_settings_or_another_reward(reward_dir, tmp_path, cartpole_random_demos):
    out = tmp_path / "run"
    train_on_reward("CartPole-v1", reward_dir, 64, config=CONFIG, out_dir=out)
    other = dataclasses.replace(CONFIG, seed=1)
    with pytest.raises(CheckpointError, match="settings differ: seed"):
        train_on_reward("CartPole-v1", reward_dir, 128, config=other, out_dir=out, resume=True)
    cfg = airl_config(airl_preset("CartPole-v1"), n_envs=2, disc_updates=1, bc_epochs=0, device="cpu", seed=5)
    train_airl("CartPole-v1", cartpole_random_demos, 128, config=cfg, out_dir=tmp_path / "run2")
    second_reward = export_reward(tmp_path / "run2", tmp_path / "reward2", part="f")
    with pytest.raises(CheckpointError, match="reward_sha256"):
        train_on_reward("CartPole-v1", second_reward, 128, config=CONFIG, out_dir=out, resume=True)
    with pytest.raises(GenplayError, match="checkpoint"):
        train_on_reward("CartPole-v1", reward_dir, 128, config=CONFIG, out_dir=tmp_path / "empty", resume=True)


def test_cli_resume_without_a_checkpoint_is_one_line(reward_dir, tmp_path):
    cmd = [sys.executable, "-m", "genplay", "reward", "train", "--reward", str(reward_dir), "--resume"]
    proc = subprocess.run([*cmd, "--out", str(tmp_path / "none")], capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: --out"), proc.stderr
