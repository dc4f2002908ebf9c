#!/usr/bin/env python
"""Pixel imitation on Atari: GAIL's throughput against plain PPO, or learning from scripted-expert demos
(GAIL, DAC, SQIL or IQ-Learn, each from its Atari preset).

Prints one JSON line as its last line.

    python scripts/bench_atari.py --mode throughput              # issue 13, target 1 (Pong)
    python scripts/bench_atari.py --mode learn --game pong       # issue 13, target 2

throughput: GAIL (8 envs, PPO n_steps 128, CnnPolicy) for ``--gen-steps`` generator steps,
then plain PPO with the same settings on the true reward, in the same process; peak RSS
is read after the GAIL run (before PPO runs). learn: ``--n-demo`` scripted-expert games
(cached under ~/.cache/genplay/atari_demos), BC alone, then GAIL for ``--agent-steps``,
evaluated on 10 full games with sticky actions (stochastic and greedy), with the curve
of training-episode returns.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from benchlib import ArgumentParser, add_seed_fanout, emit, fan_out_seeds, peak_rss_mb
from stable_baselines3.common.callbacks import BaseCallback

from genplay.cli_args import int_at_least

_positive = int_at_least(1)


def parse() -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default="pong")
    p.add_argument("--mode", choices=["throughput", "learn"], default="throughput")
    p.add_argument("--n-demo", type=_positive, default=None, help="expert games (default: 20 learn, 2 throughput)")
    p.add_argument(
        "--demo-source",
        choices=["scripted", "planner", "random"],
        default="scripted",
        help="scripted: the imitable expert (acts on what the frames show); planner: the RAM planner",
    )
    p.add_argument("--agent-steps", type=_positive, default=1_000_000)
    p.add_argument("--gen-steps", type=_positive, default=4096, help="throughput mode: generator steps timed")
    p.add_argument("--seed", type=int_at_least(0), default=0)
    p.add_argument("--threads", type=_positive, default=1, help="torch threads")
    p.add_argument("--bc", choices=["none", "warm"], default="none", help="BC warm start of GAIL's policy")
    p.add_argument("--bc-epochs", type=_positive, default=5, help="most epochs of the BC baseline")
    p.add_argument("--eval-games", type=_positive, default=10)
    p.add_argument(
        "--algo",
        choices=["gail", "dac", "sqil", "iq"],
        default="gail",
        help="learn mode: PPO-based GAIL, DAC (DQN learner), SQIL or IQ-Learn (soft-Q learners)",
    )
    p.add_argument("--no-bc-baseline", dest="bc_baseline", action="store_false", help="skip the BC-alone baseline")
    p.add_argument(
        "--wall-budget", type=_positive, default=None, help="learn mode: stop training after this many seconds"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="GAILConfig override (dqn_FIELD: DACLearnerConfig; --algo sqil / iq: their config's fields)",
    )
    p.add_argument("--out", default=None, help="also append the JSON line to this file")
    p.add_argument("--run-dir", default=None, help="learn mode: checkpoints and logs here")
    p.add_argument("--no-save", dest="save", action="store_false", help="learn mode: no checkpoint in the run dir")
    add_seed_fanout(p)
    return p.parse_args()


def demos_for(args, factory):
    from genplay.gail.data.collect import collect_demos
    from genplay.gail.data.demos import load_demos, save_demos
    from genplay.gail.data.experts import cache_dir
    from genplay.gail.suites.atari import scripted_expert_demos

    n = args.n_demo or (20 if args.mode == "learn" else 2)
    label = {"scripted": "imitable"}.get(args.demo_source, args.demo_source)  # older "scripted" files: planner demos
    path = cache_dir() / "atari_demos" / f"{args.game}-{label}-{n}-seed{10_000 + args.seed}.npz"
    if path.exists():
        return load_demos(path), n
    if args.demo_source in ("scripted", "planner"):
        kind = "imitable" if args.demo_source == "scripted" else "planner"
        demos = scripted_expert_demos(factory, n, seed=10_000 + args.seed, progress=True, kind=kind)
    else:
        demos = collect_demos(factory, "random", n, seed=10_000 + args.seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_demos(path, demos)
    return demos, n


def _overrides(args) -> dict:
    overrides = {}
    for item in args.set:
        key, _, text = item.partition("=")
        try:
            value = json.loads(text)
        except json.JSONDecodeError:
            value = text
        overrides[key.replace("-", "_")] = tuple(value) if isinstance(value, list) else value
    return overrides


def gail_config(args):
    """The run's GAILConfig: the Atari preset (DAC's for --algo dac), then the --set overrides."""
    from genplay.gail.algos.config import atari_preset, replace

    overrides = {k: v for k, v in _overrides(args).items() if not k.startswith("dqn_")}
    if args.algo in ("sqil", "iq"):
        overrides = {}  # their --set fields are the off-policy config's (off_policy_config); BC uses GAIL's preset
    if args.algo == "dac":
        from genplay.gail.algos.dac_config import dac_atari_preset

        base = dac_atari_preset(args.game)[0]
    else:
        base = atari_preset(args.game)
    return replace(base, seed=args.seed, torch_threads=args.threads, **overrides)


def off_policy_config(args, factory):
    """SQIL's or IQ-Learn's config: the family's preset for the game (``off_policy_presets``), the seed and
    threads, then the --set overrides (each field checked by the config)."""
    import dataclasses

    from genplay.gail.algos.off_policy_presets import iq_preset, sqil_preset

    base = (sqil_preset if args.algo == "sqil" else iq_preset)(factory.env_id)
    return dataclasses.replace(base, seed=args.seed, torch_threads=args.threads, **_overrides(args))


def make_trainer(args, factory, demos, config, ckpt: str | None, log_dir: str | None):
    """The learner of ``--algo``, resumed from ``ckpt`` where one exists."""
    resume = bool(ckpt and Path(ckpt).exists())
    if args.algo in ("sqil", "iq"):
        from genplay.gail.algos.iq_learn import IQLearn
        from genplay.gail.algos.sqil import SQIL

        cls, cfg = SQIL if args.algo == "sqil" else IQLearn, off_policy_config(args, factory)
        venv = factory.make_vec(cfg.n_envs, seed=args.seed)
        return (
            cls.load(ckpt, venv=venv, demos=demos)
            if resume
            else cls(venv=venv, demos=demos, config=cfg, log_dir=log_dir)
        )
    venv = factory.make_vec(config.run.n_envs, seed=args.seed)
    if args.algo == "dac":
        from genplay.gail.algos.dac import DAC

        if resume:
            return DAC.load(ckpt, venv=venv, demos=demos)
        return DAC(venv=venv, demos=demos, config=config, dqn=dqn_config(args), log_dir=log_dir)
    from genplay.gail.algos.gail import GAIL

    if resume:
        return GAIL.load(ckpt, venv=venv, demos=demos, log_dir=log_dir)
    return GAIL(venv=venv, demos=demos, config=config, log_dir=log_dir)


def dqn_config(args):
    """DAC's DACLearnerConfig: the Atari preset's, then the --set dqn_FIELD overrides."""
    import dataclasses

    from genplay.gail.algos.dac_config import dac_atari_preset

    overrides = {k[4:]: v for k, v in _overrides(args).items() if k.startswith("dqn_")}
    return dataclasses.replace(dac_atari_preset(args.game)[1], **overrides)


def throughput(args, factory, demos, n_demo) -> dict:
    import torch
    from stable_baselines3 import PPO

    from genplay.gail.algos.gail import GAIL

    config = replace_ckpt(gail_config(args))
    trainer = GAIL(venv=factory.make_vec(config.run.n_envs, seed=args.seed), demos=demos, config=config)
    trainer.learn(config.ppo.n_steps * config.run.n_envs)  # warm-up rollout (allocations, first update)
    t0 = time.perf_counter()
    trainer.learn(trainer.num_timesteps + args.gen_steps)
    gail_sps = args.gen_steps / (time.perf_counter() - t0)
    rss = peak_rss_mb()
    torch.manual_seed(args.seed)
    kwargs = config.ppo.sb3_kwargs()
    ppo = PPO("CnnPolicy", factory.make_vec(config.run.n_envs, seed=args.seed), seed=args.seed, verbose=0, **kwargs)
    ppo.learn(config.ppo.n_steps * config.run.n_envs)
    t0 = time.perf_counter()
    ppo.learn(args.gen_steps, reset_num_timesteps=False)
    ppo_sps = args.gen_steps / (time.perf_counter() - t0)
    return {
        "env_steps_per_second": round(gail_sps, 1),
        "ppo_env_steps_per_second": round(ppo_sps, 1),
        "time_ratio_vs_ppo": round(ppo_sps / gail_sps, 3),
        "peak_rss_mb": rss,
        "gen_steps": args.gen_steps,
        "n_envs": config.run.n_envs,
        "n_steps": config.ppo.n_steps,
        "n_demo": n_demo,
        "demo_transitions": demos.n_transitions,
        "demo_frames_mb": round(demos.obs.nbytes / 2**20, 1),
    }


def replace_ckpt(config):
    from genplay.gail.algos.config import replace

    return replace(config, checkpoint_every=0, bc_epochs=0)


def evaluate(factory, policy, n_games: int, seed: int, deterministic: bool) -> list[float]:
    from genplay.gail.evaluation.evaluate import episode_returns

    return [float(r) for r in episode_returns(factory, policy, n_games, seed=seed, deterministic=deterministic)]


def measure_baselines(args, factory, demos, config, run_dir: Path | None) -> dict:
    """Expert (the demos' scores), random and BC alone on the evaluation seeds; cached in the run dir."""
    from genplay.gail.algos.config import replace
    from genplay.gail.runs.pipeline import behaviour_cloning
    from genplay.gail.suites.atari import evaluation_factory

    baselines_file = run_dir / "baselines.json" if run_dir else None
    if baselines_file is not None and baselines_file.exists():  # a resumed run: BC and random were measured
        return json.loads(baselines_file.read_text())
    eval_factory, eval_seed = evaluation_factory(factory), 50_000 + args.seed
    expert_scores = demos.metadata.get("scores") or demos.episode_returns().tolist()
    random_scores = evaluate(eval_factory, "random", args.eval_games, eval_seed, False)
    if args.bc_baseline:
        # BC alone: the same centred CNN policy, cloned on the demos (early-stopped on held-out games).
        t0 = time.perf_counter()
        bc = behaviour_cloning(factory, demos, replace(config, bc_epochs=args.bc_epochs, bc_patience=2))
        bc_seconds = time.perf_counter() - t0
        bc_mean = round(float(np.mean(evaluate(eval_factory, bc, args.eval_games, eval_seed, False))), 2)
        del bc
    else:
        bc_mean, bc_seconds = None, 0.0
    baselines = {
        "bc_return_mean": bc_mean,
        "bc_seconds": round(bc_seconds, 1),
        "expert_return": round(float(np.mean(expert_scores)), 2),
        "random_return": round(float(np.mean(random_scores)), 2),
    }
    if baselines_file is not None:
        run_dir.mkdir(parents=True, exist_ok=True)
        baselines_file.write_text(json.dumps(baselines))
    return baselines


def learn(args, factory, demos, n_demo) -> dict:
    import torch

    from genplay.gail.algos.config import replace
    from genplay.gail.suites.atari import evaluation_factory

    config = gail_config(args)
    eval_factory = evaluation_factory(factory)
    eval_seed = 50_000 + args.seed
    run_dir = Path(args.run_dir) if args.run_dir else None
    baselines = measure_baselines(args, factory, demos, config, run_dir)

    torch.manual_seed(args.seed)
    config = replace(config, bc_epochs=args.bc_epochs if args.bc == "warm" else 0, bc_patience=2)
    ckpt = str(run_dir / "checkpoint") if run_dir and args.save else None
    log_dir = str(run_dir / "logs") if run_dir else None
    trainer = make_trainer(args, factory, demos, config, ckpt, log_dir)
    start = trainer.num_timesteps
    if start:
        print(f"resuming from {ckpt} at {start} steps", flush=True)
    t0 = time.perf_counter()
    deadline = WallClock(args.wall_budget) if args.wall_budget else None
    trainer.learn(args.agent_steps, checkpoint_path=ckpt, progress_bar=True, callback=deadline)
    wall = time.perf_counter() - t0
    curve = [
        [h["timesteps"], round(h["true_return"], 2)]
        for h in trainer.history[:: max(1, len(trainer.history) // 60)]
        if "true_return" in h
    ]
    if run_dir is not None:
        from genplay.gail.evaluation.plotting import plot_learning_curve

        plot_learning_curve(
            trainer.history,
            run_dir / "learning_curve.png",
            title=f"pixel {args.algo.upper()} on {args.game}",
            expert_return=baselines["expert_return"],
            random_return=baselines["random_return"],
            bc_return=baselines["bc_return_mean"],
        )
    stochastic = evaluate(eval_factory, trainer, args.eval_games, eval_seed, False)
    greedy = evaluate(eval_factory, trainer, args.eval_games, eval_seed, True)
    return {
        "learned_return_mean": round(float(np.mean(stochastic)), 2),
        "learned_return_greedy_mean": round(float(np.mean(greedy)), 2),
        "learned_returns": stochastic,
        **baselines,
        "agent_steps": trainer.num_timesteps,
        "gail_wall_seconds": round(wall, 1),
        "env_steps_per_second": round((trainer.num_timesteps - start) / wall, 1)
        if trainer.num_timesteps > start
        else None,
        "resumed_from": start or None,
        "n_demo": n_demo,
        "demo_transitions": demos.n_transitions,
        "bc_warm_start": args.bc == "warm",
        "algo": args.algo,
        "stopped_by_wall_budget": bool(deadline and deadline.expired),
        "curve": curve,
        "peak_rss_mb": peak_rss_mb(),
    }


class WallClock(BaseCallback):
    """Stops training once ``seconds`` have passed (a run sized to a time budget, e.g. a lent GPU)."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.deadline, self.expired = time.perf_counter() + seconds, False

    def _on_step(self) -> bool:
        self.expired = time.perf_counter() > self.deadline
        return not self.expired


def main() -> None:
    args = parse()
    if fan_out_seeds(args):
        return
    import torch

    torch.set_num_threads(args.threads)
    from genplay.errors import GenplayError
    from genplay.gail.suites.atari import atari_factory

    try:
        factory = atari_factory(args.game)
        rows = gail_config(args).reward.disc_hide_top_rows  # every --set is checked before any work
        if rows >= factory.atari_config.screen_size:
            raise ValueError(f"--set disc_hide_top_rows={rows}: frames have {factory.atari_config.screen_size} rows")
        if args.algo == "dac":
            dqn_config(args)
        elif args.algo in ("sqil", "iq"):
            if args.mode != "learn":
                raise ValueError(f"--algo {args.algo}: only in --mode learn (throughput times GAIL against PPO)")
            off_policy_config(args, factory)
        elif any(key.startswith("dqn_") for key in _overrides(args)):
            raise ValueError("--set dqn_FIELD: DACLearnerConfig fields need --algo dac")
    except (GenplayError, ValueError, TypeError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        raise SystemExit(2) from None
    t0 = time.perf_counter()
    demos, n_demo = demos_for(args, factory)
    result = {"game": args.game, "mode": args.mode, "seed": args.seed, "threads": args.threads, "overrides": args.set}
    result["demo_seconds"] = round(time.perf_counter() - t0, 1)
    result.update((throughput if args.mode == "throughput" else learn)(args, factory, demos, n_demo))
    result["wall_seconds"] = round(time.perf_counter() - t0, 1)
    emit(result, args.out)


if __name__ == "__main__":
    main()
