"""One env factory: an id plus its wrappers, used wherever an env is made.

Demo collection, GAIL training, evaluation and reloading a checkpoint all build their
envs from the same :class:`EnvFactory`, so a wrapper (frame stacking, Atari
preprocessing, an action masker) applies everywhere or nowhere. The factory is plain
data (JSON in demos and checkpoints): wrappers are named, never imported from a file.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym
from gymnasium import wrappers as gym_wrappers

from genplay.envs.registry import check_env_id
from genplay.errors import EnvError

WRAPPERS: dict[str, Callable[[gym.Env], gym.Env]] = {
    "flatten_observation": gym_wrappers.FlattenObservation,
    "time_aware_observation": gym_wrappers.TimeAwareObservation,
    "frame_stack_4": lambda env: gym_wrappers.FrameStackObservation(env, 4),
}
"""Wrappers a factory may name, applied in the order given (innermost first)."""


@dataclass(frozen=True)
class EnvFactory:
    """An env id, its ``gym.make`` keyword arguments (JSON values) and named wrappers."""

    env_id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    wrappers: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_env_id(self.env_id)
        self.atari_config  # noqa: B018  (validates Atari options where they enter)
        unknown = [w for w in self.wrappers if w not in WRAPPERS]
        if unknown:
            raise EnvError(f"unknown env wrapper {unknown[0]!r}; expected one of {sorted(WRAPPERS)}")
        try:
            json.dumps(self.kwargs)
        except TypeError as exc:
            raise EnvError(f"env kwargs must be JSON values ({exc})") from None

    def make(self, **extra: Any) -> gym.Env:
        """One env (``extra`` goes to ``gym.make``, e.g. ``render_mode``)."""
        env = gym.make(self.env_id, **{**self.kwargs, **extra})
        for name in self.wrappers:
            env = WRAPPERS[name](env)
        return env

    def make_vec(self, n_envs: int, *, seed: int | None = 0, native: bool = True):
        """An SB3 vec env of ``n_envs`` copies, each under SB3's ``Monitor``, seeded ``seed + i``.

        ``genplay/<Game>-v0`` Atari ids without wrappers step on ale-py's native vector env
        (same observations, 2x faster) unless ``native`` is False.
        """
        from stable_baselines3.common.env_util import make_vec_env

        if n_envs < 1:
            raise EnvError(f"n_envs must be >= 1, got {n_envs}")
        atari = self.atari_config
        if atari is not None and not self.wrappers:
            from genplay.envs.atari import make_atari_vec

            return make_atari_vec(atari, n_envs, seed=seed, native=native)
        return make_vec_env(lambda **_: self.make(), n_envs=n_envs, seed=seed)

    @property
    def atari_config(self):
        """The ``AtariConfig`` of a ``genplay/<Game>-v0`` id, else None."""
        from genplay.envs.atari import atari_config_of

        return atari_config_of(self.env_id, self.kwargs)

    @property
    def max_episode_steps(self) -> int | None:
        """The time limit the env knows, if any."""
        return check_env_id(self.env_id).max_episode_steps

    def to_dict(self) -> dict[str, Any]:
        return {"env_id": self.env_id, "kwargs": dict(self.kwargs), "wrappers": list(self.wrappers)}

    @staticmethod
    def from_dict(data: Any, *, source: str = "env") -> EnvFactory:
        if isinstance(data, str):
            return EnvFactory(data)
        if not isinstance(data, dict) or not isinstance(data.get("env_id"), str):
            raise EnvError(f"{source}: field 'env' must be an env id or {{env_id, kwargs, wrappers}}, got {data!r}")
        kwargs, wrappers = data.get("kwargs", {}), data.get("wrappers", [])
        if not isinstance(kwargs, dict) or not isinstance(wrappers, list):
            raise EnvError(f"{source}: field 'env' has malformed kwargs or wrappers")
        check_file_kwargs(data["env_id"], kwargs, source)
        return EnvFactory(data["env_id"], kwargs, tuple(str(w) for w in wrappers))


def check_file_kwargs(env_id: str, kwargs: dict[str, Any], source: str) -> None:
    """Refuse env kwargs read from a file that would change the task rather than describe it.

    A file (demos, checkpoint, policy) may only set the env's own constructor options (a
    board game's opponent, an Atari option, Pendulum's ``g``): never ``gym.make``'s
    ``max_episode_steps`` and the like, a ``render_mode``, nor an option the registered id
    fixes (its ``game``), which would silently train or score on another task.
    """
    spec = check_env_id(env_id)
    entry = spec.entry_point
    try:
        creator = gym.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry
        params = inspect.signature(creator).parameters
    except (ImportError, AttributeError, TypeError, ValueError):  # nothing to check against: allow none
        params = {}
    open_ended = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    named = (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    allowed = {n for n, p in params.items() if p.kind not in named and n not in ("self", "render_mode")}
    allowed -= set(spec.kwargs)
    for key in kwargs:
        if key in FIXED_KWARGS or key in spec.kwargs or (key not in allowed and not open_ended):
            expected = ", ".join(sorted(allowed)) or "none"
            raise EnvError(
                f"{source}: field 'env.kwargs.{key}' cannot be set from a file for {env_id}; "
                f"expected only the env's own options ({expected})"
            )


FIXED_KWARGS = frozenset(
    {"render_mode", "max_episode_steps", "autoreset", "apply_api_compatibility", "disable_env_checker", "game", "id"}
)
"""``gym.make`` options and identities that only the command line may set, never a file."""


def as_factory(env: str | EnvFactory) -> EnvFactory:
    """Accept an env id wherever a factory is expected."""
    return env if isinstance(env, EnvFactory) else EnvFactory(env)
