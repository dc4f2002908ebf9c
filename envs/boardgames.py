"""Two-player OpenSpiel board games as single-agent Gymnasium envs (``genplay/TicTacToe-v0`` ...).

Rules are OpenSpiel's (``pyspiel``): legal moves, transitions, terminal tests and returns
all come from the library; nothing here re-implements a rule. What this module adds is:

* an **observer** (:class:`PlaneObserver`): the board as binary planes from the agent's
  point of view, ``(3, H, W)`` = own stones, opponent's stones, empty cells, read off
  OpenSpiel's own observation tensor (only the plane order differs per game);
* the **opponent** (a bot from :mod:`genplay.envs.board_bots`, or any policy set with
  :meth:`BoardGameEnv.set_opponent`, e.g. a snapshot of the learner), which moves inside
  ``step`` until it is the agent's turn again;
* the **agent's colour**: fixed (``agent_player=0`` moves first, ``1`` second) or drawn
  per episode (``None``).

Reward: the agent's OpenSpiel return at the end of the game (+1 win, 0 draw, -1 loss),
0 before. Legal actions: :meth:`action_masks` (as sb3-contrib's MaskablePPO expects) and
``info["action_mask"]``; ``info["opponent"]`` names this episode's opponent (its spec, or
``"policy"`` for one set with :meth:`BoardGameEnv.set_opponent`). An illegal action raises
:class:`IllegalActionError`; with ``illegal="lose"`` it instead ends the episode as a loss
(reward -1, board unchanged, ``info["illegal_action"] = True``). Never a silently wrong state.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from genplay.envs.board_bots import Bot, check_bot_spec, make_bot, policy_bot
from genplay.errors import EnvError


class IllegalActionError(EnvError):
    """The agent chose an action that is not legal in the current position."""


@dataclass(frozen=True)
class PlaneObserver:
    """Where player ``p``'s stones are in OpenSpiel's observation tensor of a game.

    ``own[p]`` / ``opp[p]`` are plane indices of ``observation_tensor(p)`` (some games
    write absolute colours, othello writes them relative to ``p``); ``empty`` the empty plane.
    """

    own: tuple[int, int]
    opp: tuple[int, int]
    empty: int

    def planes(self, state, player: int, shape: tuple[int, ...]) -> np.ndarray:
        """``(3, H, W)`` int8: the player's stones, the opponent's, the empty cells."""
        t = np.asarray(state.observation_tensor(player), dtype=np.float32).reshape(shape)
        return np.stack([t[self.own[player]], t[self.opp[player]], t[self.empty]]).astype(np.int8)


@dataclass(frozen=True)
class GameSpec:
    """An OpenSpiel game genplay wraps: its ``pyspiel`` name, observer and gym id."""

    name: str
    env_id: str
    observer: PlaneObserver


GAMES: dict[str, GameSpec] = {
    # tic_tac_toe planes: empty, nought (player 1), cross (player 0)
    "tic_tac_toe": GameSpec("tic_tac_toe", "genplay/TicTacToe-v0", PlaneObserver((2, 1), (1, 2), 0)),
    # connect_four planes: player 0, player 1, empty
    "connect_four": GameSpec("connect_four", "genplay/ConnectFour-v0", PlaneObserver((0, 1), (1, 0), 2)),
    # othello planes are player-relative: empty, own, opponent
    "othello": GameSpec("othello", "genplay/Othello-v0", PlaneObserver((1, 1), (2, 2), 0)),
}
"""The games registered under ``genplay/`` ids (see ``envs/__init__.py``)."""

ILLEGAL_MODES = ("raise", "lose")


def game_of(env_id: str) -> str | None:
    """The OpenSpiel game name behind a genplay board-game id, else None."""
    return next((g.name for g in GAMES.values() if g.env_id == env_id), None)


class BoardGameEnv(gym.Env):
    """One side of a two-player OpenSpiel game; the other side is the opponent.

    Args:
        game: an OpenSpiel game name from :data:`GAMES`.
        opponent: a bot spec (``random``, ``mcts:N``, ``alphabeta:D``, ``solver``,
            ``policy:PATH``; see ``board_bots``), or several joined by ``|`` (e.g.
            ``random|solver``), one drawn uniformly per episode.
        agent_player: 0 (the agent moves first), 1, or None to draw the colour per episode.
        illegal: ``"raise"`` (IllegalActionError) or ``"lose"`` (the episode ends, reward -1).
        render_mode: None or ``"ansi"`` (OpenSpiel's board string).
    """

    metadata = {"render_modes": ["ansi"]}

    def __init__(
        self,
        game: str = "tic_tac_toe",
        opponent: str = "random",
        agent_player: int | None = None,
        illegal: str = "raise",
        render_mode: str | None = None,
    ) -> None:
        import pyspiel

        if game not in GAMES:
            raise EnvError(f"unknown board game {game!r}; expected one of {sorted(GAMES)}")
        if agent_player not in (None, 0, 1):
            raise EnvError(f"agent_player must be 0, 1 or None (drawn per episode), got {agent_player!r}")
        if illegal not in ILLEGAL_MODES:
            raise EnvError(f"illegal must be one of {ILLEGAL_MODES}, got {illegal!r}")
        if render_mode not in (None, "ansi"):
            raise EnvError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        self._opponent_specs(opponent, game)  # a malformed spec fails here, not at the first reset
        self.spec_game = GAMES[game]
        self.game = pyspiel.load_game(game)
        self.shape = tuple(self.game.observation_tensor_shape())
        board = self.shape[1:]
        self.observation_space = spaces.MultiBinary([3, *board])
        self.action_space = spaces.Discrete(self.game.num_distinct_actions())
        self.opponent_spec, self.fixed_player, self.illegal = opponent, agent_player, illegal
        self.render_mode = render_mode
        self._opponent_override: Bot | None = None
        self._opponent: Bot | None = None
        self.opponent_name = opponent
        self.state = None
        self.agent = 0

    # ------------------------------------------------------------------ observer
    def observe(self, state, player: int) -> tuple[np.ndarray, np.ndarray]:
        """Planes and legal-action mask of ``state`` as ``player`` sees it."""
        planes = self.spec_game.observer.planes(state, player, self.shape)
        mask = np.zeros(self.action_space.n, dtype=bool)
        if not state.is_terminal() and state.current_player() == player:
            mask[state.legal_actions(player)] = True
        return planes, mask

    def action_masks(self) -> np.ndarray:
        """The agent's legal actions (bool, ``(n_actions,)``); all False once the game is over."""
        return self.observe(self.state, self.agent)[1]

    def set_opponent(self, opponent: str | Callable | None) -> None:
        """Replace the opponent from the next reset: a bot spec, a batched policy
        ``act(planes, action_masks)`` playing from its own side (e.g. a snapshot of the
        learner), or None to go back to the constructor's spec."""
        if isinstance(opponent, str):
            self._opponent_specs(opponent, self.spec_game.name)
            self.opponent_spec, self._opponent_override = opponent, None
        else:
            self._opponent_override = None if opponent is None else policy_bot(opponent, self.observe)

    @staticmethod
    def _opponent_specs(opponent: str, game: str) -> list[str]:
        if not isinstance(opponent, str):
            raise EnvError(f"opponent must be a bot spec string, got {opponent!r}")
        specs = opponent.split("|")
        for spec in specs:
            try:
                check_bot_spec(spec, game)
            except EnvError as exc:
                raise EnvError(f"opponent: {exc}") from None
        return specs

    # ------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        player = (options or {}).get("agent_player", self.fixed_player)
        if player not in (None, 0, 1):
            raise EnvError(f"options['agent_player'] must be 0, 1 or None, got {player!r}")
        self.agent = int(self.np_random.integers(2)) if player is None else int(player)
        if self._opponent_override is not None:
            self._opponent, self.opponent_name = self._opponent_override, "policy"
        else:
            specs = self._opponent_specs(self.opponent_spec, self.spec_game.name)
            spec = specs[int(self.np_random.integers(len(specs)))] if len(specs) > 1 else specs[0]
            bot_seed = int(self.np_random.integers(2**31))
            self._opponent = make_bot(spec, self.game, seed=bot_seed, observe=self.observe)
            self.opponent_name = spec
        self.state = self.game.new_initial_state()
        self._play_opponent()
        return self._obs_info()

    def step(self, action):
        if self.state is None:
            raise EnvError("call reset() before step()")
        if self.state.is_terminal():
            raise EnvError("the game is over: call reset() before step()")
        a = int(np.asarray(action).reshape(-1)[0]) if np.ndim(action) else int(action)
        legal = self.state.legal_actions(self.agent)
        if a not in legal:
            if self.illegal == "lose":
                obs, info = self._obs_info()
                return obs, -1.0, True, False, {**info, "illegal_action": True}
            raise IllegalActionError(
                f"illegal action {a} in {self.spec_game.name} for player {self.agent}; legal actions: {legal}"
            )
        self.state.apply_action(a)
        self._play_opponent()
        reward = float(self.state.returns()[self.agent]) if self.state.is_terminal() else 0.0
        obs, info = self._obs_info()
        return obs, reward, self.state.is_terminal(), False, info

    def _play_opponent(self) -> None:
        while not self.state.is_terminal() and self.state.current_player() != self.agent:
            self.state.apply_action(self._opponent(self.state))

    def _obs_info(self) -> tuple[np.ndarray, dict[str, Any]]:
        planes, mask = self.observe(self.state, self.agent)
        info: dict[str, Any] = {"action_mask": mask, "agent_player": self.agent, "opponent": self.opponent_name}
        if self.state.is_terminal():
            info["outcome"] = int(np.sign(self.state.returns()[self.agent]))
        return planes, info

    def render(self) -> str | None:
        return str(self.state) if self.render_mode == "ansi" and self.state is not None else None


def register_board_games() -> None:
    """Register ``genplay/TicTacToe-v0``, ``genplay/ConnectFour-v0``, ``genplay/Othello-v0`` (no pyspiel import)."""
    for g in GAMES.values():
        if g.env_id not in gym.registry:
            gym.register(id=g.env_id, entry_point="genplay.envs.boardgames:BoardGameEnv", kwargs={"game": g.name})
