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
from collections.abc import Callable
from pathlib import Path
from typing import Any

from genplay.envs import EnvFactory, as_factory
from genplay.gail.algos.dagger import DAgger
from genplay.gail.algos.dagger_config import DAggerConfig, dagger_preset
from genplay.gail.data.demos import Demos
from genplay.gail.saving.dagger_files import export_dagger_policy
from genplay.gail.saving.run_files import CHECKPOINT, POLICY, RUN_MARKERS
from genplay.generative.core import atomic_write, set_torch_threads
from genplay.generative.core.rundir import run_dir_session


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
