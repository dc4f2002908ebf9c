"""Board games in training: the MaskablePPO generator, the recipes' env and demo set-up, and BC
as an auxiliary loss that keeps the policy on the expert's moves (:class:`BCRegulariser`).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from genplay.envs import EnvFactory
from genplay.envs.boardgames import GAMES, game_of
from genplay.errors import EnvError
from genplay.gail.data.demos import Demos
from genplay.gail.suites.board_symmetry import augment_symmetries

BOARD_SETTINGS = ("train_opponent", "symmetric_policy", "demo_symmetries")
"""GAILConfig fields that only board games take."""


def check_board_settings(env_id: str, config) -> None:
    """Refuse board-game settings of ``config`` on an env that is not a board game, and a
    ``train_opponent`` the game cannot host (the solver beyond tic-tac-toe)."""
    from genplay.envs.board_bots import check_bot_spec

    game = game_of(env_id)
    if game is not None:
        for spec in config.train_opponent.split("|") if config.train_opponent else ():
            try:
                check_bot_spec(spec, game)
            except EnvError as exc:
                raise EnvError(f"GAILConfig.train_opponent: {exc}") from None
        return
    for name in BOARD_SETTINGS:
        if getattr(config, name):
            ids = sorted(g.env_id for g in GAMES.values())
            raise EnvError(f"GAILConfig.{name}: only for board games ({', '.join(ids)}); {env_id} is not one")


def board_run_setup(factory: EnvFactory, demos: Demos, config) -> tuple[EnvFactory, Demos]:
    """The generator's env and the demos of a run under ``config``: the env plays
    ``config.train_opponent`` (if set) and the demos gain their symmetry images
    (``config.demo_symmetries``). Other envs pass through, refused if given board settings."""
    check_board_settings(factory.env_id, config)
    game = game_of(factory.env_id)
    if game is None:
        return factory, demos
    if config.train_opponent:
        factory = dataclasses.replace(factory, kwargs={**factory.kwargs, "opponent": config.train_opponent})
        factory.make().close()  # an opponent this game cannot host (the solver on connect four) fails here
    if config.demo_symmetries:
        demos = augment_symmetries(demos, game)
    return factory, demos


def masked_generator(
    venv,
    config,
    *,
    game: str | None = None,
    cnn: dict[str, int] | None = None,
    seed: int | None = None,
    device: str | None = None,
) -> Any:
    """sb3-contrib's MaskablePPO built from ``config.ppo`` (the fields PPO has and MaskablePPO lacks
    dropped), for any env with ``action_masks()``; ``cnn`` (e.g. ``{"channels": 64, "layers": 3}``) puts
    a :class:`BoardCNN` under it; ``config.symmetric_policy`` makes the policy a
    :class:`SymmetricMaskablePolicy` of ``game``. ``seed`` and ``device`` default to ``config.run``'s."""
    from sb3_contrib import MaskablePPO

    from genplay.gail.rewards.features import BoardCNN
    from genplay.gail.saving.sb3_io import policy_for_space
    from genplay.gail.suites.boardgame_policy import SymmetricMaskablePolicy
    from genplay.generative.core import select_device

    kwargs = config.ppo.sb3_kwargs()
    for key in ("use_sde", "sde_sample_freq"):
        kwargs.pop(key, None)
    if cnn is not None:
        kwargs["policy_kwargs"].update(features_extractor_class=BoardCNN, features_extractor_kwargs=dict(cnn))
    policy: Any = config.ppo.policy if config.ppo.policy != "auto" else policy_for_space(venv.observation_space)
    if config.symmetric_policy:
        if game is None:
            raise EnvError("GAILConfig.symmetric_policy: only for board games (no game given)")
        policy = SymmetricMaskablePolicy
        kwargs["policy_kwargs"]["game"] = game
    seed = config.run.seed if seed is None else seed
    device = config.run.device if device is None else device
    return MaskablePPO(policy, venv, seed=seed, device=select_device(device), verbose=0, **kwargs)


def masked_gail(
    demos: Demos, config, total_timesteps: int, *, factory: EnvFactory | None = None, cnn: dict[str, int] | None = None
):
    """GAIL with a MaskablePPO generator on the demos' env (``factory`` overrides it), in memory (the
    run directory, checkpoints and resume are ``pipeline.train_gail``'s, which builds the same trainer);
    BC warm start per ``config.bc.epochs`` (masked); ``total_timesteps=0`` trains BC alone.

    The config's board settings apply (:func:`board_run_setup`), and ``config.bc.reg_steps > 0``
    adds the :class:`BCRegulariser`; ``cnn``: see :func:`masked_generator`."""
    from genplay.gail.algos.gail import GAIL

    base, demos = board_run_setup(demos.env_factory, demos, config)
    factory = factory or base
    venv = factory.make_vec(config.run.n_envs, seed=config.run.seed)
    gen = masked_generator(venv, config, game=game_of(factory.env_id), cnn=cnn)
    trainer = GAIL(venv=venv, demos=demos, config=config, gen_algo=gen)
    if total_timesteps > 0:
        trainer.learn(total_timesteps, callback=bc_regulariser(trainer))
    else:
        trainer.pretrain_bc()
    return trainer


def bc_regulariser(trainer) -> BCRegulariser | None:
    """The trainer's :class:`BCRegulariser` (``config.bc.reg_steps`` steps), or None when that is 0."""
    steps = trainer.config.bc.reg_steps
    return BCRegulariser(trainer, steps) if steps > 0 else None


class BCRegulariser(BaseCallback):
    """BC as an auxiliary loss of GAIL: ``steps`` BC minibatch steps on the demos (masked where
    the demos hold masks) after each PPO update (its own Adam at the PPO learning rate), so the
    policy cannot drift away from the expert's moves on the demos' states while GAIL shapes it
    on its own states."""

    def __init__(self, trainer, steps: int, batch_size: int = 256) -> None:
        from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy

        super().__init__()
        self.trainer, self.steps, self.batch_size = trainer, steps, batch_size
        policy = trainer.gen_algo.policy
        self.opt = torch.optim.Adam(policy.parameters(), lr=float(trainer.config.ppo.learning_rate))
        obs = trainer.demos.transitions()["obs"]
        if trainer.policy_obs_norm is not None:  # the policy reads scaled vectors
            obs = trainer.policy_obs_norm.normalize_obs(obs)
        self.obs = policy.obs_to_tensor(obs)[0]
        self.acts = torch.as_tensor(trainer.demos.acts, device=policy.device)
        masked = isinstance(policy, MaskableActorCriticPolicy) and trainer.demos.action_masks is not None
        self.masks = np.asarray(trainer.demos.action_masks) if masked else None
        self.rng = np.random.default_rng(trainer.config.run.seed + 7)
        self.losses: list[float] = []

    def _on_rollout_start(self) -> None:
        if self.trainer.gen_algo.num_timesteps == 0:
            return  # nothing has moved the BC warm start yet
        policy = self.trainer.gen_algo.policy
        policy.set_training_mode(True)
        for _ in range(self.steps):
            idx = self.rng.integers(len(self.acts), size=self.batch_size)
            masks = {} if self.masks is None else {"action_masks": self.masks[idx]}
            _, log_prob, _ = policy.evaluate_actions(self.obs[idx], self.acts[idx], **masks)
            loss = -log_prob.mean()
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
        policy.set_training_mode(False)
        self.losses.append(loss.item())
        self.logger.record("gail/bc_reg_nll", self.losses[-1])

    def _on_step(self) -> bool:
        return True
