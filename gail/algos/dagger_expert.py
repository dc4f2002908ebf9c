"""DAgger's interactive expert: a spec (the keywords of ``genplay demos collect --policy``) made
into a batched oracle that labels the states the learner's envs are in right now.

=====================  ==========================================================================
``expert``             the env family's expert (``gail.data.expert_choice``): scripted, cached PPO,
                       or a board game's preset search bot
``random``             uniform over the (legal) actions
``solver``,            board games: the bots of ``genplay.envs.board_bots`` (budgets bounded there),
``mcts:N``,            playing the side to move in each of the learner's envs (they read the
``alphabeta:D``        env's OpenSpiel state, not the observation)
``PATH``,              a ``gail train`` / ``genplay train`` run directory or an SB3 policy zip,
``policy:PATH``        loaded without unpickling (``gail.saving.run_files.load_policy``)
=====================  ==========================================================================

A Python caller may also hand the trainer any batched callable ``act(obs, action_masks=None)``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv

from genplay.envs import EnvFactory
from genplay.envs.board_bots import BOT_KINDS, check_bot_spec, make_bot
from genplay.envs.boardgames import game_of
from genplay.errors import EnvError, GenplayError
from genplay.gail.data.collect import as_policy_fn, random_policy

EXPERT_KINDS = ("expert", "random", "solver", "mcts:N", "alphabeta:D", "a run directory or policy zip")
BOARD_BOTS = ("solver", "mcts", "alphabeta")


class Oracle:
    """A batched expert: ``oracle(obs, action_masks, venv) -> actions`` for every env of ``venv``.

    ``reads_state`` oracles (board bots) ignore the observations and answer for the player to
    move in each env's OpenSpiel state; the others are policies on observations (and masks).
    """

    def __init__(
        self,
        act: Callable[..., np.ndarray],
        label: str,
        *,
        bots: Sequence[Callable] | None = None,
        move_values: Callable[[Any], dict[int, float]] | None = None,
    ):
        self.act, self.label, self.bots, self.move_values = act, label, bots, move_values

    @property
    def reads_state(self) -> bool:
        return self.bots is not None

    def __call__(self, obs: Any, action_masks: np.ndarray | None, venv: VecEnv) -> np.ndarray:
        if self.bots is None:
            return np.asarray(self.act(obs, action_masks))
        envs = [e.unwrapped for e in venv.envs]  # checked to be a DummyVecEnv when the oracle was built
        actions = []
        for i, env in enumerate(envs):
            state = env.state
            if state.is_terminal() or state.current_player() != env.agent:
                raise EnvError(f"DAgger oracle: env {i} is not waiting for the learner's move")
            actions.append(self.bots[i](state))
        return np.asarray(actions, dtype=np.int64)

    def soft_labels(self, venv: VecEnv, temperature: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(actions, targets, gaps)`` for every env of ``venv``: the expert's move (the first best, as its bot
        plays); its softmax at ``temperature`` over the root values of the legal moves (one-hot at 0), and each
        legal move's value below the best (its regret), both ``(n_envs, A)`` and 0 on illegal moves. Only
        alpha-beta oracles have root values."""
        if self.move_values is None:
            raise GenplayError(f"DAggerConfig.soft_temperature: needs an alphabeta:D expert, got {self.label!r}")
        n_actions = int(venv.action_space.n)
        actions, targets = [], np.zeros((venv.num_envs, n_actions), dtype=np.float32)
        gaps = np.zeros_like(targets)
        for i, env in enumerate(e.unwrapped for e in venv.envs):
            state = env.state
            if state.is_terminal() or state.current_player() != env.agent:
                raise EnvError(f"DAgger oracle: env {i} is not waiting for the learner's move")
            values = self.move_values(state)
            best = max(values, key=lambda a: (values[a], -a))  # ties: the lowest action, as the bot
            actions.append(best)
            if temperature > 0:
                targets[i] = soft_targets(values, n_actions, temperature)
            else:
                targets[i, best] = 1.0
            for action, value in values.items():
                gaps[i, action] = values[best] - value
        return np.asarray(actions, dtype=np.int64), targets, gaps


