#!/usr/bin/env python
"""Full games of a RAM-reading scripted Atari expert against uniform-random play.

Prints one line per game, then ONE JSON line (the last): the expert's scores, their mean
and std, the random policy's mean, CPU-clock seconds per expert game and the games that
ended stuck (``stalled``).

    nice -n 10 python scripts/bench_atari_experts.py --game pong --games 10
    nice -n 10 python scripts/bench_atari_experts.py --game breakout --games 10 --random-games 3
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from benchlib import ArgumentParser, emit

from genplay.envs.atari import make_atari
from genplay.envs.atari_experts import ATARI_EXPERTS, RandomExpert, play_game


def main() -> None:
    p = ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--game", default="pong", choices=sorted(ATARI_EXPERTS))
    p.add_argument("--games", type=int, default=10)
    p.add_argument("--random-games", type=int, default=None, help="random-policy games (default: --games)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--sticky", action=argparse.BooleanOptionalAction, default=True)
    p.add_argument("--out", default=None, help="also append the JSON line to this file")
    args = p.parse_args()

    env = make_atari(args.game, record_ram=True, sticky=args.sticky)
    scores, stalled, seconds = [], 0, 0.0
    for i in range(args.games):
        seed = args.seed * 1000 + i
        start = time.process_time()
        result = play_game(env, ATARI_EXPERTS[args.game](np.random.default_rng(seed)), seed=seed)
        seconds += time.process_time() - start
        scores.append(result.score)
        stalled += result.stalled
        print(f"game {i}: score {result.score:g} steps {result.steps} stalled {result.stalled}", flush=True)
    n_random = args.games if args.random_games is None else args.random_games
    random_scores = [
        play_game(env, RandomExpert(np.random.default_rng(10_000 + i), env.action_space.n), seed=10_000 + i).score
        for i in range(n_random)
    ]
    emit(
        {
            "game": args.game,
            "games": args.games,
            "seed": args.seed,
            "sticky": args.sticky,
            "scores": scores,
            "mean": float(np.mean(scores)),
            "std": float(np.std(scores)),
            "random_mean": float(np.mean(random_scores)) if random_scores else None,
            "random_games": n_random,
            "seconds_per_game": round(seconds / max(args.games, 1), 2),
            "stalled_games": stalled,
        },
        args.out,
    )


if __name__ == "__main__":
    main()
