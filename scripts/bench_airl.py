#!/usr/bin/env python
"""AIRL imitation on one (env, seed): prints ONE JSON line as its last line (bench_family's keys).

Cached PPO expert -> exactly N demos -> AIRL (``train_airl``'s trainer, without a run directory) for
--timesteps env steps -> deterministic true-reward evaluation beside the expert, a uniform-random policy and BC
alone (the BC warm start AIRL starts from, evaluated before AIRL's first rollout).

    python scripts/bench_airl.py --env CartPole-v1 --seed 0 --timesteps 100000
    python scripts/bench_airl.py --env Pendulum-v1 --seed 0 --timesteps 100000
    python scripts/bench_airl.py --env CartPole-v1 --set bc_epochs=0 --set airl_reward=f
"""

from __future__ import annotations

import argparse
import json
import os
import time

from benchlib import ArgumentParser, emit, peak_rss_mb


def parse_set(items: list[str]) -> dict:
    """``key=value`` pairs, values parsed as JSON when possible (``bc_epochs=0``, ``disc_use_action=false``)."""
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
    p.add_argument("--n-demo", type=int, default=20)
    p.add_argument("--timesteps", type=int, default=100_000)
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--curve-every", type=int, default=20_000, help="env steps between curve points (0: off)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="AIRLConfig override (ppo_*)")
    p.add_argument("--out", default=None, help="append the JSON line to this file")
    args = p.parse_args()

    import torch
    from stable_baselines3.common.callbacks import BaseCallback

    torch.set_num_threads(1)
    from genplay.gail.algos.airl import AIRL, airl_preset
    from genplay.gail.algos.config import replace
    from genplay.gail.data.experts import train_expert
    from genplay.gail.evaluation.evaluate import episode_returns, normalized_return
    from genplay.gail.runs.pipeline import make_demos

    overrides = parse_set(args.set)
    config = replace(airl_preset(args.env), seed=args.seed, torch_threads=1, **overrides)
    expert = train_expert(args.env, verbose=False)
    demos = make_demos(args.env, args.n_demo, seed=30_000 + args.seed)
    n_eval, seed = args.eval_episodes, 50_000 + args.seed

    class Probe(BaseCallback):
        """BC alone (before the first rollout) and a curve; evaluation time is excluded from the speed."""

        def __init__(self) -> None:
            super().__init__()
            self.trainer: AIRL | None = None
            self.bc_return: float | None = None
            self.points: list[list[float]] = []
            self.seconds, self.next_at = 0.0, args.curve_every

        def _eval(self, n: int) -> float:
            t = time.perf_counter()
            r = float(episode_returns(args.env, self.trainer, n, seed=seed).mean())
            self.seconds += time.perf_counter() - t
            return r

        def _on_training_start(self) -> None:
            if self.bc_return is None and config.bc.epochs:
                self.bc_return = self._eval(n_eval)

        def _on_step(self) -> bool:
            return True

        def _on_rollout_end(self) -> None:
            if args.curve_every and self.model.num_timesteps >= self.next_at:
                self.points.append([int(self.model.num_timesteps), round(self._eval(10), 2)])
                self.next_at += args.curve_every

    probe = Probe()
    trainer = AIRL(venv=demos.env_factory.make_vec(config.run.n_envs, seed=config.run.seed), demos=demos, config=config)
    probe.trainer = trainer
    t0 = time.perf_counter()
    trainer.learn(args.timesteps, callback=probe)
    wall = time.perf_counter() - t0 - probe.seconds
    learned = episode_returns(args.env, trainer, n_eval, seed=seed)
    expert_r = float(episode_returns(args.env, expert, n_eval, seed=seed).mean())
    random_r = float(episode_returns(args.env, "random", n_eval, seed=60_000 + args.seed).mean())
    bc = probe.bc_return
    res = dict(
        algo="airl",
        env=args.env,
        seed=args.seed,
        learned_return_mean=round(float(learned.mean()), 2),
        learned_return_std=round(float(learned.std()), 2),
        expert_return=round(expert_r, 2),
        random_return=round(random_r, 2),
        normalised=round(normalized_return(float(learned.mean()), expert_r, random_r), 3),
        bc_return_mean=None if bc is None else round(bc, 2),
        bc_normalised=None if bc is None else round(normalized_return(bc, expert_r, random_r), 3),
        env_steps_per_second=round(trainer.num_timesteps / wall, 1),
        timesteps=int(trainer.num_timesteps),
        curve=probe.points,
        n_demo=args.n_demo,
        eval_episodes=n_eval,
        airl_reward=config.reward.airl_reward,
        state_only=not config.reward.disc_use_action,
        bc_epochs=config.bc.epochs,
        overrides={k: list(v) if isinstance(v, tuple) else v for k, v in overrides.items()},
        peak_rss_mb=peak_rss_mb(),
        loadavg1=round(os.getloadavg()[0], 2),
        ncpu=os.cpu_count(),
    )
    emit(res, args.out)


if __name__ == "__main__":
    main()
