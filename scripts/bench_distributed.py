#!/usr/bin/env python
"""GAIL env steps/s, or image-GAN steps/s, on 1 process or on N torchrun ranks, the same global batch either way.

Prints ONE JSON line (rank 0): world size, backend, global env steps/s of ``GAIL.learn``
(demos collected and the trainer built before the timer), or with ``--gan`` generator
updates/s of ``ImageGAN.train`` (global batch ``--batch-size`` split over the ranks; a few
warm-up updates before the timer), and the 1-minute load average when it ended.

    python scripts/bench_distributed.py --timesteps 20000                       # 1 process
    torchrun --nproc_per_node 2 scripts/bench_distributed.py --timesteps 20000  # 2 gloo ranks
    torchrun --nproc_per_node 2 scripts/bench_distributed.py --gan dcgan --dataset mnist5k --gan-steps 100
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--timesteps", type=int, default=20_000)
    p.add_argument("--n-envs", type=int, default=8, help="global: split over the ranks")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gan", choices=("dcgan", "cgan", "wgan-gp"), help="time an image GAN instead of GAIL")
    p.add_argument("--dataset", default="digits", help="--gan: digits (8x8) or mnist5k (28x28)")
    p.add_argument("--batch-size", type=int, default=64, help="--gan: global batch, split over the ranks")
    p.add_argument("--gan-steps", type=int, default=100, help="--gan: timed generator updates")
    args = p.parse_args()

    import torch

    torch.set_num_threads(1)
    if args.gan:
        return bench_gan(args)
    from genplay.gail.config import preset, replace
    from genplay.gail.demos import collect_demos
    from genplay.gail.pipeline import _rank_venv
    from genplay.gail.trainer import GAIL
    from genplay.generative.core import distributed

    ctx = distributed.init_from_env("cpu")

    def heuristic(obs):
        return (obs[:, 2] + 0.5 * obs[:, 3] > 0).astype("int64")

    demos = collect_demos(args.env, heuristic, 5, seed=0)
    config = replace(preset(args.env), n_envs=args.n_envs, seed=args.seed, bc_epochs=0, device="cpu", torch_threads=1)
    trainer = GAIL(venv=_rank_venv(demos.env_factory, config, config.seed, ctx), demos=demos, config=config, dist=ctx)
    distributed.barrier(ctx)
    start = time.perf_counter()
    trainer.learn(args.timesteps)
    distributed.barrier(ctx)
    seconds = time.perf_counter() - start
    if ctx is None or ctx.is_main:
        print(
            json.dumps(
                {
                    "bench": "distributed_gail",
                    "env": args.env,
                    "world_size": ctx.world_size if ctx else 1,
                    "backend": ctx.backend if ctx else None,
                    "n_envs_global": args.n_envs,
                    "timesteps": trainer.num_timesteps,
                    "seconds": round(seconds, 2),
                    "env_steps_per_s": round(trainer.num_timesteps / seconds, 1),
                    "load_avg_1min": round(os.getloadavg()[0], 2),
                }
            ),
            flush=True,
        )
    distributed.shutdown()


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
