"""Save and restore a whole GAIL trainer in one file, written atomically, loaded without running code.

The file is the core's :mod:`state_io` format (JSON + safetensors + sha256): the
generator as plain settings, weights and optimiser state (:mod:`gail.sb3_io`, never
SB3's pickled fields), the discriminator and its optimiser, the replay rollouts, the
RNG states, the history, the config and a fingerprint of the demos. A run killed at any
moment resumes from the last complete checkpoint (temp file then rename); damaged bytes
fail the checksum and are refused.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv

from genplay.errors import CheckpointError
from genplay.gail.algos.config import GAILConfig, config_from_dict
from genplay.gail.data.demos import Demos
from genplay.gail.data.store import StackedFrames
from genplay.gail.saving.sb3_io import algo_from_state, algo_state, counter, load_weights
from genplay.generative.core import select_device
from genplay.generative.core.state_io import load_state, save_state, sha256_bytes

if TYPE_CHECKING:
    from genplay.gail.algos.gail import GAIL

CHECKPOINT_FORMAT = "genplay-gail-checkpoint"
CHECKPOINT_VERSION = 2
DAC_CHECKPOINT_FORMAT = "genplay-dac-checkpoint"  # DAC's own format before it moved to off_policy_checkpoint.py


def config_to_dict(config: GAILConfig) -> dict:
    return dataclasses.asdict(config)


def demos_fingerprint(demos: Demos) -> str:
    """sha256 of what the trainer learns from: the env (id, kwargs, wrappers), observations, actions,
    episode ends, action masks."""
    if isinstance(demos.obs, StackedFrames):
        obs = {"frames": demos.obs.frames, "frame_index": demos.obs.index}
    else:
        obs = demos.obs if isinstance(demos.obs, dict) else {"": demos.obs}
    env = json.dumps(demos.env.to_dict(), sort_keys=True) if demos.env is not None else ""
    parts = [demos.env_id.encode(), env.encode()]
    for key in sorted(obs):
        parts += [key.encode(), np.ascontiguousarray(obs[key]).tobytes()]
    for arr in (demos.acts, demos.episode_lengths, demos.terminated, demos.action_masks):
        parts.append(b"" if arr is None else np.ascontiguousarray(arr).tobytes())
    return sha256_bytes(*parts)


def save_trainer(trainer: GAIL, path: str | Path) -> None:
    state = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "env_id": trainer.demos.env_id,
        "demos_sha256": demos_fingerprint(trainer.demos),
        "config": config_to_dict(trainer.config),
        "generator": _global_sizes(algo_state(trainer.gen_algo), trainer),
        "disc": trainer.disc.state_dict(),
        "disc_opt": trainer.disc_opt.state_dict(),
        "replay": [{"rows": dataclasses.asdict(store), "terminations": int(k)} for store, k in trainer.replay],
        "rng": trainer.rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "return_scaler": trainer.return_scaler.state_dict() if trainer.return_scaler else None,
        "n_rollouts": trainer.n_rollouts,
        "bc_done": trainer.bc_done,
        "history": trainer.history,
    }
    save_state(path, state)


def _global_sizes(gen: dict, trainer: GAIL) -> dict:
    """The generator's state with the run's global env count and minibatch, not this rank's share."""
    world = trainer.dist.world_size if trainer.dist is not None else 1
    if world > 1:
        meta = gen["meta"] = dict(gen["meta"])
        meta["n_envs"] = int(meta["n_envs"]) * world
        if "batch_size" in meta.get("hyper", {}):
            meta["hyper"] = {**meta["hyper"], "batch_size": int(meta["hyper"]["batch_size"]) * world}
    return gen


_REQUIRED = ("env_id", "config", "generator", "disc", "disc_opt", "replay", "rng", "torch_rng", "history")


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint dict (checksum verified), turning any problem into one clear CheckpointError."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    state = load_state(path)
    if state.get("format") in (DAC_CHECKPOINT_FORMAT, "genplay-off-policy-imitation"):  # off_policy_checkpoint's
        algo = state.get("algo", "dac")
        raise CheckpointError(
            f"{path}: a {algo} run's checkpoint; pass --algo {algo} (synth and GAIL-only tools need a GAIL run)"
        )
    if state.get("format") != CHECKPOINT_FORMAT or state.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path}: field 'version' is {state.get('version')!r}, expected {CHECKPOINT_VERSION}; "
            "not a genplay GAIL checkpoint of this version"
        )
    missing = [k for k in _REQUIRED if k not in state]
    if missing:
        raise CheckpointError(f"{path}: fields {missing} are missing; not a complete genplay GAIL checkpoint")
    return state


