#!/usr/bin/env python
"""Benchmark genplay's GAIL on one (env, seed): prints ONE JSON line as its last line.

Pipeline: cached PPO expert -> exactly N demos (expert or uniform-random) -> GAIL for
--gen-timesteps generator steps -> true-reward evaluation of the learned policy beside
the expert and a random policy. Evaluations for the learning curve are excluded from
the wall-clock time. Same keys as ../shared/peers/imitation_gail.py where they overlap.

    python scripts/bench_gail.py --env CartPole-v1 --seed 0 --n-demo 20 --gen-timesteps 100000
    python scripts/bench_gail.py --env genplay/CartPoleFixedHorizon-v0 --seed 0
    python scripts/bench_gail.py --env Pendulum-v1 --seed 0 --gen-timesteps 300000
    python scripts/bench_gail.py --env CartPole-v1 --demo-source random --n-demo 60
    python scripts/bench_gail.py --env CartPole-v1 --set bc_epochs=10 --set reward_form=positive
    python scripts/bench_gail.py --env MountainCar-v0 --seed 0 --gen-timesteps 300000   # scripted expert

Demo sources: ``expert`` (cached PPO expert), ``scripted`` (``genplay.envs.scripted``: a
hand-written batched controller, no training), ``random``; ``auto`` takes the scripted
expert for envs without a PPO recipe. The BC warm start alone is evaluated in the same
run before GAIL starts from it (``bc_return_mean``); with ``bc_epochs=0`` a separate BC
policy is trained for that row.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

from benchlib import ArgumentParser, add_seed_fanout, count, emit, fan_out_seeds, peak_rss_mb, run_main


def parse_set(items: list[str]) -> dict:
    """``key=value`` pairs, values parsed as JSON when possible (``bc_epochs=10``, ``absorbing=false``)."""
    out = {}
    for item in items:
        key, _, raw = item.partition("=")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        out[key] = tuple(value) if isinstance(value, list) else value
    return out


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-demo", type=count(), default=20)
    p.add_argument("--gen-timesteps", type=count(), default=100_000)
    p.add_argument("--demo-source", choices=["auto", "expert", "scripted", "random"], default="auto")
    p.add_argument("--eval-episodes", type=count(), default=50)
    p.add_argument("--curve-every", type=count(0), default=10_000, help="env steps between curve points (0: off)")
    p.add_argument("--curve-episodes", type=count(), default=10)
    p.add_argument(
        "--eval-mode",
        choices=["auto", "deterministic", "stochastic"],
        default="auto",
        help="auto: deterministic for expert demos, stochastic for random ones (a random expert is stochastic)",
    )
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="GAILConfig override (ppo_* for PPO)"
    )
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--out", default=None, help="append the JSON line to this file")
    add_seed_fanout(p)
    args = p.parse_args()
    if fan_out_seeds(args):
        return

    import numpy as np
    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(args.torch_threads)
    from genplay.envs.scripted import SCRIPTED_EXPERTS
    from genplay.gail.algos.config import replace
    from genplay.gail.algos.gail import GAIL
    from genplay.gail.algos.presets import preset
    from genplay.gail.data.collect import collect_demos
    from genplay.gail.data.experts import RECIPES, train_expert
    from genplay.gail.evaluation.evaluate import episode_returns, normalized_return
    from genplay.gail.runs.pipeline import make_demos

    overrides = parse_set(args.set)
    config = replace(preset(args.env), seed=args.seed, torch_threads=args.torch_threads, **overrides)

    source = args.demo_source
    if source == "auto":
        source = "scripted" if args.env in SCRIPTED_EXPERTS and args.env not in RECIPES else "expert"
    deterministic = args.eval_mode == "deterministic" or (args.eval_mode == "auto" and source != "random")
    t0 = time.perf_counter()
    expert = SCRIPTED_EXPERTS[args.env] if source == "scripted" else train_expert(args.env, verbose=False)
    expert_seconds = time.perf_counter() - t0
    if source == "scripted":
        demos = collect_demos(args.env, expert, args.n_demo, seed=30_000 + args.seed, metadata={"policy": "scripted"})
    else:
        demos = make_demos(args.env, args.n_demo, source=source, seed=30_000 + args.seed)

    class Curve(BaseCallback):
        """Deterministic evaluation every --curve-every steps; its time is excluded."""

        def __init__(self, trainer: GAIL) -> None:
            super().__init__()
            self.trainer = trainer
            self.points: list[list[float]] = []
            self.seconds = 0.0
            self.next_at = args.curve_every

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            if args.curve_every and self.model.num_timesteps >= self.next_at:
                t = time.perf_counter()
                r = episode_returns(
                    args.env,
                    self.trainer,
                    args.curve_episodes,
                    seed=40_000 + len(self.points),
                    deterministic=deterministic,
                )
                self.points.append([int(self.model.num_timesteps), round(float(r.mean()), 2)])
                self.seconds += time.perf_counter() - t
                self.next_at += args.curve_every
                print(f"[gail] steps={self.model.num_timesteps} return={r.mean():.1f}", file=sys.stderr, flush=True)

    def bc_alone() -> float:
        """Return of the BC warm start alone (a fresh trainer when GAIL itself runs without BC)."""
        bc_cfg = config if config.bc.epochs else replace(config, bc_epochs=preset(args.env).bc.epochs or 100)
        bc = GAIL(venv=demos.env_factory.make_vec(bc_cfg.run.n_envs, seed=bc_cfg.run.seed), demos=demos, config=bc_cfg)
        bc.pretrain_bc()
        return float(episode_returns(args.env, bc, args.eval_episodes, seed=50_000 + args.seed).mean())

    t_bc = time.perf_counter()
    bc_return = bc_alone()
    bc_seconds = time.perf_counter() - t_bc
    venv = demos.env_factory.make_vec(config.run.n_envs, seed=config.run.seed)
    trainer = GAIL(venv=venv, demos=demos, config=config)
    curve = Curve(trainer)
    load_before = os.getloadavg()[0]
    t0 = time.perf_counter()
    trainer.learn(args.gen_timesteps, callback=curve)
    wall = time.perf_counter() - t0 - curve.seconds
    load_after = os.getloadavg()[0]

    learned = episode_returns(
        args.env, trainer, args.eval_episodes, seed=50_000 + args.seed, deterministic=deterministic
    )
    learned_other = episode_returns(
        args.env, trainer, args.eval_episodes, seed=50_000 + args.seed, deterministic=not deterministic
    )
    expert_r = episode_returns(args.env, expert, args.eval_episodes, seed=50_000 + args.seed)
    random_r = episode_returns(args.env, "random", args.eval_episodes, seed=60_000 + args.seed)
    steps = trainer.num_timesteps
    threshold = {"CartPole-v1": 475.0, "genplay/CartPoleFixedHorizon-v0": 475.0}.get(args.env)
    first_hit = next((s for s, r in curve.points if threshold is not None and r >= threshold), None)

    res = dict(
        impl="genplay",
        env=args.env,
        seed=args.seed,
        demo_source=source,
        n_demo_episodes=demos.n_episodes,
        n_demo_transitions=demos.n_transitions,
        demo_return_mean=round(float(demos.episode_returns().mean()), 2),
        gen_timesteps=int(steps),
        gen_timesteps_requested=args.gen_timesteps,
        wall_seconds_gail_train=round(wall, 2),
        env_steps_per_second=round(steps / wall, 1),
        peak_rss_mb=peak_rss_mb(),
        learned_return_mean=round(float(learned.mean()), 2),
        learned_return_std=round(float(learned.std()), 2),
        learned_return_mean_other_mode=round(float(learned_other.mean()), 2),
        bc_return_mean=round(bc_return, 2),
        bc_normalized_return=round(normalized_return(bc_return, float(expert_r.mean()), float(random_r.mean())), 3),
        bc_eval_seconds=round(bc_seconds, 1),
        eval_mode="deterministic" if deterministic else "stochastic",
        expert_return=round(float(expert_r.mean()), 2),
        expert_return_std=round(float(expert_r.std()), 2),
        random_return=round(float(random_r.mean()), 2),
        random_return_std=round(float(random_r.std()), 2),
        normalized_return=round(
            normalized_return(float(learned.mean()), float(expert_r.mean()), float(random_r.mean())), 3
        ),
        first_step_curve_reached_475=first_hit,
        eval_episodes=args.eval_episodes,
        curve=curve.points,
        curve_eval_seconds_excluded=round(curve.seconds, 2),
        torch_threads=torch.get_num_threads(),
        loadavg1_before_after=[round(load_before, 2), round(load_after, 2)],
        ncpu=os.cpu_count(),
        expert_seconds=round(expert_seconds, 1),
        overrides=overrides,
        n_envs=config.run.n_envs,
        reward_form=config.reward.reward_form,
        absorbing=config.reward.absorbing,
        bc_epochs=config.bc.epochs,
        disc_final=dict(
            {k: round(v, 3) for k, v in trainer.history[-1].items() if k.startswith(("accuracy", "absorbing"))}
        )
        if trainer.history
        else {},
        numpy=np.__version__,
        torch=torch.__version__,
    )
    emit(res, args.out)


if __name__ == "__main__":
    run_main(main)
