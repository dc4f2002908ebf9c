"""Players for OpenSpiel board games: uniform random, MCTS, alpha-beta, an exact solver, a policy.

A bot is ``bot(state) -> action`` on a ``pyspiel.State`` whose current player it plays.
Bots are named by a spec string (JSON-friendly, so env kwargs and demo metadata can carry
them):

==================  ===========================================================================
``random``          uniform over the legal actions
``mcts:N``          OpenSpiel's C++ ``MCTSBot``, N simulations, one random rollout per leaf, UCT c=2,
                    proven wins/losses solved (``solve=True``)
``alphabeta:D``     OpenSpiel's ``alpha_beta_search`` to depth D; a cut-off is valued 0 (exact when D
                    reaches the end of the game, e.g. tic-tac-toe with D >= 9), except on Othello,
                    where ``genplay.envs.othello_eval`` scores it (corners, mobility, late parity)
``solver``          exact play by memoised negamax (small games: tic-tac-toe), uniform among the
                    moves of best value, preferring faster wins and slower losses
``policy:PATH``     a saved genplay policy (``gail train`` output dir or policy zip), loaded by
                    the loader ``genplay.gail`` installs (:func:`set_policy_loader`; no
                    unpickling), playing from its own point of view
``puct:RUN:N``      PUCT search (OpenSpiel's Python ``MCTSBot``, N simulations) whose prior is the
                    saved policy's masked move probabilities and whose leaf value is a random
                    rollout; built by the factory ``genplay.gail`` installs (:func:`set_puct_factory`)
==================  ===========================================================================

Rules stay OpenSpiel's: bots only read legal actions, returns and transitions of the state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from genplay.envs.othello_eval import othello_value
from genplay.errors import EnvError

Bot = Callable[[Any], int]
"""``bot(pyspiel.State) -> action`` for the state's current player."""

BOT_KINDS = ("random", "mcts:N", "alphabeta:D", "solver", "policy:PATH", "puct:RUN_DIR:N")
MAX_MCTS_SIMULATIONS = 50_000
"""Most MCTS simulations per move: 20,000 take 0.2 s a move on connect four and 7 s on othello
(one core of a 2-core machine), so a game at the limit stays within minutes."""
MAX_ALPHABETA_DEPTH = 10
"""Deepest alpha-beta search: depth 10 takes 0.4 s on connect four's first move, depth 12 7 s
(tic-tac-toe is solved from depth 9)."""
SOLVER_GAMES = ("tic_tac_toe",)
"""Games whose exact solver finishes: the memoised negamax visits every position."""
_LIMITS = {"mcts": (MAX_MCTS_SIMULATIONS, "simulations"), "alphabeta": (MAX_ALPHABETA_DEPTH, "depth")}
MAX_PUCT_SIMULATIONS = 5_000
"""Most PUCT simulations per move: its search runs in Python (0.15-0.2 ms a simulation on connect four,
one core of a busy 2-core machine; about 9x mcts:N's C++), so 5,000 keep a move around a second."""


def parse_bot_spec(spec: str) -> tuple[str, str | int | tuple[str, int] | None]:
    """``"mcts:50" -> ("mcts", 50)``, ``"puct:runs/c4:50" -> ("puct", ("runs/c4", 50))``; raises EnvError
    naming the spec for anything malformed."""
    if not isinstance(spec, str) or not spec:
        raise EnvError(f"bot spec must be a non-empty string, one of {BOT_KINDS}; got {spec!r}")
    kind, _, arg = spec.partition(":")
    if kind in ("random", "solver"):
        if arg:
            raise EnvError(f"bot spec {spec!r}: {kind!r} takes no argument")
        return kind, None
    if kind in _LIMITS:
        limit, what = _LIMITS[kind]
        if not (arg.isascii() and arg.isdigit()) or int(arg) < 1:
            raise EnvError(f"bot spec {spec!r}: expected {kind}:<positive integer>")
        if len(arg) > 9 or int(arg) > limit:
            raise EnvError(f"bot spec {spec!r}: {kind} {what} must be <= {limit} (sized for a 2-core machine)")
        return kind, int(arg)
    if kind == "policy":
        if not arg:
            raise EnvError(f"bot spec {spec!r}: expected policy:<path to a policy>")
        return kind, arg
    if kind == "puct":
        path, _, n = arg.rpartition(":")
        if not path or not (n.isascii() and n.isdigit()) or int(n) < 1:
            raise EnvError(f"bot spec {spec!r}: expected puct:<run dir>:<positive number of simulations>")
        if len(n) > 9 or int(n) > MAX_PUCT_SIMULATIONS:
            raise EnvError(
                f"bot spec {spec!r}: puct simulations must be <= {MAX_PUCT_SIMULATIONS} (sized for a 2-core machine)"
            )
        return kind, (path, int(n))
    raise EnvError(f"unknown bot spec {spec!r}; expected one of {BOT_KINDS}")


def check_bot_spec(spec: str, game_name: str) -> tuple[str, str | int | tuple[str, int] | None]:
    """:func:`parse_bot_spec`, and refuse a bot that cannot finish on ``game_name`` (the solver beyond
    :data:`SOLVER_GAMES`)."""
    kind, arg = parse_bot_spec(spec)
    if kind == "solver" and game_name not in SOLVER_GAMES:
        raise EnvError(
            f"bot spec {spec!r}: the exact solver only plays {', '.join(SOLVER_GAMES)} (it would not finish on "
            f"{game_name}); use mcts:N or alphabeta:D"
        )
    return kind, arg


