"""Why a tic-tac-toe learner still loses to random: its value-dropping moves, and whether the demos show them.

    python scripts/boardgame_coverage.py POLICY_DIR [--n-demo-games 50] [--seed 0] [--demo-opponent SPEC]

Plays the saved policy 500 games per colour against uniform random (the bench's evaluation
seeds), asks the exact solver about every move, and prints the losses, the share of the
learner's positions that are in the symmetry-augmented demos (regenerated as the bench does),
and the moves that drop the game value (a missed win or block) with how many of their
positions the demos contain.
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from genplay.envs.board_bots import SolverBot
from genplay.gail.saving.run_files import load_policy
from genplay.gail.suites.board_symmetry import augment_symmetries
from genplay.gail.suites.boardgame_presets import PRESETS
from genplay.gail.suites.boardgames import board_factory, collect_bot_demos


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("policy")
    ttt = PRESETS["tic_tac_toe"]  # the demos as the preset collects them
    p.add_argument("--n-demo-games", type=int, default=ttt.n_demo_games)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--demo-opponent", default=ttt.demo_opponents, help="the bench's --demo-opponent")
    args = p.parse_args(argv)
    if not Path(args.policy).exists() or args.n_demo_games < 1:
        print(f"error: no policy at {args.policy!r}, or --n-demo-games < 1", file=sys.stderr)
        return 2
    pol = load_policy(args.policy, env_id="genplay/TicTacToe-v0")
    demos = collect_bot_demos("tic_tac_toe", ttt.expert, args.n_demo_games, opponent=args.demo_opponent, seed=args.seed)
    demos = augment_symmetries(demos, "tic_tac_toe")
    seen = {demos.obs[k].tobytes() for k in demos.transition_indices()[0]}
    losses, n_states, n_seen, drops = 0, 0, 0, Counter()
    for colour in (0, 1):
        for g in range(500):
            env = board_factory("tic_tac_toe", "random", colour).make()
            obs, info = env.reset(seed=10_000 + args.seed + g + 1_000_000 * colour)
            solver, done = SolverBot(env.unwrapped.game, np.random.default_rng(0)), False
            while not done:
                n_states, n_seen = n_states + 1, n_seen + (obs.tobytes() in seen)
                a = int(np.asarray(pol(obs[None], info["action_mask"][None])).reshape(-1)[0])
                values = solver.action_values(env.unwrapped.state)
                if np.sign(values[a]) < np.sign(max(values.values())):
                    drops[obs.tobytes()] += 1
                obs, _, done, _, info = env.step(a)
            losses += info["outcome"] < 0
    print(f"losses {losses}/1000; learner positions {n_states}, in the augmented demos {n_seen / n_states:.3f}")
    print(
        f"value-dropping moves {sum(drops.values())} at {len(drops)} distinct positions, "
        f"{sum(k in seen for k in drops)} of them in the demos"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
