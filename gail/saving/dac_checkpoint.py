"""Save and restore a whole :class:`~genplay.gail.algos.dac.DAC` trainer in one file, never running code from it.

Same format as GAIL's checkpoints (the core's JSON + safetensors + sha256 ``state_io``):
the two configs as JSON, the Q-network and its target, the optimisers, the discriminator,
the replay buffer's arrays (uint8 frames as they are, with the ring of episodes' last
observations, ``gail/learners/replay.py``), the RNG states, the counters
SB3's DQN schedules by (steps, target-update calls, updates) and the history. The
learner is rebuilt from the stored configs, then given the weights, so nothing of
SB3's pickled fields is involved.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv

from genplay.errors import CheckpointError
from genplay.gail.algos.config import GAILConfig
from genplay.gail.data.demos import Demos
from genplay.gail.saving.checkpoint import (
    CHECKPOINT_FORMAT,
    DAC_CHECKPOINT_FORMAT,
    checkpoint_config,
    demos_fingerprint,
)
from genplay.gail.saving.sb3_io import counter
from genplay.generative.core.state_io import load_state, save_state

if TYPE_CHECKING:
    from genplay.gail.algos.dac import DAC
    from genplay.gail.algos.dac_config import DQNConfig

FORMAT, VERSION = DAC_CHECKPOINT_FORMAT, 2
_REPLAY = ("observations", "actions", "dones", "timeouts", "final_slot")
_FINALS = ("final_head", "final_count")


def save_dac(trainer: DAC, path: str | Path) -> None:
    algo, rb = trainer.algo, trainer.algo.replay_buffer
    state = {
        "format": FORMAT,
        "version": VERSION,
        "env_id": trainer.demos.env_id,
        "demos_sha256": demos_fingerprint(trainer.demos),
        "config": dataclasses.asdict(trainer.config),
        "dqn": dataclasses.asdict(trainer.dqn_config),
        "policy": algo.policy.state_dict(),
        "optimizer": algo.policy.optimizer.state_dict(),
        "disc": trainer.disc.state_dict(),
        "disc_opt": trainer.disc_opt.state_dict(),
        "replay": {
            **{k: getattr(rb, k) for k in _REPLAY},
            "final_observations": rb.final_observations,
            **{k: int(getattr(rb, k)) for k in _FINALS},
            "pos": int(rb.pos),
            "full": bool(rb.full),
        },
        "counters": {
            "num_timesteps": int(algo.num_timesteps),
            "n_calls": int(algo._n_calls),
            "n_updates": int(algo._n_updates),
            "last_disc_update": int(trainer.last_disc_update),
        },
        "rng": trainer.rng.bit_generator.state,
        "torch_rng": torch.get_rng_state(),
        "history": trainer.history,
    }
    save_state(path, state)


def read_dac(path: str | Path) -> dict:
    """The state tree of a DAC checkpoint (format checked); nothing in it is code."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    state = load_state(path)
    if state.get("format") == CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: a GAIL run's checkpoint; resume it without --algo dac")
    if state.get("format") == FORMAT and state.get("version") == 1:
        raise CheckpointError(
            f"{path}: a version-1 DAC checkpoint, whose replay buffer lost the last observation of ended episodes "
            "(truncations bootstrapped from reset frames); it cannot be resumed: start over with --force"
        )
    if state.get("format") != FORMAT or state.get("version") != VERSION:
        raise CheckpointError(f"{path}: field 'format' is {state.get('format')!r}; not a genplay DAC checkpoint")
    return state


def dac_settings(state: dict, path: str | Path) -> tuple[GAILConfig, DQNConfig]:
    """The stored ``(config, dqn)``; a device this machine lacks (the run moved) becomes ``auto``."""
    from genplay.gail.algos.dac_config import DQNConfig

    config = checkpoint_config(state, path)
    try:
        dqn_data = dict(state["dqn"])
        return config, DQNConfig(**{**dqn_data, "net_arch": tuple(dqn_data["net_arch"])})
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: field 'dqn' is not a valid DQN config ({exc})") from None


