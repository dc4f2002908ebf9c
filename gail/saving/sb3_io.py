"""Save and load SB3 algorithms (PPO, A2C, MaskablePPO; DQN for DAC's learner) without unpickling anything.

SB3's ``.zip`` holds ``data`` (JSON whose ``:serialized:`` fields are cloudpickle, which
runs code when loaded), ``policy.pth`` and ``policy.optimizer.pth``. genplay never
unpickles ``data``: it rebuilds the algorithm from settings it stores as plain JSON
(:func:`algo_meta`: the algorithm class and policy class from allow-lists, net_arch,
activation and optimiser by name, the hyper-parameters, the step counters, the spaces),
then loads the weights with ``torch.load(weights_only=True)``.

- :func:`algo_state` / :func:`algo_from_state`: the generator inside a GAIL checkpoint.
- ``gail/saving/sb3_zip.py``: the same settings and weights as SB3's own ``.zip`` files, for policies
  and experts (genplay's and third-party ones).
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any

import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.preprocessing import is_image_space
from stable_baselines3.common.utils import ConstantSchedule, FloatSchedule, LinearSchedule

from genplay.errors import CheckpointError
from genplay.generative.core.networks import ACTIVATIONS

GENPLAY_MEMBER = "genplay.json"
MAX_ENVS = 4096  # bounds on what a file may make us allocate
MAX_ROLLOUT = 10**8
META_FORMAT = "genplay-sb3"
META_VERSION = 1
ALGOS = {
    "PPO": "stable_baselines3:PPO",
    "A2C": "stable_baselines3:A2C",
    "MaskablePPO": "sb3_contrib:MaskablePPO",
    "DQN": "stable_baselines3:DQN",
    "SAC": "stable_baselines3:SAC",
}
# a rebuilt DQN is a policy to act with (its replay buffer is never restored from a zip): keep the buffer small
REBUILT_BUFFER_SIZE = 1_000
POLICY_NAMES = ("MlpPolicy", "CnnPolicy", "MultiInputPolicy")


def policy_for_space(space: spaces.Space) -> str:
    """SB3's policy name for an observation space: MultiInput for dicts, Cnn for images, else Mlp."""
    if isinstance(space, spaces.Dict):
        return "MultiInputPolicy"
    return "CnnPolicy" if is_image_space(space) else "MlpPolicy"


# genplay's own policy classes, stored by name (their extra constructor kwargs are plain policy_kwargs)
GENPLAY_POLICIES = {"SymmetricMaskablePolicy": "genplay.gail.suites.boardgame_policy:SymmetricMaskablePolicy"}
OPTIMIZERS = {
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
    "RMSprop": torch.optim.RMSprop,
    "SGD": torch.optim.SGD,
}
_EXTRACTORS = (
    "FlattenExtractor",
    "NatureCNN",
    "CombinedExtractor",
    "CenteredNatureCNN",
    "BoardCNN",
    "ObsScalingExtractor",
    "OthelloMoveFeatures",
    "OthelloLookaheadFeatures",
)
_ACT_NAMES = {cls: name for name, cls in ACTIVATIONS.items()}
# constructor arguments that are not hyper-parameters (or are handled apart)
_SKIP = {"self", "policy", "env", "device", "tensorboard_log", "verbose", "_init_setup_model", "policy_kwargs"}
_SKIP |= {"rollout_buffer_class", "rollout_buffer_kwargs", "monitor_wrapper", "supported_action_spaces"}
_SKIP |= {"replay_buffer_class", "replay_buffer_kwargs"}


def algo_class(name: str) -> type[BaseAlgorithm]:
    if name not in ALGOS:
        raise CheckpointError(f"generator class {name!r} is not one genplay can store; expected one of {sorted(ALGOS)}")
    module, attr = ALGOS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def _plain(value: Any) -> bool:
    if value is None or isinstance(value, (bool, int, float, str)):
        return True
    if isinstance(value, (list, tuple)):
        return all(_plain(v) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _plain(v) for k, v in value.items())
    return False


def _schedule_to_json(value: Any, progress: float) -> Any:
    if isinstance(value, FloatSchedule):
        return _schedule_to_json(value.value_schedule, progress)
    if isinstance(value, ConstantSchedule):
        return float(value.val)
    if isinstance(value, LinearSchedule):
        return {"schedule": "linear", "start": value.start, "end": value.end, "end_fraction": value.end_fraction}
    if callable(value):  # an arbitrary function cannot be stored as data: keep its current value
        return float(value(progress))
    return value


def _schedule_from_json(value: Any) -> Any:
    if isinstance(value, dict) and value.get("schedule") == "linear":
        return LinearSchedule(float(value["start"]), float(value["end"]), float(value["end_fraction"]))
    return value


