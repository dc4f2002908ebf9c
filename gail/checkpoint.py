"""Save and restore a whole GAIL trainer in one file, written atomically.

The file is a ``torch.save`` dict: the generator (SB3's own zip, as bytes, with its
optimiser state and step counter), the discriminator and its optimiser, the observation
normaliser, the replay rollouts, the RNG states and the history. A run killed at any
moment resumes from the last complete checkpoint; the temp-file-then-rename write
means a kill during saving leaves the previous checkpoint intact.
"""

from __future__ import annotations

import dataclasses
import importlib
import io
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from stable_baselines3.common.vec_env import VecEnv

from genplay.errors import CheckpointError
from genplay.gail.config import GAILConfig, PPOConfig
from genplay.gail.demos import Demos
from genplay.gail.store import TransitionStore
from genplay.generative.core import atomic_write

if TYPE_CHECKING:
    from genplay.gail.trainer import GAIL

CHECKPOINT_VERSION = 1


def config_to_dict(config: GAILConfig) -> dict:
    return dataclasses.asdict(config)


def config_from_dict(data: dict) -> GAILConfig:
    data = dict(data)
    ppo = dict(data.pop("ppo"))
    ppo["net_arch"] = tuple(ppo["net_arch"])
    data["disc_hidden"] = tuple(data["disc_hidden"])
    return GAILConfig(**data, ppo=PPOConfig(**ppo))


def save_trainer(trainer: GAIL, path: str | Path) -> None:
    algo = trainer.gen_algo
    gen_bytes = io.BytesIO()
    algo.save(gen_bytes)
    state = {
        "version": CHECKPOINT_VERSION,
        "env_id": trainer.demos.env_id,
        "config": config_to_dict(trainer.config),
        "gen_algo_class": f"{type(algo).__module__}:{type(algo).__qualname__}",
        "gen_algo": gen_bytes.getvalue(),
        "disc": trainer.disc.state_dict(),
        "disc_opt": trainer.disc_opt.state_dict(),
        "replay": [(dataclasses.asdict(store), k) for store, k in trainer.replay],
        "rng": trainer.rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "return_scaler": trainer.return_scaler.state_dict() if trainer.return_scaler else None,
        "n_rollouts": trainer.n_rollouts,
        "bc_done": trainer.bc_done,
        "history": trainer.history,
    }
    atomic_write(path, lambda tmp: torch.save(state, tmp))


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint dict, turning any read failure into one clear CheckpointError."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint")
    try:
        state = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as exc:  # torch raises many types for corrupt files
        raise CheckpointError(f"{path}: not a readable genplay checkpoint ({type(exc).__name__}: {exc})") from None
    if not isinstance(state, dict) or state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{path}: field 'version' is not {CHECKPOINT_VERSION}; not a genplay GAIL checkpoint")
    return state


def load_trainer(cls: type[GAIL], path: str | Path, *, venv: VecEnv, demos: Demos, log_dir: str | None) -> GAIL:
    state = read_checkpoint(path)
    if state["env_id"] != demos.env_id:
        raise CheckpointError(f"{path}: field 'env_id' is {state['env_id']!r}, but the demos are for {demos.env_id!r}")
    config = config_from_dict(state["config"])
    module, name = state["gen_algo_class"].split(":")
    algo_cls = getattr(importlib.import_module(module), name)
    gen_algo = algo_cls.load(io.BytesIO(state["gen_algo"]), device=config.device)
    trainer = cls(venv=venv, demos=demos, config=config, gen_algo=gen_algo, log_dir=log_dir)
    try:
        trainer.disc.load_state_dict(state["disc"])
        trainer.disc_opt.load_state_dict(state["disc_opt"])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: field 'disc' does not fit this genplay's discriminator ({exc})") from None
    for rows, n_terminations in state["replay"]:
        trainer.replay.append((TransitionStore(**rows), n_terminations))
    if trainer.return_scaler is not None and state["return_scaler"] is not None:
        trainer.return_scaler.load_state_dict(state["return_scaler"])
    trainer.rng.bit_generator.state = state["rng"]
    torch.set_rng_state(state["torch_rng"])
    trainer.n_rollouts, trainer.bc_done, trainer.history = state["n_rollouts"], state["bc_done"], state["history"]
    return trainer
