"""Save and load SB3 on-policy algorithms without unpickling anything.

SB3's ``.zip`` holds ``data`` (JSON whose ``:serialized:`` fields are cloudpickle, which
runs code when loaded), ``policy.pth`` and ``policy.optimizer.pth``. genplay never
unpickles ``data``: it rebuilds the algorithm from settings it stores as plain JSON
(:func:`algo_meta`: the algorithm class and policy class from allow-lists, net_arch,
activation and optimiser by name, the hyper-parameters, the step counters, the spaces),
then loads the weights with ``torch.load(weights_only=True)``.

- :func:`algo_state` / :func:`algo_from_state`: the generator inside a GAIL checkpoint.
- :func:`save_sb3_zip`: SB3's own zip layout (SB3 users can still ``PPO.load`` it) plus a
  ``genplay.json`` member that genplay reads instead of ``data``.
- :func:`load_sb3_zip`: a genplay zip, or a third-party SB3 zip (an expert someone
  trained): only its plain JSON fields are read, the network shape is inferred from the
  weights' shapes, and anything that cannot be inferred is one clear error.
"""

from __future__ import annotations

import importlib
import inspect
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.utils import ConstantSchedule, FloatSchedule, LinearSchedule

from genplay.errors import CheckpointError
from genplay.generative.core import atomic_write
from genplay.generative.core.networks import ACTIVATIONS

GENPLAY_MEMBER = "genplay.json"
MAX_ENVS = 4096  # bounds on what a file may make us allocate
MAX_ROLLOUT = 10**8
META_FORMAT = "genplay-sb3"
META_VERSION = 1
ALGOS = {"PPO": "stable_baselines3:PPO", "A2C": "stable_baselines3:A2C", "MaskablePPO": "sb3_contrib:MaskablePPO"}
POLICY_NAMES = ("MlpPolicy", "CnnPolicy", "MultiInputPolicy")
# genplay's own policy classes, stored by name (their extra constructor kwargs are plain policy_kwargs)
GENPLAY_POLICIES = {"SymmetricMaskablePolicy": "genplay.gail.boardgame_policy:SymmetricMaskablePolicy"}
OPTIMIZERS = {
    "Adam": torch.optim.Adam,
    "AdamW": torch.optim.AdamW,
    "RMSprop": torch.optim.RMSprop,
    "SGD": torch.optim.SGD,
}
_EXTRACTORS = ("FlattenExtractor", "NatureCNN", "CombinedExtractor", "CenteredNatureCNN", "BoardCNN")
_ACT_NAMES = {cls: name for name, cls in ACTIVATIONS.items()}
# constructor arguments that are not hyper-parameters (or are handled apart)
_SKIP = {"self", "policy", "env", "device", "tensorboard_log", "verbose", "_init_setup_model", "policy_kwargs"}
_SKIP |= {"rollout_buffer_class", "rollout_buffer_kwargs", "monitor_wrapper", "supported_action_spaces"}


def algo_class(name: str) -> type[OnPolicyAlgorithm]:
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


def _policy_kwargs_from_json(kwargs: dict[str, Any]) -> dict[str, Any]:
    from stable_baselines3.common import torch_layers

    out = dict(kwargs)
    if "activation_fn" in out:
        out["activation_fn"] = ACTIVATIONS[_choice(out["activation_fn"], ACTIVATIONS, "activation_fn")]
    if "optimizer_class" in out:
        out["optimizer_class"] = OPTIMIZERS[_choice(out["optimizer_class"], OPTIMIZERS, "optimizer_class")]
    if "features_extractor_class" in out:
        from genplay.gail import features

        name = _choice(out["features_extractor_class"], _EXTRACTORS, "features_extractor_class")
        out["features_extractor_class"] = getattr(torch_layers if hasattr(torch_layers, name) else features, name)
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