def _policy_kwargs_to_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in (kwargs or {}).items():
        if key == "activation_fn":
            if value not in _ACT_NAMES:
                raise CheckpointError(f"policy activation {value!r} is not one of {sorted(ACTIVATIONS)}")
            out[key] = _ACT_NAMES[value]
        elif key == "optimizer_class":
            names = [n for n, cls in OPTIMIZERS.items() if cls is value]
            if not names:
                raise CheckpointError(f"policy optimizer {value!r} is not one of {sorted(OPTIMIZERS)}")
            out[key] = names[0]
        elif key == "features_extractor_class":
            if getattr(value, "__name__", None) not in _EXTRACTORS:
                raise CheckpointError(f"features extractor {value!r} is not one of {list(_EXTRACTORS)}")
            out[key] = value.__name__
        elif _plain(value):
            out[key] = value
        else:
            raise CheckpointError(f"policy_kwargs[{key!r}] = {value!r} cannot be stored as plain data")
    return out


def _check_net_arch(arch: Any) -> None:
    """A stored net_arch (widths, or ``{"pi": [...], "vf": [...]}``) within the bounds the flags have:
    a file asking for a 1e9-wide layer is refused before anything is allocated."""
    from genplay.settings import MACHINE, MAX_LAYERS, MAX_WIDTH

    lists = list(arch.values()) if isinstance(arch, dict) else [arch]
    for widths in lists:
        ok = isinstance(widths, list) and len(widths) <= MAX_LAYERS
        if not ok or not all(isinstance(w, int) and not isinstance(w, bool) and 1 <= w <= MAX_WIDTH for w in widths):
            raise CheckpointError(
                f"policy_kwargs.net_arch is {arch!r}; expected at most {MAX_LAYERS} layer widths in [1, {MAX_WIDTH}] "
                f"({MACHINE})"
            )


def _policy_kwargs_from_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    from stable_baselines3.common import torch_layers

    out = dict(kwargs)
    if "net_arch" in out:
        _check_net_arch(out["net_arch"])
    if "activation_fn" in out:
        out["activation_fn"] = ACTIVATIONS[_choice(out["activation_fn"], ACTIVATIONS, "activation_fn")]
    if "optimizer_class" in out:
        out["optimizer_class"] = OPTIMIZERS[_choice(out["optimizer_class"], OPTIMIZERS, "optimizer_class")]
    if "features_extractor_class" in out:
        from genplay.gail.networks import othello_features
        from genplay.gail.rewards import features

        name = _choice(out["features_extractor_class"], _EXTRACTORS, "features_extractor_class")
        home = next(m for m in (torch_layers, features, othello_features) if hasattr(m, name))
        out["features_extractor_class"] = getattr(home, name)
    return out


def _genplay_policy(name: str) -> type | None:
    """The genplay policy class stored as ``name``, else None."""
    if name not in GENPLAY_POLICIES:
        return None
    module, attr = GENPLAY_POLICIES[name].split(":")
    return getattr(importlib.import_module(module), attr)


def _choice(value: Any, allowed, what: str) -> Any:
    if not isinstance(value, str) or value not in allowed:
        raise CheckpointError(f"{what} {value!r} is not one of {sorted(allowed)}")
    return value


def algo_meta(algo: BaseAlgorithm) -> dict[str, Any]:
    """Everything needed to rebuild ``algo`` (weights aside), as plain JSON."""
    from genplay.gail.data.spaces import describe_space

    cls = type(algo)
    algo_name = next((n for n in ALGOS if algo_class(n) is cls), None)
    # a subclass that only changes how it trains (DAC's DQN) is stored as its SB3 base class
    algo_name = algo_name or next((n for n in ALGOS if issubclass(cls, algo_class(n))), None)
    if algo_name is None:
        raise CheckpointError(f"generator class {cls.__name__} is not one genplay can store; expected {sorted(ALGOS)}")
    aliases = algo_class(algo_name).policy_aliases
    policy_name = next((n for n, p in aliases.items() if p is type(algo.policy) and n in POLICY_NAMES), None)
    if policy_name is None and _genplay_policy(type(algo.policy).__name__) is type(algo.policy):
        policy_name = type(algo.policy).__name__
    if policy_name is None:
        raise CheckpointError(f"policy class {type(algo.policy).__name__} is not one of {list(POLICY_NAMES)}")
    # SB3's progress runs below 0 when a run overshoots its budget (learn() finishes its last
    # rollout): a schedule is stored at the value it has at the end of training, never past it
    progress = min(max(float(getattr(algo, "_current_progress_remaining", 1.0)), 0.0), 1.0)
    hyper = {}
    for name in inspect.signature(algo_class(algo_name).__init__).parameters:
        if name in _SKIP or not hasattr(algo, name):
            continue
        value = _schedule_to_json(getattr(algo, name), progress)
        if _plain(value):
            hyper[name] = value
    return {
        "format": META_FORMAT,
        "version": META_VERSION,
        "algo": algo_name,
        "policy": policy_name,
        "hyper": hyper,
        "policy_kwargs": _policy_kwargs_to_json(algo.policy_kwargs),
        "n_envs": int(algo.n_envs),
        "num_timesteps": int(algo.num_timesteps),
        "n_updates": int(getattr(algo, "_n_updates", 0)),
        "observation_space": describe_space(algo.observation_space),
        "action_space": describe_space(algo.action_space),
    }


