#!/usr/bin/env python
"""GAIL env steps/s, or image-GAN steps/s, on 1 process or on N torchrun ranks, the same global batch either way.

Prints ONE JSON line (rank 0): world size, backend, global env steps/s of ``GAIL.learn``
(demos collected, the trainer built and one warm-up rollout done before the timer), the bytes
all-reduced or broadcast per update (rollout), optionally the learned policy's true return, or with ``--gan`` generator
updates/s of ``ImageGAN.train`` (global batch ``--batch-size`` split over the ranks; a few
warm-up updates before the timer), and the 1-minute load average when it ended.

    python scripts/bench_distributed.py --timesteps 20000                       # 1 process
    torchrun --nproc_per_node 2 scripts/bench_distributed.py --timesteps 20000  # 2 gloo ranks
    torchrun --nproc_per_node 2 scripts/bench_distributed.py --timesteps 40000 --eval-episodes 20
    torchrun --nproc_per_node 2 scripts/bench_distributed.py --env pong --timesteps 4096
    torchrun --nproc_per_node 2 scripts/bench_distributed.py --gan dcgan --dataset mnist5k --gan-steps 100
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time

from benchlib import ArgumentParser

from genplay.cli_args import int_at_least


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="CartPole-v1", help="CartPole-v1, or an ALE game name (pong)")
    p.add_argument("--timesteps", type=int_at_least(1), default=20_000, help="timed env steps, after a warm-up rollout")
    p.add_argument("--n-envs", type=int_at_least(1), default=8, help="global: split over the ranks")
    p.add_argument("--seed", type=int_at_least(0), default=0)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "auto"), help="GAIL: where it trains")
    p.add_argument(
        "--eval-episodes", type=int_at_least(0), default=0, help="then the learned policy's true return (rank 0)"
    )
    p.add_argument("--out", default=None, help="also append the JSON line to this file")
    p.add_argument("--gan", choices=("dcgan", "cgan", "wgan-gp"), help="time an image GAN instead of GAIL")
    p.add_argument("--dataset", default="digits", choices=("digits", "mnist5k"), help="--gan: 8x8 or 28x28 digits")
    p.add_argument("--batch-size", type=int_at_least(1), default=64, help="--gan: global batch, split over the ranks")
    p.add_argument("--gan-steps", type=int_at_least(1), default=100, help="--gan: timed generator updates")
    args = p.parse_args()

    import torch

    torch.set_num_threads(1)
    if args.gan:
        return bench_gan(args)
    from genplay.errors import GenplayError
    from genplay.gail.algos.gail import GAIL
    from genplay.gail.evaluation.evaluate import episode_returns
    from genplay.gail.runs.pipeline import _rank_venv
    from genplay.generative.core import distributed

    ctx = distributed.init_from_env(args.device)
    try:
        factory, demos, config = _setup(args)
    except GenplayError as exc:
        print(f"error: --env {args.env}: {' '.join(str(exc).split())}", file=sys.stderr)
        raise SystemExit(2) from None
    try:  # e.g. --n-envs that does not split over the ranks
        trainer = GAIL(venv=_rank_venv(factory, config, config.run.seed, ctx), demos=demos, config=config, dist=ctx)
    except GenplayError as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        raise SystemExit(2) from None
    rollout = config.ppo.n_steps * config.run.n_envs
    trainer.learn(rollout)  # warm-up: allocations, the first update
    traffic = _count_collectives()
    distributed.barrier(ctx)
    start, before = time.perf_counter(), trainer.num_timesteps
    trainer.learn(before + args.timesteps)
    distributed.barrier(ctx)
    seconds, steps = time.perf_counter() - start, trainer.num_timesteps - before
    if ctx is None or ctx.is_main:
        updates = steps / rollout
        row = {
            "bench": "distributed_gail",
            "env": args.env,
            "world_size": ctx.world_size if ctx else 1,
            "backend": ctx.backend if ctx else None,
            "device": str(trainer.device),
            "n_envs_global": config.run.n_envs,
            "seed": args.seed,
            "timesteps": trainer.num_timesteps,
            "seconds": round(seconds, 2),
            "env_steps_per_s": round(steps / seconds, 1),
            "seconds_per_update": round(seconds / updates, 3),
            "allreduce_mb_per_update": round(traffic["bytes"] / updates / 2**20, 2),
            "collectives_per_update": round(traffic["calls"] / updates, 1),
            "load_avg_1min": round(os.getloadavg()[0], 2),
        }
        if args.eval_episodes:
            returns = episode_returns(factory, trainer, args.eval_episodes, seed=10_000)
            row["return_mean"] = round(float(returns.mean()), 2)
        print(json.dumps(row), flush=True)
        if args.out:
            with open(args.out, "a") as fh:
                fh.write(json.dumps(row) + "\n")
    distributed.shutdown()


def _setup(args: argparse.Namespace):
    """(factory, demos, config): CartPole-style envs get 5 heuristic demos and the preset; an ALE
    game gets 2 scripted-expert games (cached) and the Atari preset; BC off either way."""
    from genplay.gail.algos.config import atari_preset, replace
    from genplay.gail.algos.presets import preset
    from genplay.gail.data.collect import collect_demos
    from genplay.gail.data.demos import load_demos, save_demos

    common = dict(n_envs=args.n_envs, seed=args.seed, bc_epochs=0, device=args.device, torch_threads=1)
    if args.env == "CartPole-v1":

        def heuristic(obs):
            return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype("int64")

        demos = collect_demos(args.env, heuristic, 5, seed=0)
        return demos.env_factory, demos, replace(preset(args.env), **common)
    from genplay.gail.data.experts import cache_dir
    from genplay.gail.suites.atari import atari_factory, scripted_expert_demos

    factory = atari_factory(args.env)
    path = cache_dir() / "atari_demos" / f"{args.env}-scripted-2-seed10000.npz"
    if path.exists():
        demos = load_demos(path)
    else:  # every rank plays the same 2 games; rank 0 alone writes the cache
        demos = scripted_expert_demos(factory, 2, seed=10_000)
        if int(os.environ.get("RANK", 0)) == 0:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_demos(path, demos)
    return factory, demos, replace(atari_preset(args.env), **common)


def _count_collectives() -> dict:
    """Count the bytes of every all-reduce and broadcast from now on (wraps torch.distributed's)."""
    import torch.distributed as tdist

    traffic = {"bytes": 0, "calls": 0}

    def counted(fn):
        def wrapper(tensor, *a, **kw):
            traffic["bytes"] += tensor.numel() * tensor.element_size()
            traffic["calls"] += 1
            return fn(tensor, *a, **kw)

        return wrapper

    tdist.all_reduce, tdist.broadcast = counted(tdist.all_reduce), counted(tdist.broadcast)
    return traffic


def bench_gan(args: argparse.Namespace) -> None:
    """Generator updates/s of ``ImageGAN.train`` on this rank count (rank 0 prints the JSON line)."""
    from genplay.generative.core import distributed
    from genplay.generative.images.data import load_dataset
    from genplay.generative.images.trainer import ImageGAN, preset

    ctx = distributed.init_from_env("cpu")
    data = load_dataset(args.dataset)
    warmup = 5
    config = preset(args.gan, steps=warmup, batch_size=args.batch_size, seed=args.seed, device="cpu")
    gan = ImageGAN(config=config, image_shape=data.shape, n_classes=data.n_classes, dist=ctx)
    gan.train(data, log_every=10**9)
    gan.config = dataclasses.replace(config, steps=warmup + args.gan_steps)
    distributed.barrier(ctx)
    start = time.perf_counter()
    gan.train(data, log_every=10**9)
    distributed.barrier(ctx)
    seconds = time.perf_counter() - start
    if ctx is None or ctx.is_main:
        row = {
            "bench": "distributed_gan",
            "model": args.gan,
            "dataset": data.name,
            "world_size": ctx.world_size if ctx else 1,
            "backend": ctx.backend if ctx else None,
            "batch_global": args.batch_size,
            "gan_steps": args.gan_steps,
            "seconds": round(seconds, 2),
            "gan_steps_per_s": round(args.gan_steps / seconds, 2),
            "load_avg_1min": round(os.getloadavg()[0], 2),
        }
        print(json.dumps(row), flush=True)
    distributed.shutdown()


if __name__ == "__main__":
    main()
