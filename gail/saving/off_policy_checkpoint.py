"""Save and restore a whole off-policy trainer (``gail/learners/off_policy.py``: SQIL, IQ-Learn, DAC) in one safe file.

The core's ``state_io`` format (JSON + safetensors + sha256), never pickle: the settings as
JSON, the SB3 policy's weights (DQN: Q-network and target; SAC: actor, critics, targets),
every optimiser, SAC's log temperature, the replay buffer's arrays (uint8 frames as they
are), SB3's counters (its schedules run on them), the trainer's RNG and the history. A
trainer with a learned reward (DAC: a class with ``from_settings``) adds its second config
(``dqn``), its ``reward`` entry (the discriminator, its optimiser and its clock) and torch's
RNG. The trainer is rebuilt from the settings, then given the state, so nothing of SB3's
pickled fields is involved.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from stable_baselines3.common.vec_env import VecEnv

from genplay.errors import CheckpointError
from genplay.gail.algos.config import config_differences as gail_config_differences
from genplay.gail.data.demos import Demos
from genplay.gail.saving.checkpoint import (
    DAC_CHECKPOINT_FORMAT,
    checkpoint_config,
    demos_fingerprint,
)
from genplay.gail.saving.sb3_io import counter
from genplay.generative.core.checks import check_finite_tree
from genplay.generative.core.state_io import load_state, save_state

if TYPE_CHECKING:
    from genplay.gail.learners.off_policy import OffPolicyConfig, OffPolicyImitation

FORMAT, VERSION = "genplay-off-policy-imitation", 2
VERSIONS = (1, 2)
"""2: the replay stores each observation once (``replay.STATE_KEYS``); 1 stored next observations whole
and is converted on load."""
RUN_FIELDS = ("device", "torch_threads", "checkpoint_every")
"""Settings of where a run executes, not of what it learns: a resume may change them."""


def _with_reward(cls: type) -> bool:
    """Whether ``cls`` is a trainer with a learned reward and two configs (DAC)."""
    return hasattr(cls, "from_settings")


def _optimizers(trainer: OffPolicyImitation) -> dict[str, Any]:
    algo = trainer.algo
    if trainer.discrete:
        return {"q": algo.policy.optimizer}
    found = {"actor": algo.actor.optimizer, "critic": algo.critic.optimizer}
    if algo.ent_coef_optimizer is not None:
        found["ent_coef"] = algo.ent_coef_optimizer
    return found


def save_off_policy(trainer: OffPolicyImitation, path: str | Path) -> None:
    """Write ``trainer`` to ``path`` atomically (``state_io``)."""
    algo, rb = trainer.algo, trainer.algo.replay_buffer
    state = {
        "format": FORMAT,
        "version": VERSION,
        "algo": trainer.log_key,
        "env_id": trainer.demos.env_id,
        "demos_sha256": demos_fingerprint(trainer.demos),
        "config": dataclasses.asdict(trainer.config),
        "policy": algo.policy.state_dict(),
        "optimizers": {k: opt.state_dict() for k, opt in _optimizers(trainer).items()},
        "log_ent_coef": getattr(algo, "log_ent_coef", None) if not trainer.discrete else None,
        "replay": {**rb.state_arrays(), "pos": int(rb.pos), "full": bool(rb.full)},
        "counters": {
            "num_timesteps": int(algo.num_timesteps),
            "n_calls": int(getattr(algo, "_n_calls", 0)),  # DQN's target-update clock (SAC has none)
            "n_updates": int(algo._n_updates),
        },
        "rng": trainer.rng.bit_generator.state,
        "history": trainer.history,
    }
    if _with_reward(type(trainer)):
        state["dqn"] = dataclasses.asdict(trainer.dqn_config)  # type: ignore[attr-defined]
        state["reward"] = trainer.reward_state()  # type: ignore[attr-defined]
        state["torch_rng"] = torch.get_rng_state()
    save_state(path, state)


def read_off_policy(path: str | Path, algo: str) -> dict:
    """The state tree of an ``algo`` checkpoint (format and algorithm checked); nothing in it is code."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such checkpoint")
    state = load_state(path)
    if state.get("format") == DAC_CHECKPOINT_FORMAT and algo == "dac":
        raise CheckpointError(
            f"{path}: a DAC checkpoint from before DAC moved onto the shared off-policy learner (its own replay "
            "buffer and layout); it cannot be resumed: start over with --force"
        )
    if state.get("format") != FORMAT or state.get("version") not in VERSIONS:
        raise CheckpointError(f"{path}: field 'format' is {state.get('format')!r}; not a genplay {algo} checkpoint")
    if state.get("algo") != algo:
        have = state.get("algo")
        raise CheckpointError(f"{path}: field 'algo' is {have!r}; resume it with --algo {have}")
    return state


def stored_config(state: dict, config_cls: type[OffPolicyConfig], path: str | Path) -> OffPolicyConfig:
    """The stored config as ``config_cls`` (each field checked by its ``__post_init__``)."""
    try:
        data = dict(state["config"])
        data["net_arch"] = tuple(data["net_arch"])
        return config_cls(**data)
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: field 'config' is not a valid {config_cls.__name__} ({exc})") from None


