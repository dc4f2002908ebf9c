"""Board games on the command line: ``demos collect``'s bot keywords and the presets' defaults.

Kept beside ``cli.py`` so that file stays readable; errors follow its rule (one ``error:``
line naming the flag, exit 2). The recipes themselves are ``gail/suites/boardgame_presets.py``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from genplay.errors import GenplayError

if TYPE_CHECKING:
    from genplay.gail.data.demos import Demos


def board_demos(args: argparse.Namespace) -> Demos:
    """Demos of a board game: ``--policy`` is ``expert`` (the game's preset bot), a bot spec or a
    saved policy; ``--opponent`` and ``--n-episodes`` default to the game's preset."""
    from genplay.envs.board_bots import BOT_KINDS, check_bot_spec
    from genplay.gail.saving.run_files import load_policy
    from genplay.gail.suites.boardgame_presets import board_preset
    from genplay.gail.suites.boardgames import collect_bot_demos

    preset = board_preset(args.env)
    spec = preset.expert if args.policy == "expert" else args.policy
    kind, _, arg = spec.partition(":")
    if kind == "policy":  # policy:PATH is a saved policy, as a bare PATH is
        spec = arg
    if kind in ("random", "solver", "mcts", "alphabeta", "puct") and not Path(spec).exists():
        try:
            _check_run_path(spec, check_bot_spec(spec, preset.game))
        except GenplayError as exc:
            raise GenplayError(f"--policy: {exc}") from None
        player, label = spec, spec
    elif spec and Path(spec).exists():
        player, label = load_policy(spec, env_id=args.env), spec
    else:
        raise GenplayError(
            f"--policy: {args.policy}: not a bot spec ({', '.join(BOT_KINDS)}), 'expert', "
            "nor an existing gail train output dir or policy zip"
        )
    opponent = args.opponent if args.opponent is not None else preset.demo_opponents
    for part in opponent.split("|"):
        try:
            _check_run_path(part, check_bot_spec(part, preset.game))
        except GenplayError as exc:
            raise GenplayError(f"--opponent: {exc}") from None
    n_games = args.n_episodes if args.n_episodes is not None else preset.n_demo_games
    print(f"collecting {n_games} games of {label} against {opponent}", flush=True)
    return collect_bot_demos(preset.game, player, n_games, opponent=opponent, seed=args.seed, label=label)


def _check_run_path(spec: str, parsed: tuple) -> None:
    """Refuse a ``puct:RUN:N`` or ``policy:PATH`` spec whose run is missing, before any game starts."""
    kind, arg = parsed
    path = arg[0] if kind == "puct" else arg if kind == "policy" else None
    if isinstance(path, str) and not Path(path).exists():
        raise GenplayError(f"bot spec {spec!r}: {path} does not exist (expected a genplay train run dir or policy zip)")


def preset_timesteps(args: argparse.Namespace) -> int:
    """``--timesteps``, or the board game's preset when it is left out."""
    from genplay.gail.suites.boardgame_presets import board_preset

    if args.timesteps is not None:
        return args.timesteps
    board = board_preset(args.env)
    if board is None:
        raise GenplayError("--timesteps: required (only board games have a preset number of steps)")
    return board.timesteps
