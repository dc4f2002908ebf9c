"""An Elo ladder per board game: a round-robin of bots and run directories, rated by Bradley-Terry.

Every pair of entrants meets with both colours, ``n_per_colour`` games each way (a pairing with a
``slow`` entrant plays ``slow_n_per_colour``: a planned schedule that spends the CPU where
games are cheap); the games run through the board-game suite's own ``play_half``, one job per
(pairing, colour), in order or as Ray tasks. Ratings and their bootstrap intervals come from
:mod:`genplay.gail.evaluation.ladder`, ``random`` at 0 (the first entrant when random is not
in). Written as ``ladder.json`` (ratings, intervals, the pairing table, every job's counts and
seed), ``ladder.md`` and ``ladder.png``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genplay.envs.boardgames import GAMES, game_of
from genplay.errors import GenplayError
from genplay.gail.evaluation.ladder import METHOD, FitConfig, Games, Ratings, plot_ladder, rate
from genplay.gail.suites.boardgame_suite import PolicyFile, bot_or_run, play_half
from genplay.gail.suites.boardgames import Record
from genplay.settings import Int, check_fields

MAX_ENTRANTS = 32
"""Most entrants of one ladder (496 pairings): more would not finish on a 2-core machine."""


@dataclass(frozen=True)
class LadderConfig:
    """The schedule of a ladder and how it is rated."""

    n_per_colour: int = 50
    """Games with each colour per pairing."""
    slow: tuple[str, ...] = ()
    """Entrants (as given) whose pairings play ``slow_n_per_colour`` games per colour instead."""
    slow_n_per_colour: int = 20
    """Games per colour of a pairing with a slow entrant."""
    seed: int = 0
    """First game seed; each (pairing, colour) job gets its own block of seeds."""
    fit: FitConfig = field(default_factory=FitConfig)

    def __post_init__(self) -> None:
        rules = {"n_per_colour": Int(1, 100_000), "slow_n_per_colour": Int(1, 100_000), "seed": Int(0, 2**31 - 1)}
        check_fields(self, rules)


@dataclass(frozen=True)
class Entrant:
    """One ladder entrant: its display name, the argument it came from, how it plays each side."""

    name: str
    arg: str
    player: Any
    """A bot spec or a :class:`PolicyFile` (loaded where the job runs)."""
    opponent: str
    """The env's opponent spec (a run dir as ``policy:PATH``)."""


def _display_name(arg: str) -> str:
    """Run dirs by their folder name; ``puct:RUN:N`` as ``puct:NAME:N``; bot specs as given."""
    if arg.startswith("puct:"):
        run, _, n = arg[len("puct:") :].rpartition(":")
        return f"puct:{Path(run).name}:{n}"
    if arg.startswith("policy:"):
        return Path(arg[len("policy:") :]).name
    return Path(arg).name if Path(arg).exists() else arg


def entrants_of(env_id: str, args: list[str], flag: str = "--ladder") -> list[Entrant]:
    """Check every entrant before any game (bad specs, missing or unloadable run dirs, duplicates)."""
    game = game_of(env_id)
    if game is None:
        ids = sorted(g.env_id for g in GAMES.values())
        raise GenplayError(f"--env: {env_id!r} is not a board game; a ladder takes one of {ids}")
    args = [a.strip() for a in args]
    if len(args) < 2 or len(args) > MAX_ENTRANTS:
        raise GenplayError(f"{flag}: expected 2 to {MAX_ENTRANTS} comma-separated entrants, got {len(args)}")
    out: list[Entrant] = []
    seen: dict[str, str] = {}
    for arg in args:
        spec = bot_or_run(arg, game, env_id, flag)
        name = _display_name(arg)
        if name in seen:
            raise GenplayError(f"{flag}: {arg!r} and {seen[name]!r} both show as {name!r}; give each entrant once")
        seen[name] = arg
        player = PolicyFile(spec[len("policy:") :], env_id) if spec.startswith("policy:") else spec
        out.append(Entrant(name=name, arg=arg, player=player, opponent=spec))
    return out


def schedule(entrants: list[Entrant], config: LadderConfig) -> list[tuple[int, int, int]]:
    """``(i, j, games per colour)`` for every pair ``i < j``: the round-robin."""
    slow = set(config.slow)
    unknown = slow - {e.arg for e in entrants} - {e.name for e in entrants}
    if unknown:
        raise GenplayError(f"--slow: {sorted(unknown)} are not entrants of this ladder")
    pairs = []
    for i, a in enumerate(entrants):
        for j in range(i + 1, len(entrants)):
            b = entrants[j]
            is_slow = bool({a.arg, a.name, b.arg, b.name} & slow)
            pairs.append((i, j, config.slow_n_per_colour if is_slow else config.n_per_colour))
    return pairs


