"""Each env's tuned GAIL settings: Atari, board games, Pendulum, CartPole; the generic defaults otherwise.

Kept apart from ``config.py`` because the board-game recipes build on ``GAILConfig``: the
config module stays at the bottom of the import graph and this one sits above both.
"""

from __future__ import annotations

from genplay.envs import FIXED_HORIZON_CARTPOLE_ID
from genplay.gail.algos.config import BCConfig, GAILConfig, PPOConfig, RunConfig, atari_game_of, atari_preset
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
        return GAILConfig(run=RunConfig(n_envs=4), ppo=ppo)
    if env_id in CARTPOLE_IDS:
        return GAILConfig(bc=BCConfig(epochs=CARTPOLE_BC_EPOCHS))
    return GAILConfig()


CARTPOLE_IDS = ("CartPole-v1", FIXED_HORIZON_CARTPOLE_ID)
CARTPOLE_BC_EPOCHS = 20
"""The BC warm start's most epochs on CartPole. Its 20 demos are 10,000 rows (39 minibatches an epoch), and
the held-out NLL of a deterministic expert keeps falling by more than the stopping tolerance, so the default
100 ran about 90 epochs: 7.5 CPU-s, a fifth of a 100k-step GAIL run. After 20 epochs the clone already
scores 500 (1.6 CPU-s; 10 epochs: 385). Smaller demo sets (MountainCar, Acrobot, Pendulum: 1,600-4,000
rows) keep 100: they need the epochs (Pendulum's clone after 20: -1173, after 75: -287)."""