def algo_meta(algo: OnPolicyAlgorithm) -> dict[str, Any]:
    """Everything needed to rebuild ``algo`` (weights aside), as plain JSON."""
    from genplay.gail.demos import describe_space

    cls = type(algo)
    algo_name = next((n for n in ALGOS if algo_class(n) is cls), None)
    if algo_name is None:
        raise CheckpointError(f"generator class {cls.__name__} is not one genplay can store; expected {sorted(ALGOS)}")
    policy_name = next((n for n, p in cls.policy_aliases.items() if p is type(algo.policy) and n in POLICY_NAMES), None)
    if policy_name is None and _genplay_policy(type(algo.policy).__name__) is type(algo.policy):
        policy_name = type(algo.policy).__name__
    if policy_name is None:
        raise CheckpointError(f"policy class {type(algo.policy).__name__} is not one of {list(POLICY_NAMES)}")
    progress = float(getattr(algo, "_current_progress_remaining", 1.0))
    hyper = {}
    for name in inspect.signature(cls.__init__).parameters:
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


def algo_state(algo: OnPolicyAlgorithm) -> dict[str, Any]:
    """The generator as a :mod:`state_io` tree: JSON meta, policy weights, optimiser state."""
    return {
        "meta": algo_meta(algo),
        "policy": algo.policy.state_dict(),
        "optimizer": algo.policy.optimizer.state_dict(),
    }


def build_algo(meta: dict[str, Any], venv, *, device: Any = "cpu", name: str = "checkpoint") -> OnPolicyAlgorithm:
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
        algo.num_timesteps = int(meta["num_timesteps"])
        algo._n_updates = int(meta["n_updates"])
    except CheckpointError as exc:
        raise CheckpointError(f"{name}: {exc}") from None
    except Exception as exc:
        raise CheckpointError(f"{name}: cannot rebuild the generator ({type(exc).__name__}: {exc})") from None
    return algo


def load_weights(algo: OnPolicyAlgorithm, policy: dict, optimizer: dict | None, *, name: str) -> None:
    try:
        algo.policy.load_state_dict(policy, strict=True)
        if optimizer is not None:
            algo.policy.optimizer.load_state_dict(optimizer)
    except Exception as exc:
        msg = " ".join(str(exc).split())[:300]
        raise CheckpointError(
            f"{name}: the stored weights do not fit the generator ({type(exc).__name__}: {msg})"
        ) from None


def algo_from_state(state: dict, venv, *, device: Any = "cpu", name: str = "checkpoint") -> OnPolicyAlgorithm:
    """Inverse of :func:`algo_state` on ``venv``, whose spaces must be the stored ones."""
    try:
        meta, policy, optimizer = state["meta"], state["policy"], state["optimizer"]
    except (KeyError, TypeError):
        raise CheckpointError(f"{name}: field 'generator' is malformed") from None
    algo = build_algo(meta, venv, device=device, name=name)
    load_weights(algo, policy, optimizer, name=name)
    return algo


# ---------------------------------------------------------------------------- zip files


def save_sb3_zip(algo: OnPolicyAlgorithm, path: str | Path, extra: dict[str, Any] | None = None) -> None:
    """SB3's zip of ``algo`` plus a ``genplay.json`` member (meta and ``extra``), written atomically."""
    blob = io.BytesIO()
    algo.save(blob)
    meta = {**algo_meta(algo), "extra": extra or {}}
    with zipfile.ZipFile(blob, "a") as zf:
        zf.writestr(GENPLAY_MEMBER, json.dumps(meta))
    data = blob.getvalue()
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


def _torch_member(zf: zipfile.ZipFile, member: str, name: str) -> Any:
    try:
        return torch.load(io.BytesIO(zf.read(member)), map_location="cpu", weights_only=True)
    except Exception as exc:
        msg = " ".join(str(exc).split())[:200]
        raise CheckpointError(f"{name}: member {member!r} is not plain tensors ({type(exc).__name__}: {msg})") from None


