"""``train_off_policy``: a SQIL or IQ-Learn run, in an output directory or not (the registry's TrainFn shape).

With ``out_dir`` the run-directory contract holds as for ``train_gail``: the directory is
locked, refused when it holds a run unless ``resume`` (continue from ``checkpoint.pt``, whose
learning settings must match unless ``force``) or ``force`` (start over); ``config.json``,
an atomic ``checkpoint.pt`` (replay buffer included), ``policy.zip`` that SB3's own
``DQN.load`` / ``SAC.load`` opens, ``history.json``, ``learning_curve.png`` and ``logs/``.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch
from stable_baselines3.common.callbacks import BaseCallback

from genplay.envs import EnvFactory, as_factory
from genplay.errors import CheckpointError
from genplay.gail.data.demos import Demos
from genplay.gail.evaluation.plotting import plot_learning_curve
from genplay.gail.learners.off_policy import OffPolicyConfig, OffPolicyImitation, run_meta
from genplay.gail.saving.off_policy_checkpoint import config_differences, read_off_policy, stored_config
from genplay.gail.saving.run_files import CHECKPOINT, POLICY, RUN_MARKERS, export_policy, set_run_logger
from genplay.generative.core import atomic_write, set_torch_threads
from genplay.generative.core.rundir import run_dir_session


def train_off_policy(
    cls: type[OffPolicyImitation],
    env: str | EnvFactory,
    demos: Demos,
    total_timesteps: int,
    *,
    config: OffPolicyConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress_bar: bool = False,
    callback: BaseCallback | None = None,
) -> OffPolicyImitation:
    """Train ``cls`` (SQIL or IQ-Learn) on ``env`` from ``demos`` for ``total_timesteps`` agent steps."""
    if not isinstance(total_timesteps, int) or isinstance(total_timesteps, bool) or total_timesteps <= 0:
        raise ValueError(f"total_timesteps must be an integer > 0, got {total_timesteps!r}")
    factory = demos.env_factory if isinstance(env, str) and env == demos.env_id else as_factory(env)
    config = config or cls.config_class()
    set_torch_threads(config.torch_threads)
    torch.manual_seed(config.seed)  # SB3's rollout sampling (SAC's actor noise) draws from torch's global RNG
    if out_dir is None:
        trainer = cls(venv=factory.make_vec(config.n_envs, seed=config.seed), demos=demos, config=config)
        return trainer.learn(total_timesteps, callback=callback, progress_bar=progress_bar)
    out = Path(out_dir)
    with run_dir_session(out, RUN_MARKERS, checkpoint=CHECKPOINT, resume=resume, force=force):
        ckpt = out / CHECKPOINT
        resuming = resume and ckpt.exists()
        if resuming:
            state = read_off_policy(ckpt, cls.log_key)  # read once: with its replay buffer the file can be large
            diff = config_differences(stored_config(state, cls.config_class, ckpt), config)
            if diff and not force:
                raise CheckpointError(
                    f"{ckpt}: cannot resume: settings differ: {'; '.join(diff)} (pass --force to resume anyway)"
                )
            from genplay.gail.saving.off_policy_checkpoint import load_off_policy

            venv = factory.make_vec(config.n_envs, seed=config.seed + 1)  # fresh episodes
            trainer = load_off_policy(cls, ckpt, venv=venv, demos=demos, config=config, state=state)
        else:
            for stale in (CHECKPOINT, POLICY, "history.json"):
                (out / stale).unlink(missing_ok=True)
            trainer = cls(venv=factory.make_vec(config.n_envs, seed=config.seed), demos=demos, config=config)
        set_run_logger(trainer, out / "logs", append=resuming)
        meta = run_meta(cls.log_key, demos, trainer.config)
        atomic_write(out / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
        trainer.learn(total_timesteps, callback=callback, progress_bar=progress_bar, checkpoint_path=ckpt)
        export_policy(trainer, out)
        plot_learning_curve(trainer.history, out / "learning_curve.png", title=f"{cls.title} on {factory.env_id}")
    return trainer
