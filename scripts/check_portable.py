"""Does a run's policy.zip act the same under SB3's own loader as under genplay's?

Rolls genplay's policy (loaded without unpickling) in the env for --n-obs raw observations,
asks SB3's own PPO.load / MaskablePPO.load / DQN.load model for its deterministic action on
each (legal-action masks passed where the env has them), then plays --episodes whole episodes
with each. Prints one JSON line:
{env, n_obs, same_actions_fraction, sb3_return_mean, genplay_return_mean}.

SB3's loader unpickles the zip: run this only on runs you trust (e.g. one you just trained).

    python scripts/check_portable.py --run runs/cp
    python scripts/check_portable.py --env Pendulum-v1 --run runs/pend --n-obs 1000 --episodes 10
"""

from __future__ import annotations

import argparse
import time

from benchlib import ArgumentParser, emit


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--run", required=True, help="a `genplay gail train` output directory, or a policy.zip")
    p.add_argument("--env", default=None, help="env id (default: the one recorded in policy.zip)")
    p.add_argument("--n-obs", type=int, default=1000, help="raw observations compared (default: 1000)")
    p.add_argument("--episodes", type=int, default=10, help="episodes played by each loader (default: 10; 0: none)")
    p.add_argument("--seed", type=int, default=0, help="env seed (default: 0)")
    p.add_argument("--out", default=None, help="also append the JSON line to this file")
    args = p.parse_args()
    if args.n_obs < 1:
        p.error(f"--n-obs: must be >= 1, got {args.n_obs}")
    if args.episodes < 0:
        p.error(f"--episodes: must be >= 0, got {args.episodes}")

    import torch

    from genplay.errors import GenplayError
    from genplay.gail.evaluation.portable_check import check_portable

    torch.set_num_threads(1)
    if args.env is not None:
        from genplay.envs.registry import check_env_id

        try:
            check_env_id(args.env)
        except GenplayError as exc:
            p.error(f"--env: {exc}")
    start = time.perf_counter()
    try:
        result = check_portable(args.run, env=args.env, n_obs=args.n_obs, n_episodes=args.episodes, seed=args.seed)
    except GenplayError as exc:
        p.error(f"--run: {exc}")
    emit({**result, "run": str(args.run), "seconds": round(time.perf_counter() - start, 1)}, args.out)


if __name__ == "__main__":
    main()
