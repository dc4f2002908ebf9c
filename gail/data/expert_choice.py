"""Which expert each env family uses, in one place: ``demos collect --policy expert``,
``evaluate``, ``genplay demo``, the synthetic-data reports and the benchmarks ask here.

Scripted where genplay has one (no training), the RAM expert for Atari games, the preset search
bot for board games (``gail/suites/boardgame_presets.py``), else the cached PPO expert (trained on
first use, ``gail/data/experts.py``).
"""

from __future__ import annotations

from typing import Any

from genplay.envs import EnvFactory, as_factory
from genplay.errors import EnvError
from genplay.gail.data.collect import collect_demos
from genplay.gail.data.demos import Demos
from genplay.gail.data.experts import train_expert

EXPERT_FAMILIES = ("scripted", "atari-ram", "board-bot", "ppo")
"""Where each env family's expert comes from (see :func:`expert_family`)."""


def expert_family(env_id: str) -> str:
    """Which expert ``env_id`` uses, one setting per env family: ``scripted`` (genplay's scripted
    policy, no training), ``atari-ram`` (the game's scripted RAM expert, recorded as frames by
    ``gail.atari.scripted_expert_demos``), ``board-bot`` (the board game's preset search bot,
    ``gail.boardgame_presets``), else ``ppo`` (the cached PPO expert, trained on first use)."""
    from genplay.envs.boardgames import game_of
    from genplay.envs.scripted import SCRIPTED_EXPERTS

    if env_id in SCRIPTED_EXPERTS:
        return "scripted"
    if game_of(env_id) is not None:
        return "board-bot"
    if as_factory(env_id).atari_config is not None:  # a game without a RAM expert is refused by name there
        return "atari-ram"
    return "ppo"


def default_expert(env_id: str) -> tuple[Any, str]:
    """The expert of ``env_id``'s family (:func:`expert_family`) as a batched policy on observations,
    and its label. A board game's expert is a search bot reading the game's state, not a policy on
    observations: refused here, played by :func:`expert_demos` and the board-game suite. An Atari
    game's RAM expert plays whole games only (:func:`expert_demos`); as a policy on frames it is the
    PPO expert."""
    from genplay.envs.scripted import SCRIPTED_EXPERTS

    family = expert_family(env_id)
    if family == "scripted":
        return SCRIPTED_EXPERTS[env_id], "scripted"
    if family == "board-bot":
        from genplay.gail.suites.boardgame_presets import board_preset

        raise EnvError(
            f"{env_id}: a board game's expert is the search bot {board_preset(env_id).expert!r}, which reads the "
            "game's state, not observations; collect its games with `genplay demos collect --policy expert` "
            "(expert_demos) and rate policies with `genplay evaluate --suite boardgames`"
        )
    return train_expert(env_id), "ppo-expert"


BOARD_CHUNK = 250
"""Board-game expert games per progress line (``expert_demos(..., progress=True)``)."""


def expert_demos(env: str | EnvFactory, n_episodes: int, *, seed: int = 0, progress: bool = False) -> Demos:
    """``n_episodes`` of the expert of ``env``'s family (:func:`expert_family`), whatever the family: a
    board game's preset bot against the factory's opponent (a bare id: the preset's demo opponents),
    an Atari game's RAM expert as frames, else the scripted or PPO expert rolled out."""
    factory = as_factory(env)
    family = expert_family(factory.env_id)
    if family == "board-bot":
        from genplay.gail.suites.boardgame_presets import board_preset
        from genplay.gail.suites.boardgames import collect_bot_demos

        preset = board_preset(factory.env_id)
        opponent = factory.kwargs.get("opponent", preset.demo_opponents)
        if not progress or n_episodes <= BOARD_CHUNK:
            return collect_bot_demos(preset.game, preset.expert, n_episodes, opponent=opponent, seed=seed)
        import sys

        from genplay.gail.data.episodes import concat_demos

        parts = []  # thousands of search games take minutes: a line per chunk (each chunk its own seeds)
        for start in range(0, n_episodes, BOARD_CHUNK):
            n = min(BOARD_CHUNK, n_episodes - start)
            parts.append(collect_bot_demos(preset.game, preset.expert, n, opponent=opponent, seed=seed + start))
            print(f"expert games: {start + n}/{n_episodes}", file=sys.stderr, flush=True)
        return concat_demos(parts)
    if family == "atari-ram":
        from genplay.gail.suites.atari import scripted_expert_demos

        return scripted_expert_demos(factory, n_episodes, seed=seed, progress=progress)
    expert, kind = default_expert(factory.env_id)
    return collect_demos(factory, expert, n_episodes, seed=seed, metadata={"policy": kind})
