"""``train_off_policy``: a SQIL, IQ-Learn or DAC run, in an output directory or not (the registry's TrainFn shape).

With ``out_dir`` the run-directory contract holds as for ``train_gail``: the directory is
locked, refused when it holds a run unless ``resume`` (continue from ``checkpoint.pt``, whose
learning settings must match unless ``force``) or ``force`` (start over); ``config.json``,
an atomic ``checkpoint.pt`` (replay buffer included), ``policy.zip`` that SB3's own
``DQN.load`` / ``SAC.load`` opens, ``history.json``, ``learning_curve.png`` and ``logs/``.
DAC's settings are a ``(GAILConfig, DACLearnerConfig)`` pair (:func:`train_dac`); the others' one config.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from stable_baselines3.common.callbacks import BaseCallback

from genplay.envs import EnvFactory, as_factory
from genplay.errors import CheckpointError
from genplay.gail.algos.config import GAILConfig
from genplay.gail.algos.dac import DAC
from genplay.gail.algos.dac_config import DACLearnerConfig, dac_preset, dac_run_meta
from genplay.gail.data.demos import Demos
from genplay.gail.evaluation.plotting import plot_learning_curve
from genplay.gail.learners.off_policy import OffPolicyConfig, OffPolicyImitation, run_meta
from genplay.gail.saving.off_policy_checkpoint import (
    config_differences,
    load_off_policy,
    read_off_policy,
    stored_settings,
)
from genplay.gail.saving.run_files import CHECKPOINT, POLICY, RUN_MARKERS, export_policy, set_run_logger
from genplay.generative.core import atomic_write, set_torch_threads
from genplay.generative.core.rundir import run_dir_session


def _build(cls: type[OffPolicyImitation], factory: EnvFactory, demos: Demos, settings: Any, seed_offset: int = 0):
    run = settings[0].run if isinstance(settings, tuple) else settings  # DAC: its GAILConfig's run section
    venv = factory.make_vec(run.n_envs, seed=run.seed + seed_offset)
    if isinstance(settings, tuple):
        return cls.from_settings(settings, venv=venv, demos=demos, log_dir=None)  # type: ignore[attr-defined]
    return cls(venv=venv, demos=demos, config=settings)


def _meta(trainer: OffPolicyImitation) -> dict[str, Any]:
    if isinstance(trainer, DAC):
        return dac_run_meta(trainer.demos.env_factory, trainer.config, trainer.dqn_config)
    return run_meta(trainer.log_key, trainer.demos, trainer.config)


def train_off_policy(
    cls: type[OffPolicyImitation],
    env: str | EnvFactory,
    demos: Demos,
    total_timesteps: int,
    *,
    config: OffPolicyConfig | tuple[GAILConfig, DACLearnerConfig] | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress_bar: bool = False,
    callback: BaseCallback | None = None,
) -> OffPolicyImitation:
    """Train ``cls`` (SQIL, IQ-Learn, or DAC with a ``(config, dqn)`` pair) on ``env`` from ``demos``
    for ``total_timesteps`` agent steps."""
    if not isinstance(total_timesteps, int) or isinstance(total_timesteps, bool) or total_timesteps <= 0:
        raise ValueError(f"total_timesteps must be an integer > 0, got {total_timesteps!r}")
    factory = demos.env_factory if isinstance(env, str) and env == demos.env_id else as_factory(env)
    settings = config or cls.config_class()
    run = settings[0].run if isinstance(settings, tuple) else settings  # DAC: its GAILConfig's run section
    set_torch_threads(run.torch_threads)
    torch.manual_seed(run.seed)  # SB3's rollout sampling (SAC's actor noise) draws from torch's global RNG
    if out_dir is None:
        trainer = _build(cls, factory, demos, settings)
        return trainer.learn(total_timesteps, callback=callback, progress_bar=progress_bar)
    out = Path(out_dir)
    with run_dir_session(out, RUN_MARKERS, checkpoint=CHECKPOINT, resume=resume, force=force):
        ckpt = out / CHECKPOINT
        resuming = resume and ckpt.exists()
        if resuming:
            state = read_off_policy(ckpt, cls.log_key)  # read once: with its replay buffer the file can be large
            diff = config_differences(stored_settings(state, cls, ckpt), settings)
            if diff and not force:
                raise CheckpointError(
                    f"{ckpt}: cannot resume: settings differ: {'; '.join(diff)} (pass --force to resume anyway)"
                )
            venv = factory.make_vec(run.n_envs, seed=run.seed + 1)  # fresh episodes
            trainer = load_off_policy(cls, ckpt, venv=venv, demos=demos, config=settings, state=state)
        else:
            for stale in (CHECKPOINT, POLICY, "policy.json", "history.json"):
                (out / stale).unlink(missing_ok=True)
            trainer = _build(cls, factory, demos, settings)
        set_run_logger(trainer, out / "logs", append=resuming)
        meta = _meta(trainer)
        atomic_write(out / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
        trainer.learn(total_timesteps, callback=callback, progress_bar=progress_bar, checkpoint_path=ckpt)
        export_policy(trainer, out)
        plot_learning_curve(trainer.history, out / "learning_curve.png", title=f"{cls.title} on {factory.env_id}")
    return trainer


def train_dac(
    env: str | EnvFactory,
    demos: Demos,
    total_timesteps: int,
    *,
    config: GAILConfig | None = None,
    dqn: DACLearnerConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress_bar: bool = False,
    callback: BaseCallback | None = None,
) -> DAC:
    """Train DAC (the discriminator's reward on DQN or SAC) on ``env`` (the registry's ``TrainFn``);
    ``config`` / ``dqn`` default to :func:`dac_preset`'s. The run directory as :func:`train_off_policy`'s."""
    factory = demos.env_factory if isinstance(env, str) and env == demos.env_id else as_factory(env)
    default_config, default_dqn = dac_preset(factory.env_id)
    return train_off_policy(  # type: ignore[return-value]
        DAC,
        factory,
        demos,
        total_timesteps,
        config=(config or default_config, dqn or default_dqn),
        out_dir=out_dir,
        resume=resume,
        force=force,
        progress_bar=progress_bar,
        callback=callback,
    )


def stored_dac_settings(ckpt: str | Path) -> tuple[GAILConfig, DACLearnerConfig]:
    """The ``(config, dqn)`` a DAC checkpoint was trained with (the CLI's base on ``--resume``)."""
    return stored_settings(read_off_policy(ckpt, DAC.log_key), DAC, ckpt)
