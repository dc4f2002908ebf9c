#!/usr/bin/env python
"""Throughput of genplay's GAIL loop against a plain PPO loop with the same PPO settings.

Prints ONE JSON line: env steps/s of GAIL and of plain PPO (true reward, no
discriminator), their ratio, and, with --peer-python, the same run of imitation 1.0.1's
GAIL (../shared/peers/imitation_gail.py) measured right after, in the same process tree.

    python scripts/bench_speed.py --env CartPole-v1 --timesteps 100000
    python scripts/bench_speed.py --peer-python ~/.cache/genplay-peers/imit/bin/python
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

from benchlib import ArgumentParser, emit


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--timesteps", type=int, default=100_000)
    p.add_argument("--n-envs", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--repeats", type=int, default=2, help="alternate GAIL/PPO runs this many times, keep the best")
    p.add_argument("--peer-python", default=None, help="python of a venv with imitation==1.0.1 installed")
    p.add_argument(
        "--peer-script", default=str(Path(__file__).resolve().parents[1].parent / "shared/peers/imitation_gail.py")
    )
    p.add_argument("--out", default=None)
    args = p.parse_args()

    import torch

    torch.set_num_threads(1)
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    from genplay.gail.algos.config import replace
    from genplay.gail.algos.gail import GAIL
    from genplay.gail.algos.presets import preset
    from genplay.gail.runs.pipeline import make_demos

    config = replace(preset(args.env), n_envs=args.n_envs, seed=args.seed, checkpoint_every=0)
    demos = make_demos(args.env, 20, seed=30_000 + args.seed)

    def run_gail() -> float:
        trainer = GAIL(venv=make_vec_env(args.env, n_envs=args.n_envs, seed=args.seed), demos=demos, config=config)
        trainer.pretrain_bc()  # the one-off warm start is not part of the loop being timed
        t0 = time.perf_counter()
        trainer.learn(args.timesteps)
        return trainer.num_timesteps / (time.perf_counter() - t0)

    def run_ppo() -> float:
        venv = make_vec_env(args.env, n_envs=args.n_envs, seed=args.seed)
        model = PPO(
            "MlpPolicy",
            venv,
            seed=args.seed,
            device=config.run.device,
            **config.ppo.sb3_kwargs(),
        )
        t0 = time.perf_counter()
        model.learn(args.timesteps)
        return model.num_timesteps / (time.perf_counter() - t0)

    gail_sps, ppo_sps = [], []
    for _ in range(args.repeats):
        gail_sps.append(run_gail())
        ppo_sps.append(run_ppo())
    res = {
        "env": args.env,
        "timesteps": args.timesteps,
        "n_envs": args.n_envs,
        "torch_threads": 1,
        "gail_env_steps_per_second": round(max(gail_sps), 1),
        "ppo_env_steps_per_second": round(max(ppo_sps), 1),
        "gail_time_over_ppo_time": round(max(ppo_sps) / max(gail_sps), 3),
        "all_gail": [round(x) for x in gail_sps],
        "all_ppo": [round(x) for x in ppo_sps],
        "ppo_settings": {k: str(v) for k, v in config.ppo.sb3_kwargs().items()},
    }
    if args.peer_python:
        cmd = [
            args.peer_python,
            args.peer_script,
            "--env",
            args.env,
            "--seed",
            str(args.seed),
            "--n-demo",
            "20",
            "--gen-timesteps",
            str(args.timesteps),
            "--curve-every",
            "0",
            "--eval-episodes",
            "10",
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        peer = json.loads(out)
        res["peer_env_steps_per_second"] = peer["env_steps_per_second"]
        res["peer_impl"] = peer["impl"]
        res["gail_over_peer_throughput"] = round(res["gail_env_steps_per_second"] / peer["env_steps_per_second"], 3)
    emit(res, args.out)


if __name__ == "__main__":
    sys.exit(main())
