#!/usr/bin/env python
"""GAIL env steps/s on 1 process or on N torchrun ranks, the same global batch either way.

Prints ONE JSON line (rank 0): world size, backend, global env steps/s of ``GAIL.learn``
(demos collected and the trainer built before the timer).

    python scripts/bench_distributed.py --timesteps 20000                       # 1 process
    torchrun --nproc_per_node 2 scripts/bench_distributed.py --timesteps 20000  # 2 gloo ranks
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--timesteps", type=int, default=20_000)
    p.add_argument("--n-envs", type=int, default=8, help="global: split over the ranks")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    import torch

    torch.set_num_threads(1)
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
                }
            ),
            flush=True,
        )
    distributed.shutdown()


if __name__ == "__main__":
    main()
