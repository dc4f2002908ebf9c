"""SB3 ``.zip`` files saved and loaded without unpickling anything (the settings: ``gail/saving/sb3_io.py``).

- :func:`save_sb3_zip`: SB3's own zip layout (SB3 users can still ``PPO.load`` it) plus a
  ``genplay.json`` member that genplay reads instead of ``data``.
- :func:`load_sb3_zip`: a genplay zip, or a third-party SB3 zip (an expert someone
  trained): only its plain JSON fields are read, the network shape is inferred from the
  weights' shapes, and anything that cannot be inferred is one clear error.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.base_class import BaseAlgorithm

from genplay.errors import CheckpointError
from genplay.gail.saving.sb3_io import (
    _ACT_NAMES,
    GENPLAY_MEMBER,
    MAX_ENVS,
    META_FORMAT,
    META_VERSION,
    _plain,
    algo_meta,
    build_algo,
    load_weights,
)
from genplay.generative.core import atomic_write
from genplay.generative.core.checks import check_finite_tree
from genplay.generative.core.networks import ACTIVATIONS


def save_sb3_zip(algo: BaseAlgorithm, path: str | Path, extra: dict[str, Any] | None = None) -> None:
    """SB3's zip of ``algo`` plus a ``genplay.json`` member (meta and ``extra``), written atomically."""
    blob = io.BytesIO()
    algo.save(blob)
    meta = {**algo_meta(algo), "extra": extra or {}}
    with zipfile.ZipFile(blob, "a") as zf:
        zf.writestr(GENPLAY_MEMBER, json.dumps(meta))
    data = blob.getvalue()
    atomic_write(path, lambda tmp: Path(tmp).write_bytes(data))


SCALING_BUFFERS = ("features_extractor.obs_mean", "features_extractor.obs_std", "features_extractor.obs_clip")
"""``ObsScalingExtractor``'s buffers in a policy's state dict: the statistics, not trained weights."""


def with_obs_scaling(algo: BaseAlgorithm, mean, std, clip: float) -> BaseAlgorithm:
    """A copy of ``algo`` whose policy scales raw observations itself: ``(x - mean) / std`` clipped to
    ``+-clip`` (:class:`~genplay.gail.rewards.features.ObsScalingExtractor` around its own extractor).

    Why a copy built at export rather than training with the extractor: the scaling then stays one
    frozen ``VecNormalize`` in the rollout path, whatever generator the user passed (A2C, MaskablePPO)
    and however the run started (old checkpoints resume unchanged), and the copy is exact: same
    weights, same optimiser state, the extractor computing what ``VecNormalize`` computed.
    """
    from genplay.gail.rewards.features import INNER_EXTRACTORS, ObsScalingExtractor

    policy = algo.policy
    inner = type(policy.features_extractor).__name__
    inner_kwargs = dict(getattr(policy, "features_extractor_kwargs", None) or {})
    if isinstance(policy.features_extractor, ObsScalingExtractor):
        raise CheckpointError("the policy already scales its observations; it would scale them twice")
    if inner not in INNER_EXTRACTORS or not _plain(inner_kwargs):
        raise CheckpointError(f"cannot put the observation scaling in front of a {inner} policy extractor")
    meta = algo_meta(algo)
    meta["policy_kwargs"] = {
        **meta["policy_kwargs"],
        "features_extractor_class": ObsScalingExtractor.__name__,
        "features_extractor_kwargs": {
            "mean": [float(v) for v in np.asarray(mean, dtype=np.float64).reshape(-1)],
            "std": [float(v) for v in np.asarray(std, dtype=np.float64).reshape(-1)],
            "clip": float(clip),
            "inner": inner,
            "inner_kwargs": inner_kwargs,
        },
    }
    venv = spaces_venv(algo.observation_space, algo.action_space, int(meta["n_envs"]))
    portable = build_algo(meta, venv, device=algo.device, name="policy export")
    state, source = portable.policy.state_dict(), algo.policy.state_dict()
    # the same tensors under the wrapper's names: "features_extractor.X" is "features_extractor.inner.X"
    moved = {k: k.replace("features_extractor.inner.", "features_extractor.") for k in state}
    moved = {k: src for k, src in moved.items() if not k.endswith(SCALING_BUFFERS)}
    if set(moved.values()) != set(source):
        raise CheckpointError(f"policy export: the scaled policy's weights do not map onto {type(policy).__name__}'s")
    portable.policy.load_state_dict({**state, **{k: source[src] for k, src in moved.items()}}, strict=True)
    portable.policy.optimizer.load_state_dict(algo.policy.optimizer.state_dict())
    return portable


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
    check_finite_tree(policy, f"{name}: member 'policy.pth'")  # NaN weights would act (or crash) silently
    return meta, data, policy, opt


