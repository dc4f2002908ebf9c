"""End-to-end jobs shared by the CLI and the benchmark scripts.

``train_gail`` is the one place that turns (env id, demos, config, output dir) into a
trained, checkpointed, logged run; ``run_demo`` is the embedded default job.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

from genplay.envs import EnvFactory, as_factory
from genplay.errors import CheckpointError
from genplay.gail.checkpoint import config_from_dict
from genplay.gail.config import GAILConfig, preset
from genplay.gail.demos import Demos, PolicyFn, as_policy_fn, collect_demos, save_demos
from genplay.gail.evaluate import compare, render_table, results_json
from genplay.gail.experts import train_expert
from genplay.gail.plotting import plot_learning_curve
from genplay.gail.trainer import GAIL
from genplay.generative.core import atomic_write

CHECKPOINT = "checkpoint.pt"
POLICY = "policy.zip"


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
    progress_bar: bool = False,
    callback: BaseCallback | None = None,
) -> GAIL:
    """Train GAIL on ``env_id``; with ``out_dir``, checkpoint, log and export the policy there.

    With ``resume`` and a checkpoint in ``out_dir``, training continues from it (its
    config wins over ``config``) up to ``total_timesteps`` in all.
    """
    factory = demos.env_factory if isinstance(env, str) and env == demos.env_id else as_factory(env)
    env_id = factory.env_id
    config = config or preset(env_id)
    out = Path(out_dir) if out_dir is not None else None
    ckpt = out / CHECKPOINT if out is not None else None
    if resume and ckpt is not None and ckpt.exists():
        from genplay.gail.checkpoint import read_checkpoint

        config = config_from_dict(read_checkpoint(ckpt)["config"])
        venv = factory.make_vec(config.n_envs, seed=config.seed + 1)  # fresh episodes
        trainer = GAIL.load(str(ckpt), venv=venv, demos=demos, log_dir=str(out / "logs"))
    else:
        venv = factory.make_vec(config.n_envs, seed=config.seed)
        trainer = GAIL(venv=venv, demos=demos, config=config, log_dir=str(out / "logs") if out else None)
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text(
            json.dumps({"env_id": env_id, "env": factory.to_dict(), **dataclasses.asdict(config)}, indent=2)
        )
    trainer.learn(
        total_timesteps,
        callback=callback,
        progress_bar=progress_bar,
        checkpoint_path=str(ckpt) if ckpt is not None else None,
    )
    if out is not None:
        export_policy(trainer, out)
    return trainer


def export_policy(trainer: GAIL, out: Path) -> None:
    """Write the policy alone (SB3 zip + observation scaling) for ``load_policy``."""
    import io

    blob = io.BytesIO()
    trainer.gen_algo.save(blob)
    atomic_write(out / POLICY, lambda tmp: Path(tmp).write_bytes(blob.getvalue()))
    norm = trainer.policy_obs_norm
    meta: dict[str, Any] = {"normalize_obs": norm is not None}
    if norm is not None:
        meta.update(mean=norm.obs_rms.mean.tolist(), var=norm.obs_rms.var.tolist(), clip=norm.clip_obs)
    (out / "policy.json").write_text(json.dumps(meta))
    (out / "history.json").write_text(json.dumps(trainer.history))


def load_policy(run_dir: str | Path, *, deterministic: bool = True, env_id: str | None = None) -> PolicyFn:
    """A batched policy from a ``gail train`` output directory (or a bare SB3 zip).

    With ``env_id``, the policy's spaces must match that env's.
    """
    path = Path(run_dir)
    zip_path = path / POLICY if path.is_dir() else path
    if not zip_path.exists():
        raise CheckpointError(f"{zip_path}: no trained policy here (expected the output dir of `genplay gail train`)")
    try:
        model = PPO.load(zip_path, device="cpu")
    except Exception as exc:
        raise CheckpointError(f"{zip_path}: not a readable SB3 policy ({type(exc).__name__}: {exc})") from None
    if env_id is not None:
        from genplay.envs import make_env
        from genplay.gail.demos import describe_space, space_mismatch

        env = make_env(env_id)
        for name, mine, theirs in (
            ("observation_space", model.observation_space, env.observation_space),
            ("action_space", model.action_space, env.action_space),
        ):
            why = space_mismatch(describe_space(mine), describe_space(theirs))
            if why:
                raise CheckpointError(f"{zip_path}: the policy's {name} is {why} for env {env_id}")
        env.close()
    act = as_policy_fn(model, deterministic=deterministic)
    meta_path = zip_path.parent / "policy.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {"normalize_obs": False}
    if not meta["normalize_obs"]:
        return act
    mean, std, clip = np.asarray(meta["mean"]), np.sqrt(np.asarray(meta["var"]) + 1e-8), meta["clip"]
    return lambda obs: act(np.clip((obs - mean) / std, -clip, clip).astype(np.float32))


def behaviour_cloning(env: str | EnvFactory, demos: Demos, config: GAILConfig) -> GAIL:
    """The BC baseline: a generator policy trained by BC alone (early-stopped), no GAIL step taken.

    Built as a GAIL trainer so that it sees exactly the inputs (observation scaling,
    policy class) that GAIL's generator starts from; ``predict`` works as for GAIL.
    """
    factory = as_factory(env)
    bc_config = dataclasses.replace(config, bc_epochs=config.bc_epochs or GAILConfig().bc_epochs)
    trainer = GAIL(venv=factory.make_vec(1, seed=config.seed), demos=demos, config=bc_config)
    trainer.pretrain_bc()
    return trainer


def default_expert(env_id: str) -> tuple[Any, str]:
    """A scripted expert where genplay has one (no training), else the cached PPO expert."""
    from genplay.envs.scripted import SCRIPTED_EXPERTS

    if env_id in SCRIPTED_EXPERTS:
        return SCRIPTED_EXPERTS[env_id], "scripted"
    return train_expert(env_id), "ppo-expert"


def run_demo(
    *,
    env_id: str = "Pendulum-v1",
    n_demo: int = 20,
    timesteps: int = 150_000,
    out_dir: str | Path = "runs/demo",
    seed: int = 0,
    n_eval_episodes: int = 50,
) -> str:
    """The embedded default job: expert -> demos -> BC and GAIL -> evaluation table + plot.

    The default task is Pendulum swing-up from a scripted expert: BC alone on 20 demos
    stays far from the expert there, so the table shows what the adversarial step adds.
    """
    out = Path(out_dir)
    print(f"[1/5] expert for {env_id}", flush=True)
    expert, kind = default_expert(env_id)
    print(f"[2/5] collecting {n_demo} demos from the {kind} expert", flush=True)
    demos = collect_demos(env_id, expert, n_demo, seed=30_000 + seed, metadata={"policy": kind})
    save_demos(out / "demos.npz", demos)
    config = dataclasses.replace(preset(env_id), seed=seed)
    print("[3/5] behaviour cloning alone (the baseline)", flush=True)
    bc = behaviour_cloning(env_id, demos, config)
    print(f"[4/5] GAIL for {timesteps} generator steps", flush=True)
    trainer = train_gail(env_id, demos, timesteps, config=config, out_dir=out, progress_bar=True)
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
        title=f"GAIL on {env_id} from {n_demo} {kind} demos",
        expert_return=by_name["expert"].mean,
        random_return=by_name["random"].mean,
        bc_return=by_name["BC alone"].mean,
    )
    return f"{table}\nresults: {out / 'results.json'}\nplot: {png}\nTensorBoard: tensorboard --logdir {out / 'logs'}"