def read_sb3_zip(path: str | Path) -> tuple[dict | None, dict, dict, dict | None]:
    """``(genplay meta or None, plain fields of SB3's data, policy state dict, optimiser state or None)``.

    Only JSON and ``weights_only`` tensors are read; ``:serialized:`` fields are dropped.
    """
    name = str(path)
    try:
        with zipfile.ZipFile(path) as zf:
            members = set(zf.namelist())
            if "policy.pth" not in members:
                raise CheckpointError(f"{name}: not an SB3 policy zip (no 'policy.pth' member)")
            meta = json.loads(zf.read(GENPLAY_MEMBER)) if GENPLAY_MEMBER in members else None
            data = json.loads(zf.read("data")) if "data" in members else {}
            policy = _torch_member(zf, "policy.pth", name)
            opt = _torch_member(zf, "policy.optimizer.pth", name) if "policy.optimizer.pth" in members else None
    except CheckpointError:
        raise
    except Exception as exc:  # BadZipFile, CRC errors, bad JSON, ...
        raise CheckpointError(f"{name}: not a readable SB3 policy ({type(exc).__name__}: {exc})") from None
    if not isinstance(data, dict):
        data = {}
    data = {k: v for k, v in data.items() if not (isinstance(v, dict) and ":serialized:" in v) or k == "policy_kwargs"}
    if not isinstance(policy, dict) or not all(isinstance(v, torch.Tensor) for v in policy.values()):
        raise CheckpointError(f"{name}: member 'policy.pth' is not a state dict of tensors")
    return meta, data, policy, opt


def space_from_description(desc: dict[str, Any]) -> spaces.Space:
    """Rebuild a space from :func:`genplay.gail.demos.describe_space`'s JSON."""
    kind = desc["type"]
    if kind == "Box":
        shape = tuple(int(s) for s in desc["shape"])
        dtype = np.dtype(desc["dtype"])
        low = np.asarray(desc["low"], dtype=np.float64).reshape(shape).astype(dtype)
        high = np.asarray(desc["high"], dtype=np.float64).reshape(shape).astype(dtype)
        return spaces.Box(low, high, shape=shape, dtype=dtype)
    if kind == "Discrete":
        return spaces.Discrete(int(desc["n"]), start=int(desc.get("start", 0)))
    if kind == "MultiDiscrete":
        return spaces.MultiDiscrete(np.asarray(desc["nvec"], dtype=np.int64))
    if kind == "MultiBinary":
        return spaces.MultiBinary([int(s) for s in desc["shape"]])
    if kind == "Dict":
        return spaces.Dict({k: space_from_description(v) for k, v in desc["spaces"].items()})
    raise ValueError(f"unknown space type {kind!r}")


def spaces_venv(observation_space: spaces.Space, action_space: spaces.Space, n_envs: int = 1):
    """A VecEnv that only carries spaces (enough to build a policy for ``predict``)."""
    import gymnasium as gym
    from stable_baselines3.common.vec_env import DummyVecEnv

    class _Spaces(gym.Env):
        def __init__(self) -> None:
            self.observation_space, self.action_space = observation_space, action_space

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            return self.observation_space.sample(), {}

        def step(self, action):
            return self.observation_space.sample(), 0.0, True, False, {}

    return DummyVecEnv([_Spaces for _ in range(max(1, n_envs))])


def _infer_net_arch(policy: dict[str, torch.Tensor]) -> dict[str, list[int]]:
    arch: dict[str, list[int]] = {}
    for side, prefix in (("pi", "mlp_extractor.policy_net."), ("vf", "mlp_extractor.value_net.")):
        layers = sorted(
            (int(k[len(prefix) :].split(".")[0]), v.shape[0])
            for k, v in policy.items()
            if k.startswith(prefix) and k.endswith(".weight")
        )
        arch[side] = [width for _, width in layers]
    return arch


