"""Resolve and create environments by id, with a clear error for unknown ids."""

from __future__ import annotations

import difflib

import gymnasium as gym

from genplay.errors import EnvError

_ALE_REGISTERED = False


def _register_optional_suites() -> None:
    """Register ALE (Atari) ids once; ale-py ships the ROMs, nothing is downloaded."""
    global _ALE_REGISTERED
    if not _ALE_REGISTERED:
        try:
            import ale_py

            gym.register_envs(ale_py)
            ale_py.ALEInterface.setLoggerMode(ale_py.LoggerMode.Error)  # no banner before genplay's own lines
        except ImportError:  # pragma: no cover - ale-py is a hard dependency
            pass
        else:
            from genplay.envs.atari import register_atari_ids

            register_atari_ids()
        _ALE_REGISTERED = True


def check_env_id(env_id: str) -> gym.envs.registration.EnvSpec:
    """Return the spec of ``env_id`` or raise EnvError naming close matches.

    The genplay/* ids are registered already: importing this module ran ``genplay.envs``'s
    ``__init__`` (a submodule's parent package is always imported first)."""
    if env_id not in gym.registry:
        _register_optional_suites()
    if env_id not in gym.registry:
        close = difflib.get_close_matches(env_id, list(gym.registry), n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise EnvError(f"unknown env id {env_id!r}{hint}")
    return gym.registry[env_id]


def make_env(env_id: str, **kwargs) -> gym.Env:
    """``gym.make`` after checking the id."""
    check_env_id(env_id)
    return gym.make(env_id, **kwargs)
