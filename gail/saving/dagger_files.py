"""DAgger's run files: the exported policy and curve, and a trainer rebuilt from its checkpoint.

Below ``algos/dagger.py`` in the import graph: the trainer's class is passed in, never imported.
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from genplay.envs import EnvFactory
from genplay.errors import CheckpointError
from genplay.gail.algos.dagger_config import DAggerConfig, stored_config
from genplay.gail.data.aggregate import Dataset
from genplay.gail.data.demos import Demos
from genplay.gail.evaluation.plotting import plot_learning_curve
from genplay.gail.saving.checkpoint import demos_fingerprint
from genplay.gail.saving.run_files import export_policy
from genplay.generative.core.state_io import load_state

if TYPE_CHECKING:
    from genplay.gail.algos.dagger import DAgger


def export_dagger_policy(trainer: DAgger, out: Path) -> None:
    """``policy.zip`` (the scaling inside the network), ``history.json`` and the learning curve, through
    ``run_files.export_policy`` (which reads the env from ``trainer.demos``: given here for zero demos)."""
    view = types.SimpleNamespace(
        sb3_algorithm=trainer.algo,
        policy_obs_norm=trainer.policy_obs_norm,
        demos=types.SimpleNamespace(env_factory=trainer.factory),
        history=trainer.history,
    )
    export_policy(view, out)
    curve = [{"timesteps": h["timesteps"], "true_return": h["episode_return"]} for h in trainer.history
             if "episode_return" in h]  # fmt: skip
    if curve:
        plot_learning_curve(curve, out / "learning_curve.png", title=f"DAgger on {trainer.factory.env_id}")


def restore_dagger(
    cls: type[DAgger],
    ckpt: Path,
    *,
    venv: Any,
    demos: Demos | None,
    config: DAggerConfig | None,
    expert: str | Callable | None,
    factory: EnvFactory | None,
    state: dict | None = None,
    force: bool = False,
) -> DAgger:
    """The trainer stored in ``ckpt``; ``config`` (None: the stored one) and the demos must be the
    stored ones unless ``force``. ``venv`` None: built from the factory and the config."""
    state = state if state is not None else load_state(ckpt)
    stored = stored_config(state, ckpt)
    problems = []
    if config is not None and config != stored:
        names = [f.name for f in dataclasses.fields(DAggerConfig) if getattr(stored, f.name) != getattr(config, f.name)]
        diff = [f"{n}: {getattr(stored, n)!r} -> {getattr(config, n)!r}" for n in names]
        problems.append("settings differ: " + "; ".join(diff))
    if state.get("demos_sha256") != (None if demos is None else demos_fingerprint(demos)):
        problems.insert(0, "the demos differ from the ones it was trained on")
    if problems and not force:
        raise CheckpointError(f"{ckpt}: cannot resume: {'; '.join(problems)} (pass --force to resume anyway)")
    config = config or stored
    if factory is None:
        factory = demos.env_factory if demos is not None else EnvFactory.from_dict(state["env"])
    venv = venv if venv is not None else factory.make_vec(config.n_envs, seed=config.seed)
    trainer = cls(venv=venv, demos=demos, config=config, expert=expert, factory=factory)
    try:
        trainer.algo.policy.load_state_dict(state["policy"])
        trainer.round, trainer.num_timesteps = int(state["round"]), int(state["num_timesteps"])
        trainer.expert_queries, trainer.steps_per_round = int(state["expert_queries"]), int(state["steps_per_round"])
        trainer.rng.bit_generator.state = state["rng"]
        trainer.history = list(state["history"])
        data = state["data"]
        if data is not None:
            masks = None if data["masks"] is None else np.asarray(data["masks"], dtype=bool)
            trainer.data = Dataset(
                np.asarray(data["obs"]), np.asarray(data["acts"]), masks, np.asarray(data["lengths"])
            )
        scaling = state["obs_scaling"]
        if scaling is not None:
            from genplay.gail.learners.rollout import policy_obs_normalizer

            trainer.policy_obs_norm = policy_obs_normalizer(trainer.venv, scaling["mean"], scaling["var"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{ckpt}: the stored state does not fit ({type(exc).__name__}: {exc})") from None
    return trainer
