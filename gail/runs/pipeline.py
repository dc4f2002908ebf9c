"""End-to-end jobs shared by the CLI and the benchmark scripts.

``train_gail`` is the one place that turns (env id, demos, config, output dir) into a
trained, checkpointed, logged run; ``run_demo`` is the embedded default job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import textwrap
from pathlib import Path

from sb3_contrib.common.maskable.utils import is_masking_supported
from stable_baselines3.common.callbacks import BaseCallback, CallbackList

from genplay.envs import EnvFactory, as_factory
from genplay.envs.boardgames import game_of
from genplay.errors import CheckpointError, EnvError
from genplay.gail.algos.board_training import bc_regulariser, board_run_setup, masked_generator
from genplay.gail.algos.config import BCConfig, GAILConfig, config_differences, replace
from genplay.gail.algos.gail import GAIL
from genplay.gail.algos.presets import preset
from genplay.gail.data.collect import collect_demos
from genplay.gail.data.demos import Demos, save_demos
from genplay.gail.data.expert_choice import default_expert  # also reached through here by the synth reports
from genplay.gail.data.experts import train_expert
from genplay.gail.evaluation.evaluate import compare, render_table, results_json
from genplay.gail.evaluation.plotting import plot_learning_curve
from genplay.gail.saving.checkpoint import (
    checkpoint_config,
    demos_fingerprint,
    load_trainer,
    read_checkpoint,
)
from genplay.gail.saving.run_files import (
    CHECKPOINT,
    POLICY,
    RUN_MARKERS,
    export_policy,
    set_run_logger,
)
from genplay.generative.core import atomic_write
from genplay.generative.core.distributed import DistContext
from genplay.generative.core.rundir import run_dir_session


def make_demos(env_id: str, n_episodes: int, *, source: str = "expert", seed: int = 0, expert_seed: int = 0) -> Demos:
    """Demos from the cached PPO expert (trained on first use) or from a uniform-random policy."""
    if source == "random":
        return collect_demos(env_id, "random", n_episodes, seed=seed, metadata={"policy": "random"})
    expert = train_expert(env_id, seed=expert_seed)
    return collect_demos(env_id, expert, n_episodes, seed=seed, metadata={"policy": f"ppo-expert-seed{expert_seed}"})


def train_gail(
    env: str | EnvFactory,
    demos: Demos,
    total_timesteps: int,
    *,
    config: GAILConfig | None = None,
    out_dir: str | Path | None = None,
    resume: bool = False,
    force: bool = False,
    progress_bar: bool = False,
    callback: BaseCallback | None = None,
    dist: DistContext | None = None,
    shard_demos: bool = False,
    trainer_class: type[GAIL] = GAIL,
) -> GAIL:
    """Train GAIL on ``env``; with ``out_dir``, checkpoint, log, plot and export the policy there.

    ``out_dir`` is locked for the run (a second run into it is refused, never interleaved).
    A directory that already holds a run is refused unless ``resume`` (continue from its
    checkpoint, up to ``total_timesteps`` in all; logs are appended) or ``force`` (start
    over). On resume, ``config`` (None: the checkpoint's) and the demos must match the
    checkpoint's, except run settings such as the device; ``force`` resumes anyway with
    the new settings wherever the stored state fits them.

    With ``dist`` (a torchrun rank), every rank calls this with the same arguments: each
    steps its share of the envs with its own seeds, and rank 0 alone locks ``out_dir`` and
    writes there (the checkpoint holds no per-rank state: any number of ranks resumes it).

    ``trainer_class``: a GAIL subclass with another reward model (AIRL, ``gail/algos/airl.py``)
    runs under the same contract; ``config`` must then be its ``config_class``.
    """
    if not isinstance(total_timesteps, int) or isinstance(total_timesteps, bool) or total_timesteps <= 0:
        raise ValueError(f"total_timesteps must be an integer > 0, got {total_timesteps!r}")
    factory = demos.env_factory if isinstance(env, str) and env == demos.env_id else as_factory(env)
    ranks = {"dist": dist, "shard_demos": shard_demos, "cls": trainer_class}
    if out_dir is None:
        trainer = _new_trainer(factory, demos, config or preset(factory.env_id), **ranks)
        return trainer.learn(total_timesteps, callback=_callbacks(trainer, callback), progress_bar=progress_bar)
    out = Path(out_dir)
    main = dist is None or dist.is_main
    # rank 0: the run-dir contract (locked until the run ends; --resume needs a checkpoint; a run that
    # fails before its first checkpoint removes what it added); the other ranks write nothing
    session = run_dir_session(out, RUN_MARKERS, checkpoint=CHECKPOINT, resume=resume, force=force)
    with session if main else contextlib.nullcontext():
        ckpt = out / CHECKPOINT
        resuming = resume and ckpt.exists()
        if resuming:
            trainer = _resume(ckpt, factory, demos, config, force=force, **ranks)
        else:
            trainer = _new_trainer(factory, demos, config or preset(factory.env_id), **ranks)
            for stale in (CHECKPOINT, POLICY, "policy.json", "history.json"):  # starting over: no mixed directory
                if main:
                    (out / stale).unlink(missing_ok=True)
        callback = _callbacks(trainer, callback)  # a resumed run keeps its BC regulariser
        if not main:  # the other ranks train in step with rank 0 and write nothing
            return trainer.learn(total_timesteps, callback=callback)
        set_run_logger(trainer, out / "logs", append=resuming)
        algo = trainer_class.__name__.lower()  # gail, airl: the name `genplay train --algo` resumes it by
        meta = {"algo": algo, "env_id": factory.env_id, "env": factory.to_dict(), **dataclasses.asdict(trainer.config)}
        meta.update(world_size=dist.world_size if dist else 1, backend=dist.backend if dist else None)
        atomic_write(out / "config.json", lambda tmp: Path(tmp).write_text(json.dumps(meta, indent=2)))
        trainer.learn(total_timesteps, callback=callback, progress_bar=progress_bar, checkpoint_path=str(ckpt))
        export_policy(trainer, out)
        title = f"{trainer_class.__name__} on {factory.env_id}"
        plot_learning_curve(trainer.history, out / "learning_curve.png", title=title)
    return trainer


def _new_trainer(
    factory: EnvFactory,
    demos: Demos,
    config: GAILConfig,
    *,
    dist: DistContext | None,
    shard_demos: bool,
    cls: type[GAIL] = GAIL,
) -> GAIL:
    """A fresh trainer: board settings applied (generator env, demo symmetries), and a MaskablePPO
    generator when the env has action masks (``gail.boardgames.masked_generator``), else PPO."""
    factory, demos = board_run_setup(factory, demos, config)
    venv = _rank_venv(factory, config, config.run.seed, dist)
    gen = None
    if is_masking_supported(venv):
        seed = config.run.seed + (dist.rank * venv.num_envs if dist else 0)
        gen = masked_generator(venv, config, game=game_of(factory.env_id), seed=seed)
    elif config.symmetric_policy:
        raise EnvError(f"GAILConfig.symmetric_policy: needs an env with action masks; {factory.env_id} has none")
    return cls(venv=venv, demos=demos, config=config, gen_algo=gen, dist=dist, shard_demos=shard_demos)


def _callbacks(trainer: GAIL, callback: BaseCallback | None) -> BaseCallback | None:
    """``callback`` with the trainer's BC regulariser (``config.bc.reg_steps``) before it."""
    parts = [c for c in (bc_regulariser(trainer), callback) if c is not None]
    return parts[0] if len(parts) == 1 else CallbackList(parts) if parts else None


def _rank_venv(factory: EnvFactory, config: GAILConfig, seed: int, dist: DistContext | None):
    """This rank's share of the ``n_envs`` envs, seeded ``seed + rank * share`` (one process: all, ``seed``)."""
    if dist is None:
        return factory.make_vec(config.run.n_envs, seed=seed)
    from genplay.gail.algos.parallel import check_world_size

    share = config.run.n_envs // check_world_size(config, dist)
    return factory.make_vec(share, seed=seed + dist.rank * share)


def _resume(
    ckpt: Path,
    factory: EnvFactory,
    demos: Demos,
    config: GAILConfig | None,
    *,
    force: bool,
    dist: DistContext | None = None,
    shard_demos: bool = False,
    cls: type[GAIL] = GAIL,
) -> GAIL:
    """The trainer of ``ckpt``, refusing changed settings or demos unless ``force``."""
    state = read_checkpoint(ckpt)
    stored = checkpoint_config(state, ckpt, cls.config_class)
    if state["env_id"] != demos.env_id:
        raise CheckpointError(f"{ckpt}: field 'env_id' is {state['env_id']!r}, but the demos are for {demos.env_id!r}")
    problems = []
    if config is None:
        config = stored
    else:
        diff = config_differences(stored, config)
        if diff:
            problems.append("settings differ: " + "; ".join(diff))
    factory, demos = board_run_setup(factory, demos, config)  # the env and demos as the run trains on them
    if state.get("demos_sha256") != demos_fingerprint(demos):
        problems.insert(0, "the demos differ from the ones it was trained on")
    if problems and not force:
        raise CheckpointError(f"{ckpt}: cannot resume: {'; '.join(problems)} (pass --force to resume anyway)")
    venv = _rank_venv(factory, config, config.run.seed + 1, dist)  # fresh episodes
    ranks = {"dist": dist, "shard_demos": shard_demos}
    return load_trainer(cls, ckpt, venv=venv, demos=demos, log_dir=None, config=config, state=state, **ranks)


def save_run(trainer: GAIL, out_dir: str | Path) -> Path:
    """A GAIL trainer built in Python written as the run directory ``genplay gail train --out`` writes."""
    trainer.save(out_dir)
    return Path(out_dir)


BC_EPOCH_SAMPLES = 8192
"""The BC baseline's epoch covers at least this many demo rows (small demo sets are passed over repeatedly)."""


def behaviour_cloning(env: str | EnvFactory, demos: Demos, config: GAILConfig) -> GAIL:
    """The BC baseline: a generator policy trained by BC alone (early-stopped), no GAIL step taken.

    Built as a GAIL trainer so that it sees exactly the inputs (observation scaling,
    policy class) that GAIL's generator starts from; ``predict`` works as for GAIL.
    Its budget counts samples, not passes: ``bc_epochs`` and ``bc_patience`` are multiplied
    so that an epoch covers at least :data:`BC_EPOCH_SAMPLES` rows, and early stopping on
    held-out episodes decides when it ends. Counted in passes, the 200 pairs of the demo
    job were one minibatch step an epoch, at most 100 steps, and BC stopped unfitted.
    """
    factory = as_factory(env)
    passes = max(1, math.ceil(BC_EPOCH_SAMPLES / demos.n_transitions))
    epochs = (config.bc.epochs or BCConfig().epochs) * passes
    bc_config = replace(config, bc_epochs=epochs, bc_patience=config.bc.patience * passes)
    if bc_config.ppo.batch_size > bc_config.ppo.n_steps:  # one env here: a PPO batch past its buffer makes SB3 warn
        bc_config = dataclasses.replace(
            bc_config, ppo=dataclasses.replace(bc_config.ppo, batch_size=bc_config.ppo.n_steps)
        )
    trainer = GAIL(venv=factory.make_vec(1, seed=config.run.seed), demos=demos, config=bc_config)
    stats = trainer.pretrain_bc()
    trainer.history.append({"timesteps": 0, **{k: float(v) for k, v in stats.items()}})
    return trainer


def run_demo(
    *,
    env_id: str = "Pendulum-v1",
    n_demo: int = 20,
    subsample: int = 20,
    timesteps: int = 150_000,
    out_dir: str | Path = "runs/demo",
    seed: int = 0,
    n_eval_episodes: int = 50,
) -> str:
    """The embedded default job: expert -> demos -> BC and GAIL -> evaluation table + plot.

    The default is the GAIL paper's setting (Ho & Ermon 2016, sec. 6) on Pendulum swing-up:
    20 episodes of a scripted expert with one transition in ``subsample`` = 20 kept
    (:meth:`Demos.subsample`), 200 state-action pairs. BC alone learns from those pairs only
    and falls well short of the expert; GAIL also acts in the env until its own state-action
    distribution matches the expert's, and reaches it (``scripts/bench_demo.py`` measures
    both; ``subsample=1`` keeps every transition, where BC alone reaches it too).
    """
    out = Path(out_dir)
    print(f"[1/5] expert for {env_id}", flush=True)
    expert, kind = default_expert(env_id)
    print(f"[2/5] collecting {n_demo} demos from the {kind} expert", flush=True)
    demos = collect_demos(env_id, expert, n_demo, seed=30_000 + seed, metadata={"policy": kind})
    if subsample != 1:
        n_full = demos.n_transitions
        demos = demos.subsample(subsample, offset_seed=seed)
        print(f"      keeping one transition in {subsample}: {demos.n_transitions} of {n_full}", flush=True)
    save_demos(out / "demos.npz", demos)
    config = replace(preset(env_id), seed=seed)
    print("[3/5] behaviour cloning alone (the baseline)", flush=True)
    bc = behaviour_cloning(env_id, demos, config)
    print(f"[4/5] GAIL for {timesteps} generator steps", flush=True)
    # the demo job is reproducible: running it again starts over in its directory
    trainer = train_gail(env_id, demos, timesteps, config=config, out_dir=out, force=True, progress_bar=True)
    print(f"[5/5] evaluating over {n_eval_episodes} episodes", flush=True)
    results = compare(
        env_id,
        {"GAIL (learned)": trainer, "BC alone": bc},
        expert=expert,
        n_episodes=n_eval_episodes,
        seed=50_000 + seed,
    )
    table = render_table(env_id, results)
    (out / "results.json").write_text(results_json(env_id, results))
    by_name = {r.name: r for r in results}
    png = plot_learning_curve(
        trainer.history,
        out / "learning_curve.png",
        title=f"GAIL on {env_id} from {demos.n_transitions} {kind} transitions ({n_demo} episodes)",
        expert_return=by_name["expert"].mean,
        random_return=by_name["random"].mean,
        bc_return=by_name["BC alone"].mean,
    )
    bc_score, gail_score = by_name["BC alone"].normalized, by_name["GAIL (learned)"].normalized
    why = (
        f"From {demos.n_transitions} expert state-action pairs, BC alone gets {bc_score:.2f} of the way from the "
        f"random policy's return to the expert's (the normalised column) and GAIL {gail_score:.2f}. BC fits the "
        "pairs it was given and drifts where they are sparse; GAIL acts in the env itself until its "
        "state-action distribution matches the expert's."
    )
    paths = f"results: {out / 'results.json'}\nplot: {png}\nTensorBoard: tensorboard --logdir {out / 'logs'}"
    return f"{table}\n{textwrap.fill(why, 88)}\n{paths}"
