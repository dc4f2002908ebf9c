"""An Elo ladder on one board game: one JSON line per entrant (issue 31 item 3).

A round-robin of the entrants (bot specs such as ``random``, ``mcts:N``, ``alphabeta:D``,
``solver``, ``puct:RUN:N``, and ``genplay train`` run dirs), both colours, ``--games-per-colour``
games each way (``--slow-games-per-colour`` for a pairing with a ``--slow`` entrant), through the
board-game suite's ``play_half``; Bradley-Terry ratings (choix's ML fit, a draw half a win) on the
Elo scale with ``random`` at 0, and percentile-bootstrap 95% intervals over the games. Each line:
env, entrant, arg, elo, ci95, games, score (points per game), anchor, method, the schedule,
bootstrap, prior_draws, wall_s, load (1-minute load average before and after), date, command.
``--out DIR`` also writes ladder.json, ladder.md and ladder.png there.

    OMP_NUM_THREADS=1 python scripts/bench_elo.py --env genplay/TicTacToe-v0 \\
        --entrants random,mcts:10,mcts:50,solver,runs/ttt_bc --games-per-colour 100 --out bench_results/ladder/ttt
"""

from __future__ import annotations

import datetime
import os
import shlex
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchlib import ArgumentParser, count, emit, run_main  # noqa: E402


def _list(text: str) -> list[str]:
    return [t for t in (s.strip() for s in text.split(",")) if t]


def main() -> int:
    p = ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--env", required=True, help="a board game, e.g. genplay/ConnectFour-v0")
    p.add_argument("--entrants", type=_list, required=True, help="comma-separated bot specs and run dirs")
    p.add_argument("--games-per-colour", type=count(1), default=50, help="games with each colour per pairing")
    p.add_argument("--slow", type=_list, default=[], help="entrants whose pairings play --slow-games-per-colour")
    p.add_argument("--slow-games-per-colour", type=count(1), default=20)
    p.add_argument("--bootstrap", type=count(0), default=1000, help="bootstrap replicates for the CIs")
    p.add_argument("--prior-draws", type=float, default=0.1, help="virtual draws per pairing (0: plain ML)")
    p.add_argument("--seed", type=count(0), default=0)
    p.add_argument("--out", default=None, help="directory for ladder.json, ladder.md, ladder.png")
    p.add_argument("--jsonl", default=None, help="also append the JSON lines to this file")
    args = p.parse_args()

    from genplay.gail.evaluation.ladder import FitConfig
    from genplay.gail.suites.board_ladder import LadderConfig, entrants_of, run_ladder
    from genplay.settings import ConfigError

    try:
        fit = FitConfig(prior_draws=args.prior_draws, bootstrap=args.bootstrap, seed=args.seed)
        config = LadderConfig(n_per_colour=args.games_per_colour, slow=tuple(args.slow),
                              slow_n_per_colour=args.slow_games_per_colour, seed=args.seed, fit=fit)  # fmt: skip
    except ConfigError as exc:
        p.error(str(exc).replace("FitConfig.", "--").replace("LadderConfig.", "--").replace("_", "-"))
    entrants = entrants_of(args.env, args.entrants, "--entrants")
    load0, start = os.getloadavg()[0], time.perf_counter()
    result = run_ladder(args.env, entrants, config, out=args.out)
    wall = round(time.perf_counter() - start, 1)
    common = {"env": args.env, "anchor": result["anchor"], "method": result["method"],
              "games_per_colour": args.games_per_colour, "slow": args.slow,
              "slow_games_per_colour": args.slow_games_per_colour, "bootstrap": args.bootstrap,
              "prior_draws": args.prior_draws, "seed": args.seed, "wall_s": wall,
              "load": [round(load0, 2), round(os.getloadavg()[0], 2)],
              "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
              "command": shlex.join(["python", *sys.argv])}  # fmt: skip
    for row in result["ratings"]:
        emit({**common, **row}, args.jsonl)
    return 1 if result["failed"] else 0


if __name__ == "__main__":
    run_main(main)
