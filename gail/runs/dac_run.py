"""``train_dac``: DAC's run in an output directory, with the same contract as ``train_gail``.

The directory is locked for the run, checkpointed atomically (replay buffer included, so a
killed run resumes where its last checkpoint left it), logged (CSV + TensorBoard), plotted,
and ends with ``policy.zip`` for ``load_policy`` and the evaluation suites.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from stable_baselines3.common.callbacks import BaseCallback

from genplay.envs import EnvFactory, as_factory
from genplay.errors import CheckpointError
from genplay.gail.algos.config import GAILConfig
from genplay.gail.algos.dac import DAC
from genplay.gail.algos.dac_config import DQNConfig, dac_preset, dac_run_meta
from genplay.gail.data.demos import Demos
from genplay.gail.evaluation.plotting import plot_learning_curve
from genplay.gail.saving.checkpoint import config_differences
from genplay.gail.saving.dac_checkpoint import dac_settings, read_dac
from genplay.gail.saving.run_files import CHECKPOINT, POLICY, RUN_MARKERS, export_policy, save_run_dir, set_run_logger
from genplay.generative.core import atomic_write
from genplay.generative.core.rundir import run_dir_session


def train_dac(
    env: str | EnvFactory,
    demos: Demos,
    total_timesteps: int,
    *,
    config: GAILConfig | None = None,
    dqn: DQNConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress_bar: bool = False,
    callback: BaseCallback | None = None,
) -> DAC:
    """Train DAC (a DQN learner on the discriminator's reward) on ``env``; ``config``/``dqn`` default
    to :func:`dac_preset`. With ``out_dir``, as :func:`~genplay.gail.runs.pipeline.train_gail`: a directory
    holding a run is refused unless ``resume`` (continue from its checkpoint up to ``total_timesteps``;
    changed settings are refused unless ``force``) or ``force`` (start over). The demos must be the run's."""
    if not isinstance(total_timesteps, int) or isinstance(total_timesteps, bool) or total_timesteps <= 0:
        raise ValueError(f"total_timesteps must be an integer > 0, got {total_timesteps!r}")
    factory = demos.env_factory if isinstance(env, str) and env == demos.env_id else as_factory(env)
    default_config, default_dqn = dac_preset(factory.env_id)
    config, dqn = config or default_config, dqn or default_dqn
    if out_dir is None:
        trainer = DAC(venv=factory.make_vec(config.n_envs, seed=config.seed), demos=demos, config=config, dqn=dqn)
        return trainer.learn(total_timesteps, callback=callback, progress_bar=progress_bar)
    out = Path(out_dir)
    with run_dir_session(out, RUN_MARKERS, checkpoint=CHECKPOINT, resume=resume, force=force):
        ckpt = out / CHECKPOINT
        resuming = resume and ckpt.exists()
        if resuming:
            state = read_dac(ckpt)  # read once: with its replay buffer the file can be gigabytes
            _check_resumable(dac_settings(state, ckpt), (config, dqn), ckpt, force=force)
            venv = factory.make_vec(config.n_envs, seed=config.seed + 1)  # fresh episodes
            trainer = DAC.load(str(ckpt), venv=venv, demos=demos, settings=(config, dqn), state=state)
        else:
            for stale in (CHECKPOINT, POLICY, "policy.json", "history.json"):
                (out / stale).unlink(missing_ok=True)
            trainer = DAC(venv=factory.make_vec(config.n_envs, seed=config.seed), demos=demos, config=config, dqn=dqn)
        set_run_logger(trainer, out / "logs", append=resuming)
        _write_config(out, factory, config, dqn)
        trainer.learn(total_timesteps, callback=callback, progress_bar=progress_bar, checkpoint_path=str(ckpt))
        export_policy(trainer, out)
        plot_learning_curve(trainer.history, out / "learning_curve.png", title=f"DAC on {factory.env_id}")
    return trainer


def _write_config(out: Path, factory: EnvFactory, config: GAILConfig, dqn: DQNConfig) -> None:
    meta = dac_run_meta(factory, config, dqn)
    atomic_write(out / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))


def save_dac_run(trainer: DAC, out_dir: str | Path) -> Path:
    """A DAC trainer built in Python written as the run directory ``gail train --algo dac --out`` writes."""
    meta = dac_run_meta(trainer.demos.env_factory, trainer.config, trainer.dqn_config)
    return save_run_dir(trainer, out_dir, meta, "DAC")


def stored_dac_settings(ckpt: str | Path) -> tuple[GAILConfig, DQNConfig]:
    """The ``(config, dqn)`` a DAC checkpoint was trained with (the CLI's base on ``--resume``)."""
    return dac_settings(read_dac(ckpt), ckpt)


def _check_resumable(
    stored_settings: tuple[GAILConfig, DQNConfig], settings: tuple[GAILConfig, DQNConfig], ckpt: Path, *, force: bool
) -> None:
    (stored, stored_dqn), (config, dqn) = stored_settings, settings
    diff = config_differences(stored, config)
    diff += [
        f"dqn.{f.name}: {getattr(stored_dqn, f.name)!r} -> {getattr(dqn, f.name)!r}"
        for f in dataclasses.fields(DQNConfig)
        if getattr(stored_dqn, f.name) != getattr(dqn, f.name)
    ]
    if diff and not force:
        why = "; ".join(diff)
        raise CheckpointError(f"{ckpt}: cannot resume: settings differ: {why} (pass --force to resume anyway)")
