"""``train_dagger``: DAgger's run in an output directory, with the contract of ``train_gail``.

The directory is locked for the run; ``checkpoint.pt`` (the safe format: the policy, the aggregated
data set, the round counter and the expert-query count) is written atomically after every round, so
``--resume`` continues after a kill with the next round; ``config.json``, ``history.json``,
``learning_curve.png`` and a ``policy.zip`` that SB3 loads alone (``MaskablePPO.load`` for board
games, ``PPO.load`` otherwise) are written at the end.
"""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from genplay.envs import EnvFactory, as_factory
from genplay.errors import CheckpointError
from genplay.gail.algos.dagger import DAgger, Dataset
from genplay.gail.algos.dagger_config import DAggerConfig, dagger_preset, stored_config
from genplay.gail.data.demos import Demos
from genplay.gail.evaluation.plotting import plot_learning_curve
from genplay.gail.runs.pipeline import CHECKPOINT, POLICY, RUN_MARKERS, export_policy
from genplay.gail.saving.checkpoint import demos_fingerprint
from genplay.generative.core import atomic_write, set_torch_threads
from genplay.generative.core.rundir import run_dir_session
from genplay.generative.core.state_io import load_state


def train_dagger(
    env: str | EnvFactory,
    demos: Demos | None,
    total_timesteps: int,
    *,
    config: DAggerConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress_bar: bool = False,
    expert: str | Callable | None = None,
) -> DAgger:
    """Train DAgger on ``env`` for ``total_timesteps`` rollout env steps; ``config`` defaults to
    :func:`dagger_preset`, ``expert`` (a spec or batched callable) to ``config.expert``.

    With ``out_dir``: a directory holding a run is refused unless ``resume`` (continue from its
    checkpoint; changed settings or demos are refused unless ``force``) or ``force`` (start over).
    """
    if not isinstance(total_timesteps, int) or isinstance(total_timesteps, bool) or total_timesteps <= 0:
        raise ValueError(f"total_timesteps must be an integer > 0, got {total_timesteps!r}")
    if demos is not None and isinstance(env, str) and env == demos.env_id:
        factory = demos.env_factory
    else:
        factory = as_factory(env)
    given = config
    config = config or dagger_preset(factory.env_id)
    set_torch_threads(config.torch_threads)
    if out_dir is None:
        trainer = _new(factory, demos, config, expert)
        return trainer.learn(total_timesteps, progress_bar=progress_bar)
    out = Path(out_dir)
    with run_dir_session(out, RUN_MARKERS, checkpoint=CHECKPOINT, resume=resume, force=force):
        ckpt = out / CHECKPOINT
        if resume and ckpt.exists():
            trainer = DAgger.load(ckpt, venv=None, demos=demos, config=given, expert=expert, factory=factory,
                                  force=force)  # fmt: skip
        else:
            for stale in (CHECKPOINT, POLICY, "history.json"):
                (out / stale).unlink(missing_ok=True)
            trainer = _new(factory, demos, config, expert)
        meta = {"algo": "dagger", "env_id": factory.env_id, "env": factory.to_dict()}
        meta.update(dataclasses.asdict(trainer.config))
        atomic_write(out / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
        trainer.learn(total_timesteps, checkpoint_path=str(ckpt), progress_bar=progress_bar)
        export_dagger_policy(trainer, out)
    return trainer


def _new(factory: EnvFactory, demos: Demos | None, config: DAggerConfig, expert: Any) -> DAgger:
    venv = factory.make_vec(config.n_envs, seed=config.seed)
    return DAgger(venv=venv, demos=demos, config=config, expert=expert, factory=factory)


def export_dagger_policy(trainer: DAgger, out: Path) -> None:
    """``policy.zip`` (the scaling inside the network), ``history.json`` and the learning curve, through
    ``pipeline.export_policy`` (which reads the env from ``trainer.demos``: given here for zero demos)."""
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
