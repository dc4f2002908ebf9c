#!/usr/bin/env python
"""Pixel SQIL and IQ-Learn against plain SB3 DQN with the same network and update ratio: ONE JSON line per run.

Issue 30, target 5 ("IQ-Learn and SQIL take <= 1.3x the time of plain SB3 DQN with the same network and
update ratio, in the same run"). One process builds, on the same Atari env, demos and settings:

- ``dqn``: SB3's ``DQN("CnnPolicy")`` on the env's own reward, batch = learner rows + expert rows (the
  same arithmetic per update as the imitation learners' mixed batches);
- ``sqil`` and ``iq``: genplay's learners through their public classes, ``batch_size`` learner rows plus
  ``expert_batch_size`` demo rows per update.

Each first collects ``learning_starts`` steps and takes a few updates (allocations, first kernels), then
``--steps`` agent steps are timed; the learners run one after another, ``--repeats`` times in turn, so a
shared machine's load falls on all of them alike. The line reports each learner's agent steps per second
(best of the repeats, and all of them) and its time relative to DQN's.

    python scripts/bench_offpolicy_speed.py --game pong --steps 2000
    python scripts/bench_offpolicy_speed.py --game pong --steps 4000 --repeats 3 \
        --out bench_results/atari/offpolicy_speed.jsonl

Keys: game, n_envs, steps, repeats, batch_size, expert_batch_size, train_freq, gradient_steps, buffer_size,
threads, device, steps_per_second (per learner: best), all_steps_per_second, time_ratio_vs_dqn (per
imitation learner, from the best), peak_rss_mb, wall_s, load_1min (the machine's 1-minute load average at the end).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import ArgumentParser, count, emit, peak_rss_mb, run_main  # noqa: E402

LEARNERS = ("dqn", "sqil", "iq")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default="pong", help="an ALE game genplay registers (genplay/<Game>-v0)")
    p.add_argument("--learners", default=",".join(LEARNERS), help=f"comma-separated, from {', '.join(LEARNERS)}")
    p.add_argument("--steps", type=count(), default=2_000, help="agent steps timed per learner and repeat")
    p.add_argument("--repeats", type=count(), default=1)
    p.add_argument("--n-envs", type=count(), default=1)
    p.add_argument("--n-demo", type=count(), default=2, help="expert games of demos (imitable expert)")
    p.add_argument("--batch-size", type=count(), default=32, help="learner rows per update")
    p.add_argument("--expert-batch-size", type=count(), default=32, help="demo rows per update (DQN: added)")
    p.add_argument("--train-freq", type=count(), default=4, help="vector-env steps between updates")
    p.add_argument("--gradient-steps", type=count(), default=1)
    p.add_argument("--learning-starts", type=count(), default=1_000)
    p.add_argument("--buffer-size", type=count(), default=20_000, help="replay transitions (all envs)")
    p.add_argument("--threads", type=count(), default=1, help="torch threads")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"])
    p.add_argument("--seed", type=count(0), default=0)
    p.add_argument("--out", default=None, help="also append the JSON line to this file")
    args = p.parse_args(argv)
    unknown = sorted(set(args.learners.split(",")) - set(LEARNERS))
    if unknown:
        p.error(f"--learners: unknown {', '.join(unknown)}; expected names from {', '.join(LEARNERS)}")
    return args


def build(name: str, args: argparse.Namespace, factory, demos):
    """One learner, ready to ``learn``: SB3's DQN or genplay's SQIL / IQ-Learn with the shared settings."""
    venv = factory.make_vec(args.n_envs, seed=args.seed)
    shared = dict(
        buffer_size=args.buffer_size,
        learning_starts=args.learning_starts,
        train_freq=(args.train_freq, "step"),
        gradient_steps=args.gradient_steps,
        target_update_interval=1_000,
        device=args.device,
        seed=args.seed,
    )
    if name == "dqn":
        from stable_baselines3 import DQN

        batch = args.batch_size + args.expert_batch_size
        return DQN("CnnPolicy", venv, batch_size=batch, verbose=0, **shared)
    from genplay.gail.algos.iq_learn import IQLearn, IQLearnConfig
    from genplay.gail.algos.sqil import SQIL, SQILConfig

    algo, config_class = {"sqil": (SQIL, SQILConfig), "iq": (IQLearn, IQLearnConfig)}[name]
    shared["train_freq"] = args.train_freq
    config = config_class(
        n_envs=args.n_envs,
        batch_size=args.batch_size,
        expert_batch_size=args.expert_batch_size,
        checkpoint_every=0,
        torch_threads=args.threads,
        **shared,
    )
    return algo(venv=venv, demos=demos, config=config)


def timed_steps(learner, steps: int) -> float:
    """Agent steps per second of ``steps`` more steps of ``learner`` (SB3 algorithm or genplay trainer)."""
    done = learner.num_timesteps
    t0 = time.perf_counter()
    if hasattr(learner, "policy") and hasattr(learner, "replay_buffer"):  # SB3's own algorithm
        learner.learn(steps, reset_num_timesteps=False)
    else:
        learner.learn(done + steps)
    return (learner.num_timesteps - done) / (time.perf_counter() - t0)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    import torch

    torch.set_num_threads(args.threads)
    from genplay.gail.suites.atari import atari_factory, scripted_expert_demos

    t_start = time.perf_counter()
    factory = atari_factory(args.game)
    demos = scripted_expert_demos(factory, args.n_demo, seed=10_000 + args.seed, kind="imitable")
    names = args.learners.split(",")
    learners = {}
    for name in names:  # warm-up: fill to learning_starts and take the first updates
        learners[name] = build(name, args, factory, demos)
        timed_steps(learners[name], args.learning_starts + 4 * args.train_freq * args.n_envs)
    speeds: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(args.repeats):
        for name in names:
            speeds[name].append(round(timed_steps(learners[name], args.steps), 1))
    best = {name: max(values) for name, values in speeds.items()}
    result = {
        "game": args.game,
        "n_envs": args.n_envs,
        "steps": args.steps,
        "repeats": args.repeats,
        "batch_size": args.batch_size,
        "expert_batch_size": args.expert_batch_size,
        "train_freq": args.train_freq,
        "gradient_steps": args.gradient_steps,
        "buffer_size": args.buffer_size,
        "threads": args.threads,
        "device": args.device,
        "steps_per_second": best,
        "all_steps_per_second": speeds,
    }
    if "dqn" in best:
        result["time_ratio_vs_dqn"] = {n: round(best["dqn"] / v, 3) for n, v in best.items() if n != "dqn"}
    result["peak_rss_mb"] = peak_rss_mb()
    result["wall_s"] = round(time.perf_counter() - t_start, 1)
    result["load_1min"] = round(os.getloadavg()[0], 1)
    emit(result, args.out)


if __name__ == "__main__":
    run_main(main)
