"""Each env's tuned GAIL settings: Atari, board games, Pendulum; the generic defaults otherwise.

Kept apart from ``config.py`` because the board-game recipes build on ``GAILConfig``: the
config module stays at the bottom of the import graph and this one sits above both.
"""

from __future__ import annotations

from genplay.gail.algos.config import GAILConfig, PPOConfig, atari_game_of, atari_preset
from genplay.gail.suites.boardgame_presets import board_config, board_preset


def preset(env_id: str) -> GAILConfig:
    """Tuned defaults for known envs; the generic defaults otherwise."""
    game = atari_game_of(env_id)
    if game is not None:
        return atari_preset(game)
    board = board_preset(env_id)
    if board is not None:
        return board_config(board)
    if env_id.startswith("Pendulum"):
        ppo = PPOConfig(
            n_steps=1024,
            batch_size=256,
            n_epochs=10,
            learning_rate=1e-3,
            gamma=0.9,
            gae_lambda=0.95,
            ent_coef=0.0,
            use_sde=True,
            sde_sample_freq=4,
        )
        return GAILConfig(n_envs=4, ppo=ppo)
    return GAILConfig()
