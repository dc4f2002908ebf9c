"""``genplay evaluate --suite boardgames``: a policy against random and MCTS ladders, with ratings.

Every player meets every reference bot (and the bots meet each other, which anchors the
scale), ``n`` games with each colour per pairing. Results: win/draw/loss with Wilson 95%
intervals per pairing, and Elo ratings from a Bradley-Terry fit on all games (a draw
counts half a win to each side), uniform random pinned at 0. Written as JSON, a Markdown
table and a plot.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from genplay.envs.boardgames import GAMES, game_of
from genplay.errors import GenplayError
from genplay.gail.boardgames import Record, play_games

REFERENCES = ("random", "mcts:10", "mcts:50", "mcts:200")
"""Reference opponents of every game (tic-tac-toe adds the exact ``solver``)."""


def references(game: str) -> list[str]:
    return [*REFERENCES, "solver"] if game == "tic_tac_toe" else list(REFERENCES)


def bradley_terry(records: dict[tuple[str, str], Record], iters: int = 2000) -> dict[str, float]:
    """Elo ratings (400 log10 scale) maximising the Bradley-Terry likelihood; ``random`` (else the first) at 0.

    MM updates (Hunter 2004) on half-win counts, with a tiny prior of one draw against a
    virtual 0-rated player so that unbeaten or winless players keep finite ratings.
    """
    players = sorted({p for pair in records for p in pair})
    idx = {p: i for i, p in enumerate(players)}
    n = len(players) + 1  # the virtual player is last
    wins, games = np.zeros(n), np.zeros((n, n))
    for (a, b), r in records.items():
        i, j = idx[a], idx[b]
        wins[i] += r.win + 0.5 * r.draw
        wins[j] += r.loss + 0.5 * r.draw
        games[i, j] += r.n
        games[j, i] += r.n
    games[:-1, -1] += 1.0
    games[-1, :-1] += 1.0
    wins[:-1] += 0.5
    wins[-1] += 0.5 * (n - 1)
    gamma = np.ones(n)
    for _ in range(iters):
        denom = (games / (gamma[:, None] + gamma[None, :])).sum(1)
        new = wins / np.maximum(denom, 1e-12)
        new[-1] = 1.0
        if np.allclose(new, gamma, rtol=1e-10):
            break
        gamma = new
    elo = 400 * np.log10(np.maximum(gamma, 1e-300))
    anchor = elo[idx["random"]] if "random" in idx else elo[0]
    return {p: round(float(elo[idx[p]] - anchor), 1) for p in players}


def run_suite(
    env_id: str, players: dict[str, Any], n_per_colour: int, *, seed: int = 0, out: str | Path | None = None
) -> dict[str, Any]:
    """Play ``players`` (name -> policy or bot spec) and the reference bots; results, ratings, files."""
    game = game_of(env_id)
    if game is None:
        ids = sorted(g.env_id for g in GAMES.values())
        raise GenplayError(f"--env: {env_id!r} is not a board game; --suite boardgames takes one of {ids}")
    refs = references(game)
    pairings: list[tuple[str, str]] = [(p, r) for p in players for r in refs]
    pairings += [(a, b) for i, a in enumerate(refs) for b in refs[i + 1 :]]
    records: dict[tuple[str, str], Record] = {}
    rows = []
    for k, (a, b) in enumerate(pairings):
        player = players.get(a, a)
        first = play_games(game, player, b, n_per_colour, agent_player=0, seed=seed + 2 * k * n_per_colour)
        second = play_games(game, player, b, n_per_colour, agent_player=1, seed=seed + (2 * k + 1) * n_per_colour)
        records[(a, b)] = first + second
        rows.append({"player": a, "opponent": b, "as_first": first.summary(), "as_second": second.summary(),
                     "total": (first + second).summary()})  # fmt: skip
    result = {"suite": "boardgames", "env": env_id, "game": game, "games_per_pairing": 2 * n_per_colour,
              "pairings": rows, "elo": bradley_terry(records)}  # fmt: skip
    if out is not None:
        write_outputs(result, Path(out))
    return result


def markdown(result: dict[str, Any]) -> str:
    """Win/draw/loss (95% CI) per pairing, then the ratings."""
    lines = [
        f"### {result['game']}: {result['games_per_pairing']} games per pairing (half with each colour)",
        "",
        "| player | opponent | win | draw | loss | score |",
        "|---|---|---|---|---|---|",
    ]

    def cell(t: dict, key: str) -> str:
        lo, hi = t[f"{key}_ci95"]
        return f"{t[key]:.3f} [{lo:.3f}, {hi:.3f}]"

    for row in result["pairings"]:
        t = row["total"]
        lines.append(
            f"| {row['player']} | {row['opponent']} | {cell(t, 'win')} | {cell(t, 'draw')} | "
            f"{cell(t, 'loss')} | {t['score']:.3f} |"
        )
    lines += ["", "| player | Elo (Bradley-Terry, random = 0) |", "|---|---|"]
    for name, elo in sorted(result["elo"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {elo:.0f} |")
    return "\n".join(lines) + "\n"


def write_outputs(result: dict[str, Any], out: Path) -> None:
    """``suite.json``, ``suite.md`` and ``suite.png`` (ratings and per-pairing scores) in ``out``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    (out / "suite.json").write_text(json.dumps(result, indent=2))
    (out / "suite.md").write_text(markdown(result))
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    elo = sorted(result["elo"].items(), key=lambda kv: kv[1])
    ax1.barh([k for k, _ in elo], [v for _, v in elo])
    ax1.set_xlabel("Elo (random = 0)")
    rows = result["pairings"]
    labels = [f"{r['player']} v {r['opponent']}" for r in rows]
    bottom = np.zeros(len(rows))
    for key, colour in (("win", "tab:green"), ("draw", "tab:gray"), ("loss", "tab:red")):
        vals = np.array([r["total"][key] for r in rows])
        ax2.barh(labels, vals, left=bottom, color=colour, label=key)
        bottom += vals
    ax2.legend(loc="lower right", fontsize=7)
    ax2.tick_params(axis="y", labelsize=6)
    ax2.set_xlabel("share of games")
    fig.suptitle(f"{result['game']}: {result['games_per_pairing']} games per pairing")
    fig.tight_layout()
    fig.savefig(out / "suite.png", dpi=120)
    plt.close(fig)


