#!/usr/bin/env python
"""The imitation family head to head: ONE JSON line per run (issue 29's benchmark).

Every algorithm runs through the registry (``gail/algos/registry.py``), i.e. the same
``train`` entry that ``genplay train --algo A`` calls, into a temporary run directory:

1. demos: ``--n-demo`` episodes of the env's expert (``expert_choice.expert_demos``: scripted,
   cached PPO, or a search bot), or ``--demos FILE``;
2. BC alone on the same demos (``bc_normalised``), unless ``--no-bc``;
3. the algorithm for ``--timesteps`` env steps (its env-step rate over the training call);
4. deterministic true-reward returns of the learned policy, the expert and uniform random
   (``--eval-episodes`` each, the same seeds for all).

Keys: algo, env, seed, n_demo, timesteps, learned_return_mean, learned_return_std, expert_return,
random_return, normalised, bc_normalised, env_steps_per_second, wall_s, peak_rss_mb.

``--peer imitation`` runs imitation 1.0.1's version of the algorithm on the same demos file
(``scripts/peers/imitation_family.py`` in its own venv, see ``scripts/peers/README.md``) and
prints its line with the same keys.
``--task airl-transfer`` runs ``scripts/bench_airl_transfer.py`` (normalised_transfer and
normalised_transfer_gail).

    python scripts/bench_family.py --algo sqil --env CartPole-v1 --seed 0 --timesteps 100000
    python scripts/bench_family.py --algo bc --env Pendulum-v1 --seeds 0,1,2
    python scripts/bench_family.py --algo gail --env CartPole-v1 --seed 0 --peer imitation
    python scripts/bench_family.py --task airl-transfer --seed 0
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import ArgumentParser, add_seed_fanout, emit, fan_out_seeds, peak_rss_mb

HERE = Path(__file__).resolve().parent
PEERS = HERE / "peers"
PEER_PYTHON = Path(os.path.expanduser("~/.cache/genplay-peers/imit/bin/python"))
DEFAULT_TIMESTEPS = {"CartPole-v1": 100_000, "Acrobot-v1": 200_000, "MountainCar-v0": 200_000, "Pendulum-v1": 300_000}


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--algo", default="gail", help="a registered algorithm (genplay train --help lists them)")
    p.add_argument("--env", default="CartPole-v1")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--n-demo", type=int, default=20, help="expert demo episodes")
    p.add_argument("--demos", default=None, help="a demos file instead of the expert's --n-demo episodes")
    p.add_argument("--timesteps", type=int, default=None, help="env steps (default: per env, see DEFAULT_TIMESTEPS)")
    p.add_argument("--eval-episodes", type=int, default=50)
    p.add_argument("--no-bc", action="store_true", help="skip the BC-alone baseline")
    p.add_argument("--peer", choices=("imitation",), default=None, help="run the peer's version instead")
    p.add_argument("--task", choices=("airl-transfer",), default=None)
    p.add_argument("--torch-threads", type=int, default=1)
    p.add_argument("--out", default=None, help="append the JSON line to this file")
    add_seed_fanout(p)
    args = p.parse_args()
    if fan_out_seeds(args):
        return
    if args.task == "airl-transfer":
        argv = [sys.executable, str(HERE / "bench_airl_transfer.py"), "--seed", str(args.seed)]
        if args.timesteps:
            argv += ["--timesteps", str(args.timesteps)]
        raise SystemExit(subprocess.call(argv + (["--out", args.out] if args.out else [])))

    import torch

    torch.set_num_threads(args.torch_threads)
    from genplay.gail.algos.registry import algorithm
    from genplay.gail.data.demos import load_demos, save_demos
    from genplay.gail.data.expert_choice import expert_demos
    from genplay.gail.evaluation.evaluate import episode_returns, normalized_return

    timesteps = args.timesteps or DEFAULT_TIMESTEPS.get(args.env, 100_000)
    demos = load_demos(args.demos) if args.demos else expert_demos(args.env, args.n_demo, seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="bench-family-") as tmp:
        if args.peer == "imitation":
            demos_file = Path(tmp) / "demos.npz"
            save_demos(demos_file, demos)
            emit(_peer(args, demos_file, timesteps), args.out)
            return
        spec = algorithm(args.algo)
        train, _ = spec.load()
        config = _with_seed(spec.default_config(args.env), args.seed)
        t0, c0 = time.perf_counter(), time.process_time()
        trainer = train(args.env, demos, timesteps, config=config, out_dir=Path(tmp) / "run")
        train_s, train_cpu_s = time.perf_counter() - t0, time.process_time() - c0
        steps = int(getattr(trainer, "num_timesteps", 0))
        n = args.eval_episodes
        learned = episode_returns(args.env, trainer, n, seed=10_000 + args.seed)
        expert = float(demos.episode_returns().mean())
        rand = float(episode_returns(args.env, "random", n, seed=10_000 + args.seed).mean())
        bc_norm = None
        if not args.no_bc and args.algo != "bc":
            bc_train, _ = algorithm("bc").load()
            bc = bc_train(args.env, demos, 1, config=_with_seed(algorithm("bc").default_config(args.env), args.seed))
            bc_mean = float(episode_returns(args.env, bc, n, seed=10_000 + args.seed).mean())
            bc_norm = normalized_return(bc_mean, expert, rand)
    emit(
        {
            "algo": args.algo,
            "env": args.env,
            "seed": args.seed,
            "n_demo": demos.n_episodes,
            "timesteps": steps,
            "learned_return_mean": float(learned.mean()),
            "learned_return_std": float(learned.std()),
            "expert_return": expert,
            "random_return": rand,
            "normalised": normalized_return(float(learned.mean()), expert, rand),
            "bc_normalised": bc_norm,
            "env_steps_per_second": steps / train_s if steps else None,
            "train_cpu_s": round(train_cpu_s, 2),
            "wall_s": round(time.perf_counter() - t0, 1),
            "peak_rss_mb": peak_rss_mb(),
        },
        args.out,
    )


def _with_seed(config, seed: int):
    from genplay.settings import flat_names, replace_flat

    return replace_flat(config, seed=seed) if "seed" in flat_names(type(config)) else config


def _peer(args: argparse.Namespace, demos_file: Path, timesteps: int) -> dict:
    """imitation 1.0.1's run on the same demos and budget, from its own venv (its last JSON line)."""
    if not PEER_PYTHON.exists():
        raise SystemExit(f"error: {PEER_PYTHON}: the peers' venv is missing; see {PEERS / 'README.md'}")
    argv = [str(PEER_PYTHON), str(PEERS / "imitation_family.py"), "--algo", args.algo, "--env", args.env]
    argv += ["--seed", str(args.seed), "--n-demo", str(args.n_demo), "--demos", str(demos_file)]
    argv += ["--timesteps", str(timesteps), "--eval-episodes", str(args.eval_episodes)]
    argv += ["--torch-threads", str(args.torch_threads)]
    done = subprocess.run(argv, capture_output=True, text=True, cwd=PEERS)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        raise SystemExit(f"error: the peer run failed ({done.returncode}): {done.stderr.strip()[-300:]}")
    return {**json.loads(lines[-1]), "peer": "imitation-1.0.1"}


if __name__ == "__main__":
    main()
