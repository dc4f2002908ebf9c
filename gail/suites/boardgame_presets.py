"""Per-game recipes of masked GAIL on board games, applied wherever a flag is left out.

A :class:`BoardGamePreset` says which search bot is the game's expert, whom it plays in the
demos, how many demo games, how long GAIL trains, against whom, with how strong a BC pull
and which policy. ``genplay demos collect`` / ``gail train`` and
``scripts/bench_boardgames.py`` read the same presets (:func:`board_preset`); a flag given
on the command line wins over the preset's value (:meth:`BoardGamePreset.override`).
Every number behind a choice is in BENCHMARKS.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from genplay.envs.boardgames import GAMES, game_of
from genplay.gail.algos.config import BCConfig, GAILConfig, PPOConfig, RunConfig
from genplay.gail.rewards.config import RewardModelConfig

DEFAULT_BC_REG = 20
"""BC-regularisation steps after each PPO update of a game whose preset does not say."""


@dataclass(frozen=True)
class BoardGamePreset:
    """One game's recipe: expert, demos, GAIL steps, generator env and policy."""

    game: str
    """OpenSpiel name (a key of ``envs.boardgames.GAMES``)."""
    expert: str
    """Bot spec of the game's expert: what ``demos collect --policy expert`` plays."""
    demo_opponents: str
    """Opponents of the demo games, ``|``-joined, one drawn per game."""
    reference: str
    """The benchmark's reference opponent (its ``vs_expert_bot`` column)."""
    timesteps: int
    """GAIL generator steps."""
    symmetric_policy: bool = False
    """Logits averaged over the board's symmetries (``SymmetricMaskablePolicy``)."""
    n_demo_games: int = 50
    """Expert games in the demos."""
    bc_reg_steps: int = DEFAULT_BC_REG
    """BC steps after each PPO update (``BCRegulariser``); 0 = off."""
    train_opponent: str = ""
    """Opponent of the generator's env; empty = the demos' opponents."""

    def override(self, **given: Any) -> BoardGamePreset:
        """This preset with the values given (a flag left out is None and keeps the preset's)."""
        return dataclasses.replace(self, **{k: v for k, v in given.items() if v is not None})


PRESETS: dict[str, BoardGamePreset] = {
    # tic-tac-toe demos: a ladder of opponents. The solver alone shows only balanced lines and random
    # mostly quick wins; a weak search (mcts:10) makes threats the expert must block or punish, the
    # positions a learner that errs meets (BC losses vs random, 7 seeds: 5.3% -> 3.6%). The symmetric
    # policy with the GAIL env playing the demos' ladder: GAIL+BC lost 0 / 10 / 0 of 1000 games vs random
    # on seeds 0-2 (MLP policy: 9 / 36 / 14) and drew all 1000 against the solver on each (BENCHMARKS.md).
    "tic_tac_toe": BoardGamePreset(
        game="tic_tac_toe",
        expert="solver",
        demo_opponents="random|mcts:10|solver",
        reference="solver",
        timesteps=200_000,
        symmetric_policy=True,
    ),
    # connect four: the generator plays `random` for 1M steps with a light BC pull (5 steps): its wins vs
    # random rose from 0.90 (BC) to 0.97 on seed 0, as GAIL taught it the wins BC misses; against mcts:50
    # it scores less than with the demos' ladder and BC-reg 20 (0.21 vs 0.29).
    "connect_four": BoardGamePreset(
        game="connect_four",
        expert="mcts:200",
        demo_opponents="random|mcts:50",
        reference="mcts:50",
        timesteps=1_000_000,
        n_demo_games=200,
        bc_reg_steps=5,
        train_opponent="random",
    ),
    "othello": BoardGamePreset(
        game="othello", expert="mcts:100", demo_opponents="random|mcts:25", reference="mcts:25", timesteps=200_000
    ),
}
"""The recipe of each game in ``envs.boardgames.GAMES``."""
assert set(PRESETS) == set(GAMES)


def board_preset(game_or_env_id: str) -> BoardGamePreset | None:
    """The preset of an OpenSpiel name or a ``genplay/`` board-game id; None for any other env."""
    game = game_or_env_id if game_or_env_id in PRESETS else game_of(game_or_env_id)
    return PRESETS.get(game) if game is not None else None


def board_config(
    preset: BoardGamePreset,
    *,
    seed: int = 0,
    lr: float = 1e-4,
    net_arch: tuple[int, ...] = (256, 256),
    n_epochs: int = 10,
    next_obs: bool = True,
    penalty_weight: float = 1.0,
) -> GAILConfig:
    """The board-game GAIL settings of ``preset``: a wide ReLU policy (BC on 8x-augmented
    tic-tac-toe demos drew 99.6% against perfect play with (256, 256), 92% with the default
    (64, 64) tanh), next observations in the discriminator (it sees the opponent's reply), a
    small PPO step so GAIL starts from BC, symmetry-augmented demos, and the preset's BC pull,
    generator opponent and policy. CPU: these nets are too small to gain from a GPU."""
    ppo = PPOConfig(
        n_steps=256, batch_size=512, net_arch=net_arch, activation="relu", learning_rate=lr, n_epochs=n_epochs
    )
    return GAILConfig(
        run=RunConfig(n_envs=8, seed=seed, device="cpu"),
        reward=RewardModelConfig(use_next_obs=next_obs, disc_penalty_weight=penalty_weight),
        bc=BCConfig(
            patience=20,
            reg_steps=preset.bc_reg_steps,
            fit_value=False,  # board games keep BC through PPO's first updates without it (bench_warmstart.py),
        ),  # and the critic fit cost a short masked GAIL run 10 games in 200 against random
        train_opponent=preset.train_opponent,
        symmetric_policy=preset.symmetric_policy,
        demo_symmetries=True,
        ppo=ppo,
    )
