"""``train_bc``: behaviour cloning as a run of its own, with the run-directory contract.

BC is one early-stopped fit (``GAIL.pretrain_bc``, i.e. ``algos/bc.behaviour_clone`` on the
policy GAIL's generator would start from), so that BC, GAIL and every other algorithm are
compared on the same policy class and observation scaling. Its run directory holds what
every algorithm's does (``config.json``, ``checkpoint.pt``, ``policy.zip`` that SB3 loads
alone, ``history.json``, the plot); ``--resume`` on a finished fit loads it and stops.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

from genplay.envs import EnvFactory, as_factory
from genplay.gail.algos.config import GAILConfig
from genplay.gail.algos.gail import GAIL
from genplay.gail.algos.presets import preset
from genplay.gail.data.demos import Demos
from genplay.gail.evaluation.plotting import plot_learning_curve
from genplay.gail.runs.pipeline import behaviour_cloning
from genplay.gail.saving.run_files import CHECKPOINT, POLICY, RUN_MARKERS, export_policy
from genplay.generative.core import atomic_write, set_torch_threads
from genplay.generative.core.rundir import run_dir_session


def train_bc(
    env: str | EnvFactory,
    demos: Demos,
    total_timesteps: int = 0,
    *,
    config: GAILConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress_bar: bool = False,
) -> GAIL:
    """Fit BC on ``demos`` (``config``'s ``bc_*`` settings; None: the env's preset); no env steps are
    taken, so ``total_timesteps`` is accepted for the shared signature and unused."""
    factory = demos.env_factory if isinstance(env, str) and env == demos.env_id else as_factory(env)
    config = config or preset(factory.env_id)
    set_torch_threads(config.run.torch_threads)
    if out_dir is None:
        return behaviour_cloning(factory, demos, config)
    out = Path(out_dir)
    with run_dir_session(out, RUN_MARKERS, checkpoint=CHECKPOINT, resume=resume, force=force):
        ckpt = out / CHECKPOINT
        if resume and ckpt.exists():
            return GAIL.load(str(ckpt), venv=factory.make_vec(1, seed=config.run.seed), demos=demos)
        trainer = behaviour_cloning(factory, demos, config)
        meta = {"algo": "bc", "env_id": factory.env_id, "env": factory.to_dict(), **dataclasses.asdict(config)}
        atomic_write(out / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
        trainer.save_checkpoint(ckpt)
        (out / POLICY).unlink(missing_ok=True)
        export_policy(trainer, out)
        plot_learning_curve(trainer.history, out / "learning_curve.png", title=f"BC on {factory.env_id}")
    return trainer
