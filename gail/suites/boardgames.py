"""Board games for GAIL: search-bot demonstrations and win/draw/loss matches with confidence intervals.

A *player* is either a bot spec (``"solver"``, ``"mcts:400"``, ... see
``genplay.envs.board_bots``), which reads the OpenSpiel state of the env it plays in, or
a batched policy ``act(planes, action_masks)`` (a GAIL trainer, a saved policy, BC), which
sees only what the learner sees. Games run side by side, one env each, so a policy is
called once per ply for all unfinished games.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from genplay.envs import EnvFactory
from genplay.envs.board_bots import make_bot, set_policy_loader, set_puct_factory
from genplay.envs.boardgames import GAMES
from genplay.errors import EnvError
from genplay.gail.data.collect import as_policy_fn
from genplay.gail.data.demos import Demos
from genplay.gail.data.spaces import describe_space
from genplay.gail.saving.run_files import load_policy
from genplay.gail.suites.puct import spec_bot

set_policy_loader(load_policy)  # envs' policy:PATH bots load through gail without envs importing it
set_puct_factory(spec_bot)  # and puct:RUN_DIR:N bots (learned-prior PUCT) are built here too


def board_factory(game: str, opponent: str = "random", agent_player: int | None = None) -> EnvFactory:
    """The env factory of ``game`` (an OpenSpiel name in ``GAMES``) against ``opponent``."""
    if game not in GAMES:
        raise EnvError(f"unknown board game {game!r}; expected one of {sorted(GAMES)}")
    return EnvFactory(GAMES[game].env_id, {"opponent": opponent, "agent_player": agent_player})


@dataclass(frozen=True)
class Record:
    """Wins, draws and losses of one player against one opponent (from the player's side)."""

    win: int
    draw: int
    loss: int

    @property
    def n(self) -> int:
        return self.win + self.draw + self.loss

    @property
    def score(self) -> float:
        """Points per game: win 1, draw 0.5."""
        return (self.win + 0.5 * self.draw) / max(self.n, 1)

    def __add__(self, other: Record) -> Record:
        return Record(self.win + other.win, self.draw + other.draw, self.loss + other.loss)

    def summary(self) -> dict[str, Any]:
        """Rates with Wilson 95% intervals, and the score."""
        out: dict[str, Any] = {"n": self.n, "score": round(self.score, 4)}
        for key in ("win", "draw", "loss"):
            k = getattr(self, key)
            out[key] = round(k / max(self.n, 1), 4)
            out[f"{key}_ci95"] = [round(x, 4) for x in wilson(k, self.n)]
        return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` (sensible at 0 and n, unlike the normal one)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _actor(player: Any, envs: list, seed: int):
    """``act(indices, obs, masks) -> actions`` for a bot spec or a policy."""
    if isinstance(player, str):
        game = envs[0].unwrapped.game
        bots = [make_bot(player, game, seed=seed * 100_003 + i) for i in range(len(envs))]
        return lambda idx, obs, masks: np.array([bots[i](envs[i].unwrapped.state) for i in idx])
    act = as_policy_fn(player)
    return lambda idx, obs, masks: np.asarray(act(obs, masks)).reshape(-1)


def _run(
    factory: EnvFactory, player: Any, n_games: int, seed: int, record: bool
) -> tuple[list[dict[str, list]], np.ndarray]:
    """Play ``n_games`` side by side; per game its observations, actions, masks, rewards; and outcomes."""
    envs = [factory.make() for _ in range(n_games)]
    act = _actor(player, envs, seed)
    games: list[dict[str, list]] = []
    for i, env in enumerate(envs):
        obs, info = env.reset(seed=seed + i)
        games.append({"obs": [obs], "acts": [], "masks": [info["action_mask"]], "rewards": []})
        games[-1]["opponent"] = info["opponent"]
    outcomes = np.zeros(n_games, dtype=np.int64)
    active = [i for i, env in enumerate(envs) if not env.unwrapped.state.is_terminal()]
    while active:
        obs = np.stack([games[i]["obs"][-1] for i in active])
        masks = np.stack([games[i]["masks"][-1] for i in active])
        actions = act(active, obs, masks)
        still = []
        for i, a in zip(active, actions):
            o, r, term, trunc, info = envs[i].step(int(a))
            g = games[i]
            g["acts"].append(int(a))
            g["rewards"].append(float(r))
            if record:
                g["obs"].append(o)
                g["masks"].append(info["action_mask"])
            else:
                g["obs"][-1], g["masks"][-1] = o, info["action_mask"]
            if term or trunc:
                outcomes[i] = info.get("outcome", 0)
            else:
                still.append(i)
        active = still
    for env in envs:
        env.close()
    return games, outcomes


def _record(outcomes: np.ndarray) -> Record:
    return Record(int((outcomes > 0).sum()), int((outcomes == 0).sum()), int((outcomes < 0).sum()))


def play_games(
    game: str, player: Any, opponent: str, n_games: int, *, agent_player: int | None = None, seed: int = 0
) -> Record:
    """``n_games`` of ``player`` (bot spec or policy) against the bot ``opponent``; None draws colours per game."""
    if n_games < 1:
        raise ValueError(f"n_games must be >= 1, got {n_games}")
    _, outcomes = _run(board_factory(game, opponent, agent_player), player, n_games, seed, record=False)
    return _record(outcomes)


def play_both_colours(game: str, player: Any, opponent: str, n_games: int, *, seed: int = 0) -> dict[str, Any]:
    """``n_games`` with each colour; the per-colour and pooled records as :meth:`Record.summary`."""
    first = play_games(game, player, opponent, n_games, agent_player=0, seed=seed)
    second = play_games(game, player, opponent, n_games, agent_player=1, seed=seed + 1_000_000)
    return {"as_first": first.summary(), "as_second": second.summary(), "total": (first + second).summary()}


def collect_bot_demos(
    game: str, expert: Any, n_games: int, *, opponent: str = "random", seed: int = 0, label: str | None = None
) -> Demos:
    """``n_games`` of ``expert`` (a bot spec or a batched policy, as :func:`play_games`) against
    ``opponent``, colours alternating, in genplay's demo format; ``label`` names the expert in the
    metadata (default: the bot spec).

    The factory recorded in the demos draws the colour per episode, so the learner trains
    on both sides as the demos show. ``opponent`` may mix bots (``"random|mcts:10|solver"``,
    one drawn per game); the metadata keeps the expert's record against each.
    """
    if n_games < 1:
        raise ValueError(f"n_games must be >= 1, got {n_games}")
    parts = []
    for colour, n in ((0, (n_games + 1) // 2), (1, n_games // 2)):
        if n:
            parts.append(_run(board_factory(game, opponent, colour), expert, n, seed + colour * 1_000_000, True))
    games = [g for gs, _ in parts for g in gs]
    outcomes = np.concatenate([o for _, o in parts])
    factory = board_factory(game, opponent, None)
    env = factory.make()
    obs_space, act_space = describe_space(env.observation_space), describe_space(env.action_space)
    env.close()
    return Demos(
        obs=np.stack([o for g in games for o in g["obs"]]),
        acts=np.asarray([a for g in games for a in g["acts"]], dtype=np.int64),
        rewards=np.asarray([r for g in games for r in g["rewards"]], dtype=np.float32),
        episode_lengths=np.asarray([len(g["acts"]) for g in games], dtype=np.int64),
        terminated=np.ones(len(games), dtype=bool),
        env_id=factory.env_id,
        observation_space=obs_space,
        action_space=act_space,
        metadata={
            "policy": label if label is not None else expert,
            "opponent": opponent,
            "seed": seed,
            "expert_record": _record(outcomes).summary(),
            "expert_record_by_opponent": {
                name: dataclasses.asdict(_record(outcomes[[g["opponent"] == name for g in games]]))
                for name in sorted({g["opponent"] for g in games})
            },
        },
        action_masks=np.stack([m for g in games for m in g["masks"][:-1]]),
        env=factory,
    )