def run_ladder(
    env_id: str, entrants: list[Entrant], config: LadderConfig = LadderConfig(), *, out: str | Path | None = None,
    ray_address: str | None = None, max_retries: int = 2, progress: bool = True,
) -> dict[str, Any]:  # fmt: skip
    """Play the round-robin, rate it, write the files to ``out``; the result as a JSON-ready dict.

    A pairing with a failed job is listed under ``failed`` and left out of the ratings.
    """
    from genplay.gail.suites.fanout import Job, failures, run_jobs

    game = game_of(env_id)
    plan = schedule(entrants, config)
    jobs = []
    seed = config.seed
    for i, j, n in plan:
        for colour in (0, 1):
            kwargs = {"game": game, "player": entrants[i].player, "opponent": entrants[j].opponent, "n": n,
                      "agent_player": colour, "seed": seed}  # fmt: skip
            seed += n
            label = f"{entrants[i].name} v {entrants[j].name} as {('first', 'second')[colour]}"
            jobs.append(Job(label, kwargs))

    def report(result: Any) -> None:
        if progress:
            what = result.value.summary()["score"] if result.ok else "failed"
            print(f"ladder: {result.job.label}: {what}", file=sys.stderr, flush=True)

    done = run_jobs(play_half, jobs, ray_address=ray_address, max_retries=max_retries, on_done=report)
    names = [e.name for e in entrants]
    pairs, wdl, rows, game_rows = [], [], [], []
    for k, (i, j, _) in enumerate(plan):
        first, second = done[2 * k], done[2 * k + 1]
        if not (first.ok and second.ok):
            continue
        for colour, res in ((0, first), (1, second)):
            pairs.append((i, j))
            wdl.append((res.value.win, res.value.draw, res.value.loss))
            game_rows.append({"player": names[i], "opponent": names[j], "player_colour": ("first", "second")[colour],
                              "seed": res.job.kwargs["seed"], **asdict(res.value)})  # fmt: skip
        total: Record = first.value + second.value
        rows.append({"player": names[i], "opponent": names[j], "as_first": first.value.summary(),
                     "as_second": second.value.summary(), "total": total.summary()})  # fmt: skip
    anchor = names.index("random") if "random" in names else 0
    games = Games(len(names), np.array(pairs, dtype=np.int64).reshape(-1, 2), np.array(wdl).reshape(-1, 3))
    try:
        ratings = rate(games, anchor=anchor, config=config.fit)
    except ValueError as exc:
        raise GenplayError(f"ladder: {exc}") from None
    table = [{"entrant": names[k], "arg": entrants[k].arg, "elo": round(float(ratings.elo[k]), 1),
              "ci95": [round(float(ratings.low[k]), 1), round(float(ratings.high[k]), 1)],
              "games": int(ratings.games[k]), "score": round(float(ratings.points[k] / max(ratings.games[k], 1)), 4)}
             for k in np.argsort(-ratings.elo)]  # fmt: skip
    result = {"suite": "boardgames-ladder", "env": env_id, "game": game, "method": METHOD, "anchor": names[anchor],
              "fit": asdict(config.fit), "n_per_colour": config.n_per_colour, "slow": list(config.slow),
              "slow_n_per_colour": config.slow_n_per_colour, "ratings": table, "pairings": rows, "games": game_rows,
              "failed": failures(done)}  # fmt: skip
    if out is not None:
        write_ladder(result, ratings, names, Path(out))
    return result


def markdown(result: dict[str, Any]) -> str:
    """The ratings table, then each pairing's score."""
    fit = result["fit"]
    lines = [f"### {result['game']}: Elo ladder ({result['method']}; {result['anchor']} = 0; "
             f"{fit['bootstrap']} bootstrap replicates, {fit['prior_draws']} prior draws a pairing)", "",
             "| entrant | Elo | 95% CI | games | score |", "|---|---|---|---|---|"]  # fmt: skip
    for r in result["ratings"]:
        lo, hi = r["ci95"]
        lines.append(f"| {r['entrant']} | {r['elo']:.0f} | [{lo:.0f}, {hi:.0f}] | {r['games']} | {r['score']:.3f} |")
    lines += ["", "| player | opponent | games | score (win + draw/2) |", "|---|---|---|---|"]
    for p in result["pairings"]:
        lines.append(f"| {p['player']} | {p['opponent']} | {p['total']['n']} | {p['total']['score']:.3f} |")
    if result["failed"]:
        lines += ["", f"**{len(result['failed'])} job(s) failed; their pairings are left out.**"]
    return "\n".join(lines) + "\n"


def write_ladder(result: dict[str, Any], ratings: Ratings, names: list[str], out: Path) -> None:
    """``ladder.json``, ``ladder.md`` and ``ladder.png`` in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "ladder.json").write_text(json.dumps(result, indent=1))
    (out / "ladder.md").write_text(markdown(result))
    n = sum(p["total"]["n"] for p in result["pairings"])
    title = f"{result['game']}: {len(names)} entrants, {n} games (round-robin, both colours)"
    plot_ladder(names, ratings, out / "ladder.png", title=title, anchor=result["anchor"])
