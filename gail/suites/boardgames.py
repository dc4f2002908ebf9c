"""Board games for GAIL: search-bot demonstrations and win/draw/loss matches with confidence intervals.

A *player* is either a bot spec (``"solver"``, ``"mcts:400"``, ... see
``genplay.envs.board_bots``), which reads the OpenSpiel state of the env it plays in, or
a batched policy ``act(planes, action_masks)`` (a GAIL trainer, a saved policy, BC), which
sees only what the learner sees. Games run side by side, one env each, so a policy is
called once per ply for all unfinished games.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from genplay.envs import EnvFactory
from genplay.envs.board_bots import make_bot, set_policy_loader
from genplay.envs.boardgames import GAMES, game_of
from genplay.errors import EnvError
from genplay.gail.data.collect import as_policy_fn
from genplay.gail.data.demos import Demos, describe_space


def _load_policy(path: str):
    """A saved policy for ``policy:PATH`` bots (genplay's loader: no unpickling)."""
    from genplay.gail.runs.pipeline import load_policy

    return load_policy(path)


set_policy_loader(_load_policy)  # envs' policy:PATH bots load through gail without envs importing it


def board_factory(game: str, opponent: str = "random", agent_player: int | None = None) -> EnvFactory:
    """The env factory of ``game`` (an OpenSpiel name in ``GAMES``) against ``opponent``."""
    if game not in GAMES:
        raise EnvError(f"unknown board game {game!r}; expected one of {sorted(GAMES)}")
    return EnvFactory(GAMES[game].env_id, {"opponent": opponent, "agent_player": agent_player})


@dataclass(frozen=True)
class Record:
    """Wins, draws and losses of one player against one opponent (from the player's side)."""

    win: int
    draw: int
    loss: int

    @property
    def n(self) -> int:
        return self.win + self.draw + self.loss

    @property
    def score(self) -> float:
        """Points per game: win 1, draw 0.5."""
        return (self.win + 0.5 * self.draw) / max(self.n, 1)

    def __add__(self, other: Record) -> Record:
        return Record(self.win + other.win, self.draw + other.draw, self.loss + other.loss)

    def summary(self) -> dict[str, Any]:
        """Rates with Wilson 95% intervals, and the score."""
        out: dict[str, Any] = {"n": self.n, "score": round(self.score, 4)}
        for key in ("win", "draw", "loss"):
            k = getattr(self, key)
            out[key] = round(k / max(self.n, 1), 4)
            out[f"{key}_ci95"] = [round(x, 4) for x in wilson(k, self.n)]
        return out


def wilson(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson score interval of a proportion ``k / n`` (sensible at 0 and n, unlike the normal one)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def _actor(player: Any, envs: list, seed: int):
    """``act(indices, obs, masks) -> actions`` for a bot spec or a policy."""
    if isinstance(player, str):
        game = envs[0].unwrapped.game
        bots = [make_bot(player, game, seed=seed * 100_003 + i) for i in range(len(envs))]
        return lambda idx, obs, masks: np.array([bots[i](envs[i].unwrapped.state) for i in idx])
    act = as_policy_fn(player)
    return lambda idx, obs, masks: np.asarray(act(obs, masks)).reshape(-1)


def _run(
    factory: EnvFactory, player: Any, n_games: int, seed: int, record: bool
) -> tuple[list[dict[str, list]], np.ndarray]:
    """Play ``n_games`` side by side; per game its observations, actions, masks, rewards; and outcomes."""
    envs = [factory.make() for _ in range(n_games)]
    act = _actor(player, envs, seed)
    games: list[dict[str, list]] = []
    for i, env in enumerate(envs):
        obs, info = env.reset(seed=seed + i)
        games.append({"obs": [obs], "acts": [], "masks": [info["action_mask"]], "rewards": []})
        games[-1]["opponent"] = info["opponent"]
    outcomes = np.zeros(n_games, dtype=np.int64)
    active = [i for i, env in enumerate(envs) if not env.unwrapped.state.is_terminal()]
    while active:
        obs = np.stack([games[i]["obs"][-1] for i in active])
        masks = np.stack([games[i]["masks"][-1] for i in active])
        actions = act(active, obs, masks)
        still = []
        for i, a in zip(active, actions):
            o, r, term, trunc, info = envs[i].step(int(a))
            g = games[i]
            g["acts"].append(int(a))
            g["rewards"].append(float(r))
            if record:
                g["obs"].append(o)
                g["masks"].append(info["action_mask"])
            else:
                g["obs"][-1], g["masks"][-1] = o, info["action_mask"]
            if term or trunc:
                outcomes[i] = info.get("outcome", 0)
            else:
                still.append(i)
        active = still
    for env in envs:
        env.close()
    return games, outcomes


def _record(outcomes: np.ndarray) -> Record:
    return Record(int((outcomes > 0).sum()), int((outcomes == 0).sum()), int((outcomes < 0).sum()))


def play_games(
    game: str, player: Any, opponent: str, n_games: int, *, agent_player: int | None = None, seed: int = 0
) -> Record:
    """``n_games`` of ``player`` (bot spec or policy) against the bot ``opponent``; None draws colours per game."""
    if n_games < 1:
        raise ValueError(f"n_games must be >= 1, got {n_games}")
    _, outcomes = _run(board_factory(game, opponent, agent_player), player, n_games, seed, record=False)
    return _record(outcomes)


def play_both_colours(game: str, player: Any, opponent: str, n_games: int, *, seed: int = 0) -> dict[str, Any]:
    """``n_games`` with each colour; the per-colour and pooled records as :meth:`Record.summary`."""
    first = play_games(game, player, opponent, n_games, agent_player=0, seed=seed)
    second = play_games(game, player, opponent, n_games, agent_player=1, seed=seed + 1_000_000)
    return {"as_first": first.summary(), "as_second": second.summary(), "total": (first + second).summary()}


def collect_bot_demos(
    game: str, expert: Any, n_games: int, *, opponent: str = "random", seed: int = 0, label: str | None = None
) -> Demos:
    """``n_games`` of ``expert`` (a bot spec or a batched policy, as :func:`play_games`) against
    ``opponent``, colours alternating, in genplay's demo format; ``label`` names the expert in the
    metadata (default: the bot spec).

    The factory recorded in the demos draws the colour per episode, so the learner trains
    on both sides as the demos show. ``opponent`` may mix bots (``"random|mcts:10|solver"``,
    one drawn per game); the metadata keeps the expert's record against each.
    """
    if n_games < 1:
        raise ValueError(f"n_games must be >= 1, got {n_games}")
    parts = []
    for colour, n in ((0, (n_games + 1) // 2), (1, n_games // 2)):
        if n:
            parts.append(_run(board_factory(game, opponent, colour), expert, n, seed + colour * 1_000_000, True))
    games = [g for gs, _ in parts for g in gs]
    outcomes = np.concatenate([o for _, o in parts])
    factory = board_factory(game, opponent, None)
    env = factory.make()
    obs_space, act_space = describe_space(env.observation_space), describe_space(env.action_space)
    env.close()
    return Demos(
        obs=np.stack([o for g in games for o in g["obs"]]),
        acts=np.asarray([a for g in games for a in g["acts"]], dtype=np.int64),
        rewards=np.asarray([r for g in games for r in g["rewards"]], dtype=np.float32),
        episode_lengths=np.asarray([len(g["acts"]) for g in games], dtype=np.int64),
        terminated=np.ones(len(games), dtype=bool),
        env_id=factory.env_id,
        observation_space=obs_space,
        action_space=act_space,
        metadata={
            "policy": label if label is not None else expert,
            "opponent": opponent,
            "seed": seed,
            "expert_record": _record(outcomes).summary(),
            "expert_record_by_opponent": {
                name: dataclasses.asdict(_record(outcomes[[g["opponent"] == name for g in games]]))
                for name in sorted({g["opponent"] for g in games})
            },
        },
        action_masks=np.stack([m for g in games for m in g["masks"][:-1]]),
        env=factory,
    )


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
    venv, config, *, game: str | None = None, cnn: dict[str, int] | None = None, seed: int | None = None
) -> Any:
    """sb3-contrib's MaskablePPO built from ``config.ppo`` (the fields PPO has and MaskablePPO lacks
    dropped), for any env with ``action_masks()``; ``cnn`` (e.g. ``{"channels": 64, "layers": 3}``) puts
    a :class:`BoardCNN` under it; ``config.symmetric_policy`` makes the policy a
    :class:`SymmetricMaskablePolicy` of ``game``. ``seed`` defaults to ``config.seed``."""
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
    seed = config.seed if seed is None else seed
    return MaskablePPO(policy, venv, seed=seed, device=select_device(config.device), verbose=0, **kwargs)


def masked_gail(
    demos: Demos, config, total_timesteps: int, *, factory: EnvFactory | None = None, cnn: dict[str, int] | None = None
):
    """GAIL with a MaskablePPO generator on the demos' env (``factory`` overrides it), in memory (the
    run directory, checkpoints and resume are ``pipeline.train_gail``'s, which builds the same trainer);
    BC warm start per ``config.bc_epochs`` (masked); ``total_timesteps=0`` trains BC alone.

    The config's board settings apply (:func:`board_run_setup`), and ``config.bc_reg_steps > 0``
    adds the :class:`BCRegulariser`; ``cnn``: see :func:`masked_generator`."""
    from genplay.gail.algos.gail import GAIL

    base, demos = board_run_setup(demos.env_factory, demos, config)
    factory = factory or base
    venv = factory.make_vec(config.n_envs, seed=config.seed)
    gen = masked_generator(venv, config, game=game_of(factory.env_id), cnn=cnn)
    trainer = GAIL(venv=venv, demos=demos, config=config, gen_algo=gen)
    if total_timesteps > 0:
        trainer.learn(total_timesteps, callback=bc_regulariser(trainer))
    else:
        trainer.pretrain_bc()
    return trainer


def bc_regulariser(trainer) -> BCRegulariser | None:
    """The trainer's :class:`BCRegulariser` (``config.bc_reg_steps`` steps), or None when that is 0."""
    steps = trainer.config.bc_reg_steps
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
        self.rng = np.random.default_rng(trainer.config.seed + 7)
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


def symmetries(game: str) -> list[tuple[Any, np.ndarray]]:
    """Board symmetries of ``game`` that OpenSpiel's rules respect: ``(planes_fn, action_map)`` pairs.

    ``planes_fn`` maps ``(..., H, W)`` planes; ``action_map[a]`` is the image of action ``a``.
    Tic-tac-toe: the 8 of the square. Connect four: the mirror. Othello: the 4 that keep
    the starting position (identity, half turn, both diagonal reflections); pass stays pass.
    """
    if game == "connect_four":
        return [(lambda x: x, np.arange(7)), (lambda x: x[..., ::-1], np.arange(7)[::-1].copy())]
    if game == "tic_tac_toe":
        fns = [
            lambda x, k=k, f=f: np.rot90(x[..., ::-1] if f else x, k, axes=(-2, -1)) for f in (0, 1) for k in range(4)
        ]
        size, extra = 3, 0
    elif game == "othello":
        fns = [lambda x: x, lambda x: np.rot90(x, 2, axes=(-2, -1)), lambda x: np.swapaxes(x, -1, -2)]
        fns.append(lambda x: np.rot90(np.swapaxes(x, -1, -2), 2, axes=(-2, -1)))
        size, extra = 8, 1
    else:
        raise EnvError(f"no symmetries known for {game!r}")
    out = []
    for fn in fns:
        moved = np.ascontiguousarray(fn(np.arange(size * size).reshape(size, size))).ravel()
        amap = np.argsort(moved)  # old cell a now sits at position amap[a]
        out.append((fn, np.concatenate([amap, np.arange(size * size, size * size + extra)])))
    return out


def augment_symmetries(demos: Demos, game: str) -> Demos:
    """The demos plus their images under the game's board symmetries (each image its own episode).

    A symmetric image of an expert move is an equally good move in the image position, so
    this multiplies the states an imitation learner sees without another expert game.
    """
    obs, acts, masks = [], [], []
    for fn, amap in symmetries(game):
        obs.append(np.ascontiguousarray(fn(demos.obs)))
        acts.append(amap[demos.acts])
        m = np.zeros_like(demos.action_masks)
        m[:, amap] = demos.action_masks
        masks.append(m)
    k = len(obs)
    return dataclasses.replace(
        demos,
        obs=np.concatenate(obs),
        acts=np.concatenate(acts),
        action_masks=np.concatenate(masks),
        rewards=np.tile(demos.rewards, k),
        episode_lengths=np.tile(demos.episode_lengths, k),
        terminated=np.tile(demos.terminated, k),
        metadata={**demos.metadata, "augmented_symmetries": k},
    )
