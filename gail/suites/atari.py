"""Pixel GAIL on ALE: expert demos of frames, the trainer, and full-game evaluation.

The learner never sees RAM. Scripted experts (``genplay.envs.atari_experts``) read it to
act (the default, imitable kind only what the screen shows); the demos keep exactly the
preprocessed uint8 frames and actions the learner sees, each distinct frame once
(:class:`~genplay.gail.data.store.StackedFrames`), compressed on disk.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np

from genplay.envs import EnvFactory
from genplay.envs.atari import AtariConfig, atari_id
from genplay.errors import EnvError
from genplay.gail.data.collect import collect_demos
from genplay.gail.data.demos import Demos
from genplay.gail.data.spaces import describe_space
from genplay.gail.data.store import FrameStackBuilder


def atari_factory(game: str, **options: Any) -> EnvFactory:
    """The env factory of ``game`` with :class:`AtariConfig` options (validated here)."""
    config = AtariConfig(game, **options)
    kwargs = {k: v for k, v in vars(config).items() if k != "game" and v != getattr(AtariConfig, k)}
    return EnvFactory(atari_id(config.game), kwargs)


def evaluation_factory(factory: EnvFactory) -> EnvFactory:
    """The same game as evaluation plays it: full games (no life-loss ends), raw scores."""
    kwargs = {k: v for k, v in factory.kwargs.items() if k not in ("terminal_on_life_loss", "clip_reward")}
    return EnvFactory(factory.env_id, kwargs, factory.wrappers)


def scripted_expert_demos(
    factory: EnvFactory,
    n_games: int,
    *,
    seed: int = 0,
    max_steps: int | None = None,
    progress: bool = False,
    kind: str = "imitable",
) -> Demos:
    """``n_games`` full games of the game's scripted expert of ``kind``, as frame demos.

    ``kind`` (``genplay.envs.atari_experts.EXPERT_KINDS``): ``imitable`` (the default: it acts
    once per agent step on what the frames show, so a pixel learner can reproduce it) or
    ``planner`` (the RAM planner, the contrast). A game cut short (a ball never served
    again, or ``max_steps``) is stored as truncated, not terminated: nobody lost it.
    """
    from genplay.envs.atari_experts import ATARI_EXPERTS, expert_games, expert_name, play_game

    atari, games = factory.atari_config, expert_games(kind)
    if atari is None or atari.game not in games:
        raise EnvError(f"no scripted expert for {factory.env_id} ({kind}); genplay has them for {', '.join(games)}")
    name = expert_name(atari.game, kind)
    env = _Recorder(factory.make(record_ram=True))
    rng = np.random.default_rng(seed)
    lengths, terminated, scores = [], [], []
    t0 = time.perf_counter()
    for game in range(n_games):
        result = play_game(env, ATARI_EXPERTS[name](rng), seed=seed + game, max_steps=max_steps)
        lengths.append(result.steps)
        terminated.append(env.terminated)
        scores.append(result.score)
        if progress:
            print(
                f"game {game + 1}/{n_games}: {result.score:+.0f} in {result.steps} steps, "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )
    env.close()
    return Demos(
        obs=env.frames.build(),
        acts=np.asarray(env.acts, dtype=np.int64),
        rewards=np.asarray(env.rewards, dtype=np.float32),
        episode_lengths=np.asarray(lengths, dtype=np.int64),
        terminated=np.asarray(terminated, dtype=bool),
        env_id=factory.env_id,
        observation_space=describe_space(env.observation_space),
        action_space=describe_space(env.action_space),
        metadata={"policy": f"scripted:{name}", "seed": seed, "scores": scores},
        env=factory,
    )


def policy_demos(factory: EnvFactory, policy: Any, n_games: int, *, seed: int = 0) -> Demos:
    """Frame demos of any policy (an SB3 Atari model loaded with ``gail.sb3_io``, a GAIL trainer, a
    batched callable), played side by side; frames are deduplicated as they arrive."""
    return collect_demos(factory, policy, n_games, seed=seed, deterministic=False)


class _Recorder(gym.Wrapper):
    """Keeps what the learner would see of each step: frames (once each), actions, raw rewards."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.frames = FrameStackBuilder()
        self.acts: list[int] = []
        self.rewards: list[float] = []
        self.terminated = False

    def reset(self, **kwargs):
        obs, info = self.env.reset(**kwargs)
        self.frames.new_episode()
        self.frames.add(obs)
        self.terminated = False
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frames.add(obs)
        self.acts.append(int(action))
        self.rewards.append(float(reward))
        self.terminated = bool(terminated)
        return obs, reward, terminated, truncated, info
