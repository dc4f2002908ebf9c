"""PUCT with a learned prior against plain MCTS on a board game: one JSON line per pairing.

Each pairing plays ``--games`` games, colours alternating, of ``puct:RUN:N`` (the run's masked
policy as prior, OpenSpiel's Python MCTSBot with PUCT selection) against an opponent bot spec, or
``pymcts:N``: plain MCTS (UCT c=2, uniform prior, the same random rollouts) in the same Python search
code, which separates the prior's cost from the language's (``mcts:N`` is OpenSpiel's C++ search).
The line has the score (win + draw/2) with a Wilson 95% interval on it, wins/draws/losses, and the
seconds per move of each side.

    python scripts/bench_puct.py --run runs/c4_bc --sims 50 --opponent mcts:50 --games 200
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchlib

from benchlib import ArgumentParser, count, run_main  # noqa: E402

from genplay.cli_args import float_in  # noqa: E402
from genplay.errors import GenplayError  # noqa: E402
from genplay.gail.suites.puct import DEFAULT_MIX  # noqa: E402


def play_pairing(game, player, opponent, n_games: int) -> dict:
    """``n_games`` of ``player`` against ``opponent`` (both ``bot(state)``), player first in even games."""
    wins = draws = losses = 0
    seconds, moves = [0.0, 0.0], [0, 0]
    for g in range(n_games):
        me = g % 2
        bots = (player, opponent) if me == 0 else (opponent, player)
        state = game.new_initial_state()
        while not state.is_terminal():
            mover = state.current_player()
            t = time.perf_counter()
            action = bots[mover](state)
            side = 0 if mover == me else 1
            seconds[side] += time.perf_counter() - t
            moves[side] += 1
            state.apply_action(action)
        r = state.returns()[me]
        wins, draws, losses = wins + (r > 0), draws + (r == 0), losses + (r < 0)
    return {
        "wins": int(wins),
        "draws": int(draws),
        "losses": int(losses),
        "s_per_move_puct": round(seconds[0] / max(moves[0], 1), 5),
        "s_per_move_opponent": round(seconds[1] / max(moves[1], 1), 5),
    }


def main(argv: list[str] | None = None) -> int:
    ap = ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", required=True, help="the learned run dir (or policy zip) whose policy is the prior")
    ap.add_argument("--game", default="connect_four")
    ap.add_argument("--sims", type=count(), nargs="+", required=True, help="PUCT simulations (one pairing each)")
    ap.add_argument("--opponent", nargs="+", required=True, help="bot specs (mcts:50 ...) or pymcts:N")
    ap.add_argument("--games", type=count(), default=100)
    ap.add_argument(
        "--value",
        choices=["auto", "head", "rollout", "critic"],
        default="auto",
        help="leaf value: auto = the run's value head (mixed with a rollout) where it has one, else rollout",
    )
    mix = float_in(0.0, 1.0 + 1e-12)
    ap.add_argument("--mix", type=mix, default=DEFAULT_MIX, help="rollout weight in a head value (AlphaGo's lambda)")
    ap.add_argument("--batch-children", action="store_true", help="evaluate a node's children in its network call")
    ap.add_argument(
        "--c", type=float_in(1e-9), default=None, help="PUCT exploration constant (default: 1 with the head, else 2)"
    )
    ap.add_argument("--temperature", type=float_in(1e-6), default=1.0, help="the prior's softmax temperature")
    ap.add_argument("--uniform", action="store_true", help="control: a uniform prior instead of the run's policy")
    ap.add_argument(
        "--decisive",
        choices=["auto", "on", "off"],
        default="auto",
        help="win-in-one check at the search's positions (auto: on in connect four and tic-tac-toe)",
    )
    ap.add_argument("--no-decisive", action="store_true", help="the same as --decisive off")
    ap.add_argument(
        "--anti-decisive",
        choices=["auto", "off", "root", "tree"],
        default="auto",
        help="where the prior drops losing moves",
    )
    ap.add_argument("--seed", type=count(0), default=0)
    args = ap.parse_args(argv)
    import pyspiel
    import torch

    torch.set_num_threads(1)
    import genplay.gail.suites.boardgames  # noqa: F401  (installs the policy loader and PUCT factory)
    from genplay.envs.board_bots import make_bot
    from genplay.gail.suites.boardgames import wilson
    from genplay.gail.suites.puct import PuctConfig, load_net, puct_bot
    from genplay.gail.suites.value_head import load_value_head

    if args.game not in pyspiel.registered_names():  # load_game would print the whole list to stderr
        raise GenplayError(f"--game: {args.game!r} is not an OpenSpiel game")
    game = pyspiel.load_game(args.game)
    for opp in args.opponent:
        n = opp.partition(":")[2]
        if opp.startswith("pymcts:") and not (n.isdigit() and int(n) > 0):
            raise GenplayError(f"--opponent: {opp!r}: pymcts:N needs a positive integer N")
    net = load_net(args.run, args.game)
    head = load_value_head(args.run, args.game) if args.value in ("auto", "head") else None
    for sims in args.sims:
        for opp in args.opponent:
            seed = args.seed * 1_000_003 + sims
            player = puct_bot(
                net,
                game,
                PuctConfig(
                    sims,
                    c=args.c,
                    value=args.value,
                    seed=seed,
                    temperature=args.temperature,
                    mix=args.mix,
                    decisive=None if args.decisive == "auto" and not args.no_decisive else args.decisive == "on",
                    anti_decisive=args.anti_decisive,
                ),
                head=head,
                uniform=args.uniform,
                batch_children=args.batch_children,
            )
            if opp.startswith("pymcts:"):  # plain MCTS: UCT, uniform prior, the same rollouts and search code
                opponent = puct_bot(
                    net,
                    game,
                    PuctConfig(int(opp.partition(":")[2]), value="rollout", seed=seed + 1),
                    uniform=True,
                    uct=True,
                )
            else:
                opponent = make_bot(opp, game, seed=seed + 1)
            t = time.perf_counter()
            out = play_pairing(game, player, opponent, args.games)
            n = args.games
            score = (out["wins"] + 0.5 * out["draws"]) / n
            lo, hi = wilson(out["wins"] + 0.5 * out["draws"], n)  # draws as half-wins
            line = {
                "bench": "puct",
                "game": args.game,
                "prior_run": args.run,
                "prior": "uniform" if args.uniform else "learned",
                "value": player.evaluator.value,  # type: ignore[attr-defined]
                "mix": args.mix if player.evaluator.value == "head" else None,  # type: ignore[attr-defined]
                "batch_children": args.batch_children,
                "fused": player.evaluator.twin is not None,  # type: ignore[attr-defined]
                "decisive": player.evaluator.decisive,  # type: ignore[attr-defined]
                "anti_decisive": player.evaluator.anti_decisive,  # type: ignore[attr-defined]
                "c": player.c,  # type: ignore[attr-defined]
                "temperature": args.temperature,
                "simulations": sims,
                "opponent": opp,
                "games": n,
                "score": round(score, 4),
                "score_ci95": [round(lo, 4), round(hi, 4)],
                **out,
                "time_ratio_puct_over_opponent": round(
                    out["s_per_move_puct"] / max(out["s_per_move_opponent"], 1e-9), 2
                ),
                "net_calls": player.evaluator.net_calls,  # type: ignore[attr-defined]
                "seconds": round(time.perf_counter() - t, 1),
                "seed": args.seed,
                "omp_threads": os.environ.get("OMP_NUM_THREADS"),
                "loadavg_1m": round(os.getloadavg()[0], 2),
            }
            print(json.dumps(line), flush=True)
    return 0


if __name__ == "__main__":
    run_main(main)