def elo_gap(score: float) -> float:
    """The Elo difference that predicts ``score`` (for reading the table)."""
    score = min(max(score, 1e-6), 1 - 1e-6)
    return 400 * math.log10(score / (1 - score))


def cli_suite(args) -> None:
    """``genplay evaluate --suite boardgames``: ``--env`` picks the game, ``--policy`` the player
    (a ``gail train`` dir or policy zip, or a bot spec such as ``mcts:400``), ``--n-episodes``
    the games per colour per pairing; ``--out`` a directory for JSON, Markdown and plot."""
    from genplay.envs.board_bots import parse_bot_spec
    from genplay.gail.pipeline import load_policy

    if game_of(args.env) is None:
        ids = sorted(g.env_id for g in GAMES.values())
        raise GenplayError(f"--env: {args.env!r} is not a board game; --suite boardgames takes one of {ids}")
    policy: Any
    if Path(args.policy).exists():
        name, policy = Path(args.policy).name or "learned", load_policy(args.policy, env_id=args.env)
    else:
        try:
            parse_bot_spec(args.policy)
        except GenplayError as exc:
            raise GenplayError(f"--policy: no such file, and not a bot spec ({exc})") from None
        name = policy = args.policy
    players = {} if policy in references(game_of(args.env)) else {name: policy}
    result = run_suite(args.env, players, args.n_episodes, seed=args.seed, out=args.out)
    print(json.dumps(result) if args.json else markdown(result), end="" if not args.json else "\n")