def stored_settings(state: dict, cls: type[OffPolicyImitation], path: str | Path) -> Any:
    """What ``cls`` is rebuilt from: its stored config, or for DAC the ``(GAILConfig, DACLearnerConfig)`` pair
    (a device this machine lacks becomes ``auto``)."""
    if not _with_reward(cls):
        return stored_config(state, cls.config_class, path)
    from genplay.gail.algos.dac_config import DACLearnerConfig

    config = checkpoint_config(state, path)
    try:
        dqn_data = dict(state["dqn"])
        return config, DACLearnerConfig(**{**dqn_data, "net_arch": tuple(dqn_data["net_arch"])})
    except (TypeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: field 'dqn' is not a valid DQN config ({exc})") from None


def config_differences(stored: Any, new: Any) -> list[str]:
    """``field: old -> new`` for each learning setting that differs (run settings may change on resume);
    DAC's pairs compare both configs (``dqn.``-prefixed for the learner's)."""
    if isinstance(stored, tuple):
        (config, dqn), (new_config, new_dqn) = stored, new
        return gail_config_differences(config, new_config) + [f"dqn.{d}" for d in config_differences(dqn, new_dqn)]
    return [
        f"{f.name}: {getattr(stored, f.name)!r} -> {getattr(new, f.name)!r}"
        for f in dataclasses.fields(stored)
        if f.name not in RUN_FIELDS and getattr(stored, f.name) != getattr(new, f.name)
    ]


def load_off_policy(
    cls: type[OffPolicyImitation],
    path: Path,
    *,
    venv: VecEnv,
    demos: Demos,
    config: Any = None,
    log_dir: str | None = None,
    state: dict | None = None,
) -> OffPolicyImitation:
    """Rebuild the trainer saved at ``path`` on ``venv`` (with ``config``, DAC's a ``(config, dqn)`` pair,
    instead of the stored settings where the stored state fits them; ``state``: the file already read);
    every problem is one ``CheckpointError``."""
    state = state if state is not None else read_off_policy(path, cls.log_key)
    if state.get("env_id") != demos.env_id:
        have = state.get("env_id")
        raise CheckpointError(f"{path}: field 'env_id' is {have!r}, but the demos are for {demos.env_id!r}")
    if state.get("demos_sha256") != demos_fingerprint(demos):
        raise CheckpointError(f"{path}: field 'demos_sha256' does not match these demos; resume with the run's demos")
    stored = stored_settings(state, cls, path)
    changed = config is not None and config != stored
    settings = config if config is not None else stored
    if _with_reward(cls):
        trainer = cls.from_settings(settings, venv=venv, demos=demos, log_dir=log_dir)  # type: ignore[attr-defined]
    else:
        trainer = cls(venv=venv, demos=demos, config=settings, log_dir=log_dir)
    algo, rb = trainer.algo, trainer.algo.replay_buffer
    try:
        check_finite_tree(state["policy"], str(path))
        algo.policy.load_state_dict(state["policy"])
        stored_opts = state["optimizers"]
        for key, opt in _optimizers(trainer).items():
            opt.load_state_dict(stored_opts[key])
        if not trainer.discrete and algo.ent_coef_optimizer is not None:
            with torch.no_grad():
                algo.log_ent_coef.copy_(torch.as_tensor(state["log_ent_coef"]).reshape(algo.log_ent_coef.shape))
        replay = state["replay"]
        rb.load_state_arrays(replay, counter(replay["pos"], "replay.pos"), bool(replay["full"]))
        n_actions = getattr(venv.action_space, "n", None)
        if n_actions is not None and ((rb.actions < 0) | (rb.actions >= n_actions)).any():
            raise ValueError(f"replay actions outside [0, {n_actions})")
        counters = state["counters"]
        algo.num_timesteps = counter(counters["num_timesteps"], "counters.num_timesteps")
        if trainer.discrete:
            algo._n_calls = counter(counters["n_calls"], "counters.n_calls")
        algo._n_updates = counter(counters["n_updates"], "counters.n_updates")
        trainer.rng.bit_generator.state = state["rng"]
        trainer.history = list(state["history"])
        if _with_reward(cls):
            trainer.load_reward_state(state["reward"])  # type: ignore[attr-defined]
            torch.set_rng_state(state["torch_rng"])
    except CheckpointError as exc:
        raise CheckpointError(f"{path}: {exc}") from None
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        msg = " ".join(str(exc).split())[:200]
        if changed:  # a valid checkpoint, forced onto settings whose shapes differ (buffer size, net_arch, ...)
            raise CheckpointError(
                f"{path}: the stored state does not fit the changed settings ({msg}); resume with the run's sizes, "
                "or start over with --force and no --resume"
            ) from None
        raise CheckpointError(
            f"{path}: the stored state does not fit these settings or is malformed ({type(exc).__name__}: {msg})"
        ) from None
    return trainer
