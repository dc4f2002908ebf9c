"""DAgger's learner: an SB3 policy that BC trains and SB3 loads alone, never trained by PPO.

Apart from :mod:`dagger` so the algorithm there reads top to bottom; the options (symmetry averaging,
a board CNN, Othello's legal-move planes) are checked here, where the network is built.
"""

from __future__ import annotations

import types

import torch
from stable_baselines3.common.vec_env import VecEnv

from genplay.envs.boardgames import game_of
from genplay.errors import EnvError
from genplay.gail.algos.config import PPOConfig
from genplay.gail.algos.dagger_config import DAggerConfig


def build_learner(venv: VecEnv, env_id: str, cfg: DAggerConfig, *, masked: bool):
    """MaskablePPO for masked envs (board games; ``board_cnn``: a :class:`BoardCNN` under it, ``othello_moves`` /
    ``othello_lookahead``: :class:`OthelloMoveFeatures` / :class:`OthelloLookaheadFeatures`), PPO otherwise; its
    init seeded by ``cfg.seed`` without touching torch's global RNG. Board-only options on another env are one
    error line."""
    ppo = PPOConfig(n_steps=2, batch_size=2, net_arch=tuple(cfg.net_arch), activation=cfg.activation)
    game = game_of(env_id)
    for name, on in (
        ("symmetric_policy", cfg.symmetric_policy),
        ("features_extractor", cfg.features_extractor != "mlp"),
    ):
        if on and (not masked or game is None):
            raise EnvError(f"DAggerConfig.{name}: only for board games; {env_id} is not one")
    othello = {"othello_moves": "OthelloMoveFeatures", "othello_lookahead": "OthelloLookaheadFeatures"}
    if cfg.features_extractor in othello and game != "othello":
        raise EnvError(f"DAggerConfig.features_extractor: {cfg.features_extractor} is for Othello; {env_id} is not")
    cnn = {"channels": cfg.cnn_channels, "layers": cfg.cnn_layers} if cfg.features_extractor == "board_cnn" else None
    if cfg.features_extractor in othello:  # MaskablePPO's kwargs with the extractor under the MLP
        from genplay.gail.networks import othello_features

        kwargs = ppo.sb3_kwargs()
        kwargs["policy_kwargs"]["features_extractor_class"] = getattr(othello_features, othello[cfg.features_extractor])
        ppo = types.SimpleNamespace(policy=ppo.policy, sb3_kwargs=lambda: kwargs)
    with torch.random.fork_rng():
        torch.manual_seed(cfg.seed)
        if masked:
            from genplay.gail.algos.board_training import masked_generator

            settings = types.SimpleNamespace(
                ppo=ppo, symmetric_policy=cfg.symmetric_policy, seed=cfg.seed, device=cfg.device
            )
            return masked_generator(venv, settings, game=game, cnn=cnn, seed=cfg.seed, device=cfg.device)
        from stable_baselines3 import PPO

        from genplay.gail.saving.sb3_io import policy_for_space
        from genplay.generative.core import select_device

        policy = policy_for_space(venv.observation_space)
        return PPO(policy, venv, device=select_device(cfg.device), verbose=0, **ppo.sb3_kwargs())