def algo_state(algo: BaseAlgorithm) -> dict[str, Any]:
    """The generator as a :mod:`state_io` tree: JSON meta, policy weights, optimiser state."""
    return {
        "meta": algo_meta(algo),
        "policy": algo.policy.state_dict(),
        "optimizer": algo.policy.optimizer.state_dict(),
    }


def build_algo(meta: dict[str, Any], venv, *, device: Any = "cpu", name: str = "checkpoint") -> BaseAlgorithm:
    """A fresh algorithm of ``meta``'s class and settings on ``venv`` (weights not loaded yet)."""
    if not isinstance(meta, dict) or meta.get("format") != META_FORMAT or meta.get("version") != META_VERSION:
        raise CheckpointError(f"{name}: generator metadata is not {META_FORMAT} version {META_VERSION}")
    try:
        cls = algo_class(meta["algo"])
        policy = _choice(meta["policy"], (*POLICY_NAMES, *GENPLAY_POLICIES), "policy")
        policy = _genplay_policy(policy) or policy
        hyper = {k: _schedule_from_json(v) for k, v in meta["hyper"].items()}
        params = inspect.signature(cls.__init__).parameters
        hyper = {k: v for k, v in hyper.items() if k in params and k not in _SKIP}
        if "buffer_size" in params:  # off-policy: a fresh, small buffer (SB3's default kind)
            hyper.update(buffer_size=REBUILT_BUFFER_SIZE, optimize_memory_usage=False)
        n_steps, n_envs = hyper.get("n_steps", 1), getattr(venv, "num_envs", 1)
        if not isinstance(n_steps, int) or not 1 <= n_steps * n_envs <= MAX_ROLLOUT:
            raise CheckpointError(f"n_steps * n_envs = {n_steps!r} * {n_envs} is outside [1, {MAX_ROLLOUT}]")
        algo = cls(
            policy,
            venv,
            device=device,
            verbose=0,
            policy_kwargs=_policy_kwargs_from_json(meta["policy_kwargs"]),
            **hyper,
        )
        algo.num_timesteps = counter(meta["num_timesteps"], "num_timesteps")
        algo._n_updates = counter(meta["n_updates"], "n_updates")
    except CheckpointError as exc:
        raise CheckpointError(f"{name}: {exc}") from None
    except Exception as exc:
        raise CheckpointError(f"{name}: cannot rebuild the SB3 model ({type(exc).__name__}: {exc})") from None
    return algo


MAX_COUNT = 10**13
"""Step and update counters at most this (a crafted file's -3 or 1e300 is refused, not resumed)."""


def counter(value: Any, field: str) -> int:
    """A stored step or update count as an int in ``[0, MAX_COUNT]``, else one ``CheckpointError``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise CheckpointError(f"field {field!r} is {value!r}; expected a count in [0, {MAX_COUNT}]")
    return value


def load_weights(algo: BaseAlgorithm, policy: dict, optimizer: dict | None, *, name: str) -> None:
    try:
        algo.policy.load_state_dict(policy, strict=True)
        if optimizer is not None:
            algo.policy.optimizer.load_state_dict(optimizer)
    except Exception as exc:
        msg = " ".join(str(exc).split())[:300]
        raise CheckpointError(
            f"{name}: the stored weights do not fit the generator ({type(exc).__name__}: {msg})"
        ) from None


def algo_from_state(state: dict, venv, *, device: Any = "cpu", name: str = "checkpoint") -> BaseAlgorithm:
    """Inverse of :func:`algo_state` on ``venv``, whose spaces must be the stored ones."""
    try:
        meta, policy, optimizer = state["meta"], state["policy"], state["optimizer"]
    except (KeyError, TypeError):
        raise CheckpointError(f"{name}: field 'generator' is malformed") from None
    algo = build_algo(meta, venv, device=device, name=name)
    load_weights(algo, policy, optimizer, name=name)
    return algo