def soft_targets(values: dict[int, float], n_actions: int, temperature: float) -> np.ndarray:
    """Softmax of the legal moves' ``values`` at ``temperature`` as an ``(n_actions,)`` row (0 elsewhere)."""
    moves = np.fromiter(values, dtype=np.int64)
    v = np.fromiter(values.values(), dtype=np.float64) / temperature
    p = np.exp(v - v.max())
    row = np.zeros(n_actions, dtype=np.float32)
    row[moves] = p / p.sum()
    return row


def alphabeta_move_values(depth: int, value_for: Callable[[int], Callable[[Any], float]] | None):
    """``values(state) -> {action: value}``: each legal move's minimax value to ``depth`` plies in all (the
    cut-off scored by ``value_for(mover)``, as ``alphabeta:D`` does), from the mover's side. The best of them
    is the move the bot plays: alpha-beta prunes only below the root's children, never their values' order."""
    from open_spiel.python.algorithms.minimax import alpha_beta_search

    def values(state) -> dict[int, float]:
        player, game = state.current_player(), state.get_game()
        fn = value_for(player) if value_for is not None else (lambda s: 0.0)
        return {
            action: float(alpha_beta_search(game, state=state.child(action), value_function=fn,
                                            maximum_depth=depth - 1, maximizing_player_id=player)[0])
            for action in state.legal_actions()
        }  # fmt: skip

    return values


def make_oracle(expert: str | Callable, factory: EnvFactory, venv: VecEnv, *, seed: int) -> Oracle:
    """The oracle of ``expert`` (a spec, see the module table, or a batched callable) for ``venv``'s
    envs, seeded ``seed`` (search bots get one generator each). A bad spec raises one
    ``GenplayError`` naming ``expert`` and the kinds accepted."""
    if callable(expert):
        return Oracle(as_policy_fn(expert), getattr(expert, "__name__", type(expert).__name__))
    if not isinstance(expert, str) or not expert:
        raise GenplayError(f"expert: expected one of {', '.join(EXPERT_KINDS)}, got {expert!r}")
    env_id = factory.env_id
    game = game_of(env_id)
    spec = expert
    if spec == "expert" and game is not None:
        from genplay.gail.suites.boardgame_presets import board_preset

        spec = board_preset(env_id).expert
    kind, _, arg = spec.partition(":")
    if kind == "policy" and arg:
        return _policy_oracle(arg, env_id, expert)
    if spec == "random":
        return Oracle(random_policy(venv.action_space, seed), "random")
    if kind in BOARD_BOTS:
        if game is None:
            raise GenplayError(f"expert: {spec!r} is a board-game bot; {env_id} is not a board game")
        try:
            check_bot_spec(spec, game)
        except GenplayError as exc:
            raise GenplayError(f"expert: {exc}") from None
        if not isinstance(venv, DummyVecEnv):
            raise EnvError(f"expert {spec!r} reads each env's game state: the learner's envs must be a DummyVecEnv")
        pyspiel_game = venv.envs[0].unwrapped.game
        bots = [make_bot(spec, pyspiel_game, seed=seed * 100_003 + i) for i in range(venv.num_envs)]
        values = None
        if kind == "alphabeta":
            from genplay.envs.board_bots import CUTOFF_VALUES

            values = alphabeta_move_values(int(arg), CUTOFF_VALUES.get(game))
        return Oracle(lambda obs, masks=None: None, spec, bots=bots, move_values=values)
    if spec == "expert":
        from genplay.gail.data.expert_choice import default_expert

        policy, label = default_expert(env_id)
        return Oracle(as_policy_fn(policy), label)
    if Path(spec).exists():
        return _policy_oracle(spec, env_id, expert)
    kinds = ", ".join(EXPERT_KINDS) + (f" (bots: {', '.join(BOT_KINDS)})" if game else "")
    raise GenplayError(f"expert: {expert!r} is not one of {kinds}, nor an existing path")


def _policy_oracle(path: str, env_id: str, spec: str) -> Oracle:
    """A saved policy as the oracle: deterministic, given the env's masks where it has them."""
    from genplay.gail.saving.run_files import load_policy

    if not Path(path).exists():
        raise GenplayError(f"expert: {spec!r}: no such run directory or policy zip")
    return Oracle(load_policy(path, env_id=env_id, deterministic=True), spec)