def make_bot(spec: str, game, *, seed: int = 0, observe: Callable | None = None) -> Bot:
    """A bot for ``game`` (a ``pyspiel.Game``) from its spec.

    ``observe(state, player) -> (planes, mask)`` is the env's observer, needed by ``policy:``
    bots (which see the board as the learner does, from their own side).
    """
    kind, arg = check_bot_spec(spec, game.get_type().short_name)
    rng = np.random.default_rng(seed)
    if kind == "random":
        return lambda state: int(rng.choice(state.legal_actions()))
    if kind == "mcts":
        import pyspiel

        evaluator = pyspiel.RandomRolloutEvaluator(1, int(rng.integers(2**31)))
        bot = pyspiel.MCTSBot(game, evaluator, 2.0, int(arg), 1000, True, int(rng.integers(2**31)), False)
        return lambda state: int(bot.step(state))
    if kind == "alphabeta":
        return _alphabeta_bot(game, int(arg), CUTOFF_VALUES.get(game.get_type().short_name))
    if kind == "solver":
        return SolverBot(game, rng)
    if kind == "puct":
        if not _PUCT_FACTORY:
            raise EnvError(
                f"bot spec {spec!r}: no PUCT factory installed (import genplay.gail.suites.boardgames first)"
            )
        path, n = arg  # type: ignore[misc]
        return _PUCT_FACTORY[0](path, game, n, int(rng.integers(2**31)))
    if observe is None:
        raise EnvError(f"bot spec {spec!r} needs the env's observer")
    if not _POLICY_LOADER:
        raise EnvError(f"bot spec {spec!r}: no policy loader installed (import genplay.gail.suites.boardgames first)")
    return policy_bot(_POLICY_LOADER[0](str(arg)), observe)


PolicyLoader = Callable[[str], Callable]
"""``loader(path) -> act(obs, action_masks)``: how ``policy:PATH`` bots load a saved policy."""
_POLICY_LOADER: list[PolicyLoader] = []


def set_policy_loader(loader: PolicyLoader) -> None:
    """Install the loader of ``policy:PATH`` bots. ``genplay.gail.suites.boardgames`` installs genplay's
    safe loader (no unpickling) when imported, so ``envs`` imports nothing from ``gail``."""
    _POLICY_LOADER[:] = [loader]


PuctFactory = Callable[[str, Any, int, int], Bot]
"""``factory(run_dir, game, simulations, seed) -> bot``: how ``puct:RUN_DIR:N`` bots are built."""
_PUCT_FACTORY: list[PuctFactory] = []


def set_puct_factory(factory: PuctFactory) -> None:
    """Install the builder of ``puct:RUN_DIR:N`` bots (``genplay.gail.suites.boardgames`` does, with the
    learned-prior PUCT of ``genplay.gail.suites.puct``), so ``envs`` imports nothing from ``gail``."""
    _PUCT_FACTORY[:] = [factory]


def policy_bot(policy: Callable, observe: Callable) -> Bot:
    """A batched policy ``act(obs, action_masks)`` (a saved policy, a learner snapshot) as a bot."""

    def act(state) -> int:
        planes, mask = observe(state, state.current_player())
        action = int(np.asarray(policy(planes[None], mask[None])).reshape(-1)[0])
        if not mask[action]:
            raise EnvError(f"the opponent policy chose illegal action {action} (legal: {state.legal_actions()})")
        return action

    return act


CUTOFF_VALUES: dict[str, Callable[[int], Callable[[Any], float]]] = {"othello": othello_value}
"""Game -> ``value_for(player) -> value(state)``: the cut-off evaluation of ``alphabeta:D`` (others score 0)."""


def _alphabeta_bot(game, depth: int, value_for: Callable[[int], Callable[[Any], float]] | None = None) -> Bot:
    """Deterministic alpha-beta to ``depth``: the first best move in OpenSpiel's action order."""
    from open_spiel.python.algorithms.minimax import alpha_beta_search

    def act(state) -> int:
        player = state.current_player()
        value = value_for(player) if value_for is not None else (lambda s: 0.0)
        _, action = alpha_beta_search(
            game, state=state.clone(), value_function=value, maximum_depth=depth, maximizing_player_id=player
        )
        return int(action)

    return act


class SolverBot:
    """Exact play by negamax over OpenSpiel states, memoised by board (small games only).

    Values are from the mover's side: ``+(100 - plies)`` for a win, so among winning moves
    the fastest is preferred and among losing ones the slowest; ties are broken uniformly
    at random (with the bot's own generator), so demonstrations cover several optimal lines.
    """

    _tables: dict[str, dict[str, int]] = {}

    def __init__(self, game, rng: np.random.Generator) -> None:
        self.rng = rng
        self.table = self._tables.setdefault(str(game), {})

    def value(self, state) -> int:
        """Value of a non-terminal ``state`` for its current player."""
        key = str(state)
        cached = self.table.get(key)
        if cached is None:
            cached = self.table[key] = max(self._after(state, a) for a in state.legal_actions())
        return cached

    def _after(self, state, action: int) -> int:
        """Value for the mover of playing ``action`` in ``state``."""
        mover = state.current_player()
        child = state.child(action)
        if child.is_terminal():
            return int(np.sign(child.returns()[mover])) * (100 - child.move_number())
        v = self.value(child)
        return v if child.current_player() == mover else -v

    def action_values(self, state) -> dict[int, int]:
        """Value for the mover of each legal action."""
        return {a: self._after(state, a) for a in state.legal_actions()}

    def __call__(self, state) -> int:
        values = self.action_values(state)
        best = max(values.values())
        return int(self.rng.choice([a for a, v in values.items() if v == best]))