def recorded_env_id(path: str | Path) -> str | None:
    """The env id a genplay zip records (``genplay.json``'s ``extra.env.env_id``), read without its weights;
    None for a third-party zip or one that records none. Lets a caller refuse another env's policy before
    making the env."""
    try:
        with zipfile.ZipFile(path) as zf:
            if GENPLAY_MEMBER not in zf.namelist():
                return None
            meta = json.loads(zf.read(GENPLAY_MEMBER))
    except Exception:  # unreadable here: load_sb3_zip names the problem
        return None
    env = (meta.get("extra") or {}).get("env") if isinstance(meta, dict) else None
    env_id = env.get("env_id") if isinstance(env, dict) else None
    return env_id if isinstance(env_id, str) else None


def space_from_description(desc: dict[str, Any]) -> spaces.Space:
    """Rebuild a space from :func:`genplay.gail.data.demos.describe_space`'s JSON."""
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


def _layer_widths(policy: dict[str, torch.Tensor], prefix: str) -> list[int]:
    """Output widths of the ``prefix<i>.weight`` layers, in order."""
    layers = sorted(
        (int(k[len(prefix) :].split(".")[0]), v.shape[0])
        for k, v in policy.items()
        if k.startswith(prefix) and k.endswith(".weight")
    )
    return [width for _, width in layers]


def _is_q_network(policy: dict[str, torch.Tensor]) -> bool:
    """Whether SB3 weights are a DQN's (``q_net.*`` and ``q_net_target.*``) rather than an actor-critic's."""
    return any(k.startswith("q_net.") for k in policy)


def _infer_net_arch(policy: dict[str, torch.Tensor]) -> dict[str, list[int]] | list[int]:
    if _is_q_network(policy):  # a DQN: hidden widths of the Q head (its last layer is the output)
        return _layer_widths(policy, "q_net.q_net.")[:-1]
    arch: dict[str, list[int]] = {}
    for side, prefix in (("pi", "mlp_extractor.policy_net."), ("vf", "mlp_extractor.value_net.")):
        arch[side] = _layer_widths(policy, prefix)
    return arch


def _third_party_meta(data: dict, policy: dict, observation_space, action_space, name: str) -> dict[str, Any]:
    """genplay meta for a plain SB3 zip, from its plain JSON fields and its weights' shapes."""
    from genplay.gail.data.spaces import describe_space

    kwargs_repr = data.get("policy_kwargs") if isinstance(data.get("policy_kwargs"), dict) else {}
    policy_kwargs: dict[str, Any] = {"net_arch": _infer_net_arch(policy)}
    act = kwargs_repr.get("activation_fn")
    if act is not None:
        found = [n for cls, n in _ACT_NAMES.items() if isinstance(act, str) and act.endswith(f".{cls.__name__}'>")]
        if not found:
            raise CheckpointError(f"{name}: policy activation {act!r} is not one of {sorted(ACTIVATIONS)}")
        policy_kwargs["activation_fn"] = found[0]
    dqn = _is_q_network(policy)
    scaling = _scaling_from_weights(policy, name)
    if scaling is not None:
        policy_kwargs.update(features_extractor_class="ObsScalingExtractor", features_extractor_kwargs=scaling)
    keys = ("log_std_init", "ortho_init", "full_std", "use_expln", "squash_output", "share_features_extractor")
    for key in () if dqn else keys:
        if key in kwargs_repr and _plain(kwargs_repr[key]):
            policy_kwargs[key] = kwargs_repr[key]
    if isinstance(observation_space, spaces.Dict):
        policy_name = "MultiInputPolicy"
    elif any(".cnn." in k for k in policy):
        policy_name = "CnnPolicy"
    else:
        policy_name = "MlpPolicy"
    hyper = {} if dqn else {"use_sde": bool(data.get("use_sde", False))}
    return {
        "format": META_FORMAT,
        "version": META_VERSION,
        "algo": "DQN" if dqn else "PPO",
        "policy": policy_name,
        "hyper": hyper,
        "policy_kwargs": policy_kwargs,
        "n_envs": 1,
        "num_timesteps": int(data.get("num_timesteps", 0)) if isinstance(data.get("num_timesteps"), int) else 0,
        "n_updates": 0,
        "observation_space": describe_space(observation_space),
        "action_space": describe_space(action_space),
    }


def _scaling_from_weights(policy: dict[str, torch.Tensor], name: str) -> dict[str, Any] | None:
    """``ObsScalingExtractor``'s kwargs read back from its buffers (a genplay zip that lost its
    ``genplay.json``), or None when the weights hold no observation scaling."""
    mean_key, std_key, clip_key = SCALING_BUFFERS
    if mean_key not in policy:
        return None
    if std_key not in policy or clip_key not in policy or any(".inner." in k and "weight" in k for k in policy):
        raise CheckpointError(f"{name}: the weights scale observations, but not with a plain MLP genplay can rebuild")
    return {
        "mean": policy[mean_key].double().reshape(-1).tolist(),
        "std": policy[std_key].double().reshape(-1).tolist(),
        "clip": float(policy[clip_key]),
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
) -> tuple[BaseAlgorithm, dict[str, Any]]:
    """``(algorithm, genplay extra)`` from a zip, never unpickling.

    A genplay zip rebuilds from its ``genplay.json``; a third-party SB3 zip needs the
    env's spaces (``observation_space``/``action_space``) and is rebuilt as a DQN if its weights
    are a Q-network's (``q_net.*``), else as a PPO policy.
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
