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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genplay.envs.boardgames import GAMES, game_of
from genplay.errors import GenplayError, JobsFailed
from genplay.gail.evaluation.ladder import Games, fit_elo
from genplay.gail.suites.boardgames import Record, play_games

REFERENCES = ("random", "mcts:10", "mcts:50", "mcts:200")
"""Reference opponents of every game (tic-tac-toe adds the exact ``solver``)."""


def references(game: str) -> list[str]:
    return [*REFERENCES, "solver"] if game == "tic_tac_toe" else list(REFERENCES)


def bradley_terry(records: dict[tuple[str, str], Record]) -> dict[str, float]:
    """Elo ratings (400 log10 scale) maximising the Bradley-Terry likelihood; ``random`` (else the first) at 0.

    The ladder's fit (:func:`genplay.gail.evaluation.ladder.fit_elo`: a draw half a win to each side,
    0.1 prior draws a pairing so that unbeaten or winless players keep finite ratings).
    """
    players = sorted({p for pair in records for p in pair})
    if not players:
        return {}
    idx = {p: i for i, p in enumerate(players)}
    pairs = np.array([(idx[a], idx[b]) for a, b in records], dtype=np.int64).reshape(-1, 2)
    wdl = np.array([(r.win, r.draw, r.loss) for r in records.values()]).reshape(-1, 3)
    games = Games(len(players), pairs, wdl)
    elo = fit_elo(games.points(), games.played(), anchor=idx.get("random", 0))
    return {p: round(float(elo[idx[p]]), 1) for p in players}


@dataclass(frozen=True)
class PolicyFile:
    """A policy that a Ray task loads where it runs (a loaded SB3 policy does not travel)."""

    path: str
    env_id: str


def play_half(game: str, player: Any, opponent: str, n: int, agent_player: int, seed: int) -> Record:
    """``n`` games of ``player`` (a policy, :class:`PolicyFile` or bot spec) with one colour against ``opponent``."""
    if isinstance(player, PolicyFile):
        from genplay.gail.saving.run_files import load_policy

        player = load_policy(player.path, env_id=player.env_id)
    return play_games(game, player, opponent, n, agent_player=agent_player, seed=seed)