def checkpoint_config(state: dict, path: str | Path, cls: type[GAILConfig] = GAILConfig) -> GAILConfig:
    """The stored config (a ``cls``); a device this machine lacks (the run moved) becomes ``auto``."""
    from genplay.settings import device_problem

    try:
        data = dict(state["config"])
        nested = isinstance(data.get("run"), dict)  # the sections' layout; runs before the split stored it flat
        run = dict(data["run"]) if nested else data
        if device_problem(run.get("device")):
            run["device"] = "auto"
        return config_from_dict({**data, "run": run} if nested else data, cls)
    except (TypeError, ValueError, KeyError, AttributeError) as exc:
        raise CheckpointError(f"{path}: field 'config' is not a valid GAIL config ({exc})") from None


def load_trainer(
    cls: type[GAIL],
    path: str | Path,
    *,
    venv: VecEnv,
    demos: Demos,
    log_dir: str | None,
    config: GAILConfig | None = None,
    state: dict | None = None,
    **ranks,
) -> GAIL:
    """Rebuild a trainer from ``path`` on ``venv``; ``config`` (default: the stored one) may change
    settings whose state still fits (learning rates, ...); shapes that do not fit are one error.
    ``ranks`` (``dist``, ``shard_demos``) go to the trainer: a checkpoint holds replicated
    state only, so it resumes on any number of ranks."""
    state = state if state is not None else read_checkpoint(path)
    if state["env_id"] != demos.env_id:
        raise CheckpointError(f"{path}: field 'env_id' is {state['env_id']!r}, but the demos are for {demos.env_id!r}")
    config = config or checkpoint_config(state, path, cls.config_class)

    stored = checkpoint_config(state, path, cls.config_class)
    gen = state["generator"]
    meta = gen.get("meta") if isinstance(gen, dict) else None
    stored_algo = meta.get("algo") if isinstance(meta, dict) else None
    if config != stored and stored_algo == "PPO":
        # a forced resume with changed settings: the generator is built from the new config,
        # then given the stored weights (which must fit its network)
        trainer = cls(venv=venv, demos=demos, config=config, log_dir=log_dir, **ranks)
        load_weights(trainer.gen_algo, gen.get("policy"), gen.get("optimizer"), name=str(path))
        trainer.gen_algo.num_timesteps = counter(gen["meta"].get("num_timesteps", 0), "num_timesteps")
        trainer.gen_algo._n_updates = counter(gen["meta"].get("n_updates", 0), "n_updates")
    else:
        gen_algo = algo_from_state(gen, venv, device=select_device(config.run.device), name=str(path))
        trainer = cls(venv=venv, demos=demos, config=config, gen_algo=gen_algo, log_dir=log_dir, **ranks)
    try:
        trainer.disc.load_state_dict(state["disc"])
        trainer.disc_opt.load_state_dict(state["disc_opt"])
        if config.reward.disc_lr != stored.reward.disc_lr:
            for group, scale in zip(trainer.disc_opt.param_groups, (1.0, config.reward.absorbing_lr_scale)):
                group["lr"] = config.reward.disc_lr * scale
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        msg = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"{path}: field 'disc' does not fit this discriminator ({msg})") from None
    try:
        for item in state["replay"]:
            trainer.replay.append((cls.store_class(**item["rows"]), int(item["terminations"])))
        if trainer.return_scaler is not None and state.get("return_scaler") is not None:
            trainer.return_scaler.load_state_dict(state["return_scaler"])
        trainer.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        dist = ranks.get("dist")
        if dist is not None and dist.rank > 0:  # its own streams, not rank 0's stored ones
            key = [trainer.config.run.seed, dist.rank, int(state["n_rollouts"])]
            trainer.rng = np.random.default_rng(key)
            torch.manual_seed(int(np.random.SeedSequence(key).generate_state(1)[0]))
        trainer.n_rollouts, trainer.bc_done = counter(state["n_rollouts"], "n_rollouts"), bool(state["bc_done"])
        trainer.history = list(state["history"])
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (TypeError, ValueError, KeyError, RuntimeError) as exc:
        msg = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"{path}: malformed trainer state ({type(exc).__name__}: {msg})") from None
    return trainer
