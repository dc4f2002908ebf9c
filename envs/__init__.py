"""Environments genplay registers with Gymnasium (importing this module registers them).

``envs/`` depends on gymnasium only: neither ``gail`` nor ``generative`` is imported here.
"""

from gymnasium.envs.registration import register, registry

FIXED_HORIZON_CARTPOLE_ID = "genplay/CartPoleFixedHorizon-v0"

if FIXED_HORIZON_CARTPOLE_ID not in registry:
    register(
        id=FIXED_HORIZON_CARTPOLE_ID,
        entry_point="genplay.envs.cartpole:FixedHorizonCartPoleEnv",
        max_episode_steps=500,
        reward_threshold=475.0,
    )

from genplay.envs.boardgames import register_board_games  # noqa: E402

register_board_games()  # genplay/TicTacToe-v0, ConnectFour-v0, Othello-v0 (OpenSpiel, imported on make)

from genplay.envs.factory import EnvFactory, as_factory  # noqa: E402
from genplay.envs.registry import check_env_id, make_env  # noqa: E402

__all__ = ["FIXED_HORIZON_CARTPOLE_ID", "EnvFactory", "as_factory", "check_env_id", "make_env"]