def load_dac(
    cls: type[DAC],
    path: str | Path,
    *,
    venv: VecEnv,
    demos: Demos,
    log_dir: str | None,
    settings: tuple[GAILConfig, DQNConfig] | None = None,
    state: dict | None = None,
) -> DAC:
    """Rebuild the trainer saved at ``path`` on ``venv`` (with ``settings`` instead of the stored
    ones where the stored state fits them; ``state``: the file already read by :func:`read_dac`);
    every problem is one ``CheckpointError``."""
    path = Path(path)
    state = state if state is not None else read_dac(path)
    if state.get("env_id") != demos.env_id:
        have = state.get("env_id")
        raise CheckpointError(f"{path}: field 'env_id' is {have!r}, but the demos are for {demos.env_id!r}")
    if state.get("demos_sha256") != demos_fingerprint(demos):
        raise CheckpointError(f"{path}: field 'demos_sha256' does not match these demos; resume with the run's demos")
    changed = settings is not None and settings != dac_settings(state, path)
    config, dqn = settings or dac_settings(state, path)
    trainer = cls(venv=venv, demos=demos, config=config, dqn=dqn, log_dir=log_dir)
    algo, rb = trainer.algo, trainer.algo.replay_buffer
    try:
        algo.policy.load_state_dict(state["policy"])
        algo.policy.optimizer.load_state_dict(state["optimizer"])
        trainer.disc.load_state_dict(state["disc"])
        trainer.disc_opt.load_state_dict(state["disc_opt"])
        replay = state["replay"]
        for key in _REPLAY:
            value = np.asarray(replay[key])
            if value.shape != getattr(rb, key).shape or value.dtype != getattr(rb, key).dtype:
                raise ValueError(f"replay {key} is {value.dtype}{value.shape}, expected {getattr(rb, key).shape}")
            setattr(rb, key, value)
        finals = np.asarray(replay["final_observations"])
        if finals.shape[1:] != rb.obs_shape or finals.dtype != rb.observations.dtype or not len(finals):
            raise ValueError(f"replay final_observations is {finals.dtype}{finals.shape}, not rows of {rb.obs_shape}")
        rb.final_observations = finals
        rb.final_head, rb.final_count = (counter(replay[k], f"replay.{k}") for k in _FINALS)
        rb.check_finals()
        rb.pos, rb.full = counter(replay["pos"], "replay.pos"), bool(replay["full"])
        if rb.pos >= rb.buffer_size:
            raise ValueError(f"replay pos {rb.pos} is past the buffer's {rb.buffer_size} rows")
        n_actions = getattr(venv.action_space, "n", None)
        if n_actions is not None and (rb.actions < 0).any() | (rb.actions >= n_actions).any():
            raise ValueError(f"replay actions outside [0, {n_actions})")
        counters = state["counters"]
        algo.num_timesteps = counter(counters["num_timesteps"], "counters.num_timesteps")
        algo._n_calls = counter(counters["n_calls"], "counters.n_calls")
        algo._n_updates = counter(counters["n_updates"], "counters.n_updates")
        last = counters["last_disc_update"]  # negative: saved before the first update (the constructor's value)
        if not (isinstance(last, int) and not isinstance(last, bool) and last < 0):
            trainer.last_disc_update = counter(last, "counters.last_disc_update")
        trainer.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        trainer.history = list(state["history"])
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        msg = " ".join(str(exc).split())[:200]
        if changed:  # a valid checkpoint, forced onto settings whose shapes differ (buffer size, net_arch, ...)
            raise CheckpointError(
                f"{path}: the stored state does not fit the changed settings ({msg}); resume with the run's sizes, "
                "or start over with --force and no --resume"
            ) from None
        raise CheckpointError(f"{path}: malformed DAC state ({type(exc).__name__}: {msg})") from None
    return trainer