def _third_party_meta(data: dict, policy: dict, observation_space, action_space, name: str) -> dict[str, Any]:
    """genplay meta for a plain SB3 zip, from its plain JSON fields and its weights' shapes."""
    from genplay.gail.demos import describe_space

    kwargs_repr = data.get("policy_kwargs") if isinstance(data.get("policy_kwargs"), dict) else {}
    policy_kwargs: dict[str, Any] = {"net_arch": _infer_net_arch(policy)}
    act = kwargs_repr.get("activation_fn")
    if act is not None:
        found = [n for cls, n in _ACT_NAMES.items() if isinstance(act, str) and act.endswith(f".{cls.__name__}'>")]
        if not found:
            raise CheckpointError(f"{name}: policy activation {act!r} is not one of {sorted(ACTIVATIONS)}")
        policy_kwargs["activation_fn"] = found[0]
    for key in ("log_std_init", "ortho_init", "full_std", "use_expln", "squash_output", "share_features_extractor"):
        if key in kwargs_repr and _plain(kwargs_repr[key]):
            policy_kwargs[key] = kwargs_repr[key]
    if isinstance(observation_space, spaces.Dict):
        policy_name = "MultiInputPolicy"
    elif any(".cnn." in k for k in policy):
        policy_name = "CnnPolicy"
    else:
        policy_name = "MlpPolicy"
    hyper = {"use_sde": bool(data.get("use_sde", False))}
    return {
        "format": META_FORMAT,
        "version": META_VERSION,
        "algo": "PPO",
        "policy": policy_name,
        "hyper": hyper,
        "policy_kwargs": policy_kwargs,
        "n_envs": 1,
        "num_timesteps": int(data.get("num_timesteps", 0)) if isinstance(data.get("num_timesteps"), int) else 0,
        "n_updates": 0,
        "observation_space": describe_space(observation_space),
        "action_space": describe_space(action_space),
    }


def _check_shape(data: dict, key: str, space: spaces.Space, name: str) -> None:
    """SB3's ``data`` keeps a readable ``_shape`` beside each pickled space: compare it with the env's."""
    desc = data.get(key)
    shape = desc.get("_shape") if isinstance(desc, dict) else None
    if isinstance(shape, list) and space.shape is not None and tuple(shape) != tuple(space.shape):
        raise CheckpointError(f"{name}: the policy's {key} has shape {shape}, the env's is {list(space.shape)}")


def load_sb3_zip(
    path: str | Path,
    *,
    observation_space: spaces.Space | None = None,
    action_space: spaces.Space | None = None,
    device: Any = "cpu",
) -> tuple[OnPolicyAlgorithm, dict[str, Any]]:
    """``(algorithm, genplay extra)`` from a zip, never unpickling.

    A genplay zip rebuilds from its ``genplay.json``; a third-party SB3 zip needs the
    env's spaces (``observation_space``/``action_space``) and is rebuilt as a PPO policy.
    """
    name = str(path)
    meta, data, policy, optimizer = read_sb3_zip(path)
    if meta is not None:
        try:
            obs_space = space_from_description(meta["observation_space"])
            act_space = space_from_description(meta["action_space"])
            n_envs = int(meta.get("n_envs", 1))
            if not 1 <= n_envs <= MAX_ENVS:
                raise ValueError(f"n_envs {n_envs} is outside [1, {MAX_ENVS}]")
        except Exception as exc:
            raise CheckpointError(f"{name}: {GENPLAY_MEMBER} is malformed ({type(exc).__name__}: {exc})") from None
        extra = meta.get("extra") if isinstance(meta.get("extra"), dict) else {}
    else:
        if observation_space is None or action_space is None:
            raise CheckpointError(f"{name}: a plain SB3 zip (no {GENPLAY_MEMBER}); give the env it was trained on")
        _check_shape(data, "observation_space", observation_space, name)
        _check_shape(data, "action_space", action_space, name)
        meta = _third_party_meta(data, policy, observation_space, action_space, name)
        obs_space, act_space, n_envs, extra, optimizer = observation_space, action_space, 1, {}, None
    algo = build_algo(meta, spaces_venv(obs_space, act_space, n_envs), device=device, name=name)
    load_weights(algo, policy, optimizer, name=name)
    return algo, extra
