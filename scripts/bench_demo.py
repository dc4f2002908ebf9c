#!/usr/bin/env python
"""Benchmark the `genplay demo` job on one seed: prints ONE JSON line as its last line.

Runs :func:`genplay.gail.runs.pipeline.run_demo` itself (scripted or cached expert -> N demos,
optionally subsampled -> BC alone and GAIL -> evaluation against expert and random) in a
temporary directory and reports what its table shows, so candidate settings for the demo
job are measured on the code path a user runs. ``wall_s`` is the whole job, evaluation
included (an upper bound on a shared machine).

    python scripts/bench_demo.py --seeds 0,1,2                       # the current defaults
    python scripts/bench_demo.py --env Pendulum-v1 --n-demo 20 --subsample 20 --seeds 0,1,2
    python scripts/bench_demo.py --env Acrobot-v1 --n-demo 2 --timesteps 100000 --seed 0
"""

from __future__ import annotations

import argparse
import contextlib
import inspect
import json
import os
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ArgumentParser, add_seed_fanout, count, emit, fan_out_seeds, peak_rss_mb, run_main


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--env", default=None, help="default: run_demo's")
    p.add_argument("--n-demo", type=count(), default=None, help="demo episodes (default: run_demo's)")
    p.add_argument("--subsample", type=count(), default=None, help="keep every k-th transition (default: run_demo's)")
    p.add_argument("--timesteps", type=count(), default=None, help="GAIL generator steps (default: run_demo's)")
    p.add_argument("--eval-episodes", type=count(), default=None, help="default: run_demo's")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--out", default=None, help="append the JSON line to this file")
    add_seed_fanout(p)
    args = p.parse_args()
    if fan_out_seeds(args):
        return

    import torch

    torch.set_num_threads(args.torch_threads)
    from genplay.gail.runs.pipeline import run_demo

    defaults = {k: v.default for k, v in inspect.signature(run_demo).parameters.items()}
    given = {
        "env_id": args.env,
        "n_demo": args.n_demo,
        "subsample": args.subsample,
        "timesteps": args.timesteps,
        "n_eval_episodes": args.eval_episodes,
    }
    settings = {k: (defaults[k] if v is None else v) for k, v in given.items()}
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "demo"
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):  # the job's table and progress: stdout keeps the JSON alone
            print(run_demo(**settings, out_dir=out, seed=args.seed))
        wall = time.perf_counter() - t0
        results = {r["name"]: r for r in json.loads((out / "results.json").read_text())["results"]}
        demos_meta = _demo_sizes(out / "demos.npz")
    emit(
        dict(
            env=settings["env_id"],
            n_demo=settings["n_demo"],
            subsample=settings["subsample"],
            seed=args.seed,
            bc_normalised=round(results["BC alone"]["normalized"], 3),
            gail_normalised=round(results["GAIL (learned)"]["normalized"], 3),
            bc_return=round(results["BC alone"]["mean"], 2),
            gail_return=round(results["GAIL (learned)"]["mean"], 2),
            expert_return=round(results["expert"]["mean"], 2),
            random_return=round(results["random"]["mean"], 2),
            wall_s=round(wall, 1),
            timesteps=settings["timesteps"],
            eval_episodes=settings["n_eval_episodes"],
            **demos_meta,
            loadavg1_before_after=[round(load_before, 2), round(os.getloadavg()[0], 2)],
            ncpu=os.cpu_count(),
            peak_rss_mb=peak_rss_mb(),
            torch=torch.__version__,
        ),
        args.out,
    )


def _demo_sizes(path: Path) -> dict:
    """How many transitions the job trained on (after subsampling) and the demos' source return."""
    from genplay.gail.data.demos import load_demos

    demos = load_demos(path)
    source = demos.metadata.get("subsample", {})
    return {
        "demo_transitions": demos.n_transitions,
        "demo_return_mean": round(source.get("source_return_mean", float(demos.episode_returns().mean())), 2),
    }


if __name__ == "__main__":
    run_main(main)