def run_suite(
    env_id: str, players: dict[str, Any], n_per_colour: int, *, seed: int = 0, out: str | Path | None = None,
    ray_address: str | None = None, max_retries: int = 2, gpus: float = 0.0, opponents: dict[str, str] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """Play ``players`` (name -> policy or bot spec) and the reference bots; results, ratings, files.

    ``opponents`` (name -> the env's opponent spec, e.g. ``mcts:50`` or ``policy:RUN``) replaces the
    reference bots: each player meets each of them, one pairing per opponent, and nothing else.

    Each (pairing, colour) is one job, here in order or as a Ray task (``ray_address``; a file
    policy then goes as a :class:`PolicyFile` and asks for ``gpus``). A pairing with a failed
    job is listed under ``failed`` and left out of the table and the ratings.
    """
    from genplay.gail.suites.fanout import Job, failures, run_jobs

    game = game_of(env_id)
    if game is None:
        ids = sorted(g.env_id for g in GAMES.values())
        raise GenplayError(f"--env: {env_id!r} is not a board game; --suite boardgames takes one of {ids}")
    refs = references(game) if opponents is None else list(opponents)
    pairings: list[tuple[str, str]] = [(p, r) for p in players for r in refs]
    if opponents is None:
        pairings += [(a, b) for i, a in enumerate(refs) for b in refs[i + 1 :]]
    specs = opponents or {}
    jobs = []
    for k, (a, b) in enumerate(pairings):
        player = players.get(a, a)
        gpu = gpus if isinstance(player, PolicyFile) else 0.0
        for colour in (0, 1):
            kwargs = {"game": game, "player": player, "opponent": specs.get(b, b), "n": n_per_colour,
                      "agent_player": colour, "seed": seed + (2 * k + colour) * n_per_colour}  # fmt: skip
            jobs.append(Job(f"{a} v {b} as {('first', 'second')[colour]}", kwargs, num_gpus=gpu))
    done = run_jobs(play_half, jobs, ray_address=ray_address, max_retries=max_retries)
    records: dict[tuple[str, str], Record] = {}
    rows = []
    for k, (a, b) in enumerate(pairings):
        first, second = done[2 * k], done[2 * k + 1]
        if not (first.ok and second.ok):
            continue
        records[(a, b)] = first.value + second.value
        rows.append({"player": a, "opponent": b, "as_first": first.value.summary(),
                     "as_second": second.value.summary(), "total": records[(a, b)].summary()})  # fmt: skip
    result = {"suite": "boardgames", "env": env_id, "game": game, "games_per_pairing": 2 * n_per_colour,
              "pairings": rows, "elo": bradley_terry(records), "failed": failures(done)}  # fmt: skip
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
    anchor = "random" if "random" in result["elo"] else min(result["elo"], default="random")  # bradley_terry's pin
    lines += ["", f"| player | Elo (Bradley-Terry, {anchor} = 0) |", "|---|---|"]
    for name, elo in sorted(result["elo"].items(), key=lambda kv: -kv[1]):
        lines.append(f"| {name} | {elo:.0f} |")
    if result.get("failed"):
        n = len(result["failed"])
        lines += ["", f"**{n} job(s) failed after their retries; their pairings are left out:**", ""]
        lines += [f"- {f['job']}: {f['error']} ({f['attempts']} attempts)" for f in result["failed"]]
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


def bot_or_run(arg: str, game: str, env_id: str, flag: str) -> str:
    """The env's opponent spec for ``arg``: a bot spec as is (a ``puct:``/``policy:`` path must exist),
    a run dir or policy zip as ``policy:PATH`` (loaded once here, so a bad file fails before any game)."""
    from genplay.envs.board_bots import check_bot_spec
    from genplay.gail.saving.run_files import load_policy

    if arg and Path(arg).exists():
        load_policy(arg, env_id=env_id)
        return f"policy:{arg}"
    try:
        kind, parsed = check_bot_spec(arg, game)
    except GenplayError as exc:
        raise GenplayError(f"{flag}: {arg}: no such policy dir or zip, and not a bot spec ({exc})") from None
    path = parsed[0] if kind == "puct" else parsed if kind == "policy" else None
    if isinstance(path, str):
        if not Path(path).exists():
            raise GenplayError(f"{flag}: {arg}: {path} does not exist (expected a genplay train run dir or policy zip)")
        load_policy(path, env_id=env_id)
    return arg


def cli_suite(
    env_id: str,
    policy_arg: str,
    n_per_colour: int,
    *,
    opponents: list[str] | None = None,
    seed: int = 0,
    out: str | Path | None = None,
    as_json: bool = False,
    ray_address: str | None = None,
    max_retries: int = 2,
    gpus: float = 0.0,
) -> dict[str, Any]:
    """``genplay evaluate --suite boardgames``: ``env_id`` picks the game, ``policy_arg`` the player
    (a ``gail train`` dir or policy zip, a bot spec such as ``mcts:400``, or ``expert``: the game's
    preset bot), ``n_per_colour``
    the games per colour per pairing; ``out`` a directory for JSON, Markdown and plot;
    ``opponents`` (bot specs, ``puct:RUN:N``, run dirs) replace the reference ladder with one pairing
    each. Prints the table (or JSON) and returns the result; failed jobs raise :class:`JobsFailed` after."""
    from genplay.gail.saving.run_files import load_policy

    game = game_of(env_id)
    if game is None:
        ids = sorted(g.env_id for g in GAMES.values())
        raise GenplayError(f"--env: {env_id!r} is not a board game; --suite boardgames takes one of {ids}")
    if policy_arg == "expert" and not Path(policy_arg).exists():  # the game's preset bot, as demos collect plays it
        from genplay.gail.suites.boardgame_presets import board_preset

        policy_arg = board_preset(env_id).expert
    policy: Any
    if Path(policy_arg).exists():
        name, policy = Path(policy_arg).name or "learned", load_policy(policy_arg, env_id=env_id)
        if ray_address is not None:  # checked here; each Ray task loads its own copy
            policy = PolicyFile(str(policy_arg), env_id)
    else:
        name = policy = bot_or_run(policy_arg, game, env_id, "--policy")
    specs = None if opponents is None else {o: bot_or_run(o, game, env_id, "--opponents") for o in opponents}
    players = {} if specs is None and policy in references(game) else {name: policy}
    ray = {"ray_address": ray_address, "max_retries": max_retries, "gpus": gpus}
    result = run_suite(env_id, players, n_per_colour, seed=seed, out=out, opponents=specs, **ray)
    print(json.dumps(result) if as_json else markdown(result), end="\n" if as_json else "")
    if result["failed"]:
        raise JobsFailed(result["failed"], out or "the output above")
    return result
