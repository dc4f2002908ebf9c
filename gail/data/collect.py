"""Demonstrations collected from any policy: episodes side by side, the policy batched over them.

Policies come in many kinds (SB3 models, GAIL trainers, scripted callables, ``"random"``);
:func:`as_policy_fn` turns each into one batched ``act(obs, action_masks=None)``. Envs with an
``action_masks()`` method (board games) have their legal-action masks recorded and passed on.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import numpy as np
from gymnasium import spaces

from genplay.envs import EnvFactory, as_factory
from genplay.errors import DemoError
from genplay.gail.data.demos import Demos
from genplay.gail.data.spaces import describe_space
from genplay.gail.data.store import FrameStackBuilder, StackedFrames

PolicyFn = Callable[..., np.ndarray]
"""A batched policy ``act(obs, action_masks=None)``: observations ``(B, *obs_shape)`` (or a dict of
such) and optional ``(B, n_actions)`` legal-action masks -> actions ``(B, ...)``."""


def random_policy(action_space: spaces.Space, seed: int | None = None) -> PolicyFn:
    """Uniform-random batched policy (the usual lower reference); uniform over legal actions when masked."""
    action_space = copy.deepcopy(action_space)  # own RNG, the env's space is left alone
    action_space.seed(seed)

    def act(obs, action_masks: np.ndarray | None = None) -> np.ndarray:
        n = len(next(iter(obs.values()))) if isinstance(obs, dict) else len(obs)
        if action_masks is not None:
            return np.stack([action_space.sample(mask=m.astype(np.int8)) for m in action_masks])
        return np.stack([action_space.sample() for _ in range(n)])

    return act


def as_policy_fn(policy: Any, *, deterministic: bool = True) -> PolicyFn:
    """Turn an SB3 model, a GAIL trainer or a plain callable into a batched policy ``act(obs, action_masks=None)``.

    Masks reach models whose ``predict`` takes ``action_masks`` (MaskablePPO, GAIL) and
    callables with a second parameter; other policies get the observations alone.
    """
    if hasattr(policy, "predict"):
        takes_masks = "action_masks" in inspect.signature(policy.predict).parameters

        def act(obs, action_masks=None):
            if takes_masks and action_masks is not None:
                return policy.predict(obs, deterministic=deterministic, action_masks=action_masks)[0]
            if action_masks is not None and hasattr(getattr(policy, "policy", None), "get_distribution"):
                return _masked_predict(policy, obs, action_masks, deterministic)
            return policy.predict(obs, deterministic=deterministic)[0]

        return act
    if callable(policy):
        try:
            n_params = len(inspect.signature(policy).parameters)
        except (TypeError, ValueError):
            n_params = 1
        return policy if n_params >= 2 else lambda obs, action_masks=None: policy(obs)
    raise TypeError(f"cannot use {type(policy).__name__} as a policy: give an SB3 model or a callable")


def _masked_predict(model: Any, obs: Any, action_masks: Any, deterministic: bool) -> np.ndarray:
    """A mask-unaware SB3 model's action among the legal ones (its logits, illegal moves at -inf), so a
    plain-PPO run (``train --algo bc`` on a board game) never plays an illegal move; else ``predict``."""
    import torch

    with torch.no_grad():
        obs_t, _ = model.policy.obs_to_tensor(obs)
        dist = model.policy.get_distribution(obs_t).distribution
    logits = getattr(dist, "logits", None)
    masks = np.asarray(action_masks, dtype=bool).reshape(len(obs_t), -1)
    if logits is None or logits.shape != masks.shape or not masks.any(1).all():
        return model.predict(obs, deterministic=deterministic)[0]
    masked = logits.masked_fill(~torch.as_tensor(masks, device=logits.device), -torch.inf)
    chosen = masked.argmax(1) if deterministic else torch.distributions.Categorical(logits=masked).sample()
    return chosen.cpu().numpy()


def is_frame_stack(space: spaces.Space) -> bool:
    """uint8 ``(stack, H, W)`` observations, stored as unique frames (see :class:`StackedFrames`)."""
    return isinstance(space, spaces.Box) and space.dtype == np.uint8 and len(space.shape) == 3 and space.shape[0] > 1


def supports_action_masks(env) -> bool:
    """Whether a gymnasium env (or a wrapper of it) has an ``action_masks()`` method, as MaskablePPO expects."""
    try:
        return callable(env.get_wrapper_attr("action_masks"))
    except AttributeError:
        return False


def env_action_masks(env) -> np.ndarray | None:
    """The legal-action mask of a gymnasium env that exposes ``action_masks()``, else None."""
    return np.asarray(env.get_wrapper_attr("action_masks")(), dtype=bool) if supports_action_masks(env) else None


def collect_demos(
    env: str | EnvFactory,
    policy: Any,
    n_episodes: int,
    *,
    seed: int = 0,
    deterministic: bool = True,
    metadata: dict[str, Any] | None = None,
) -> Demos:
    """Roll out exactly ``n_episodes`` full episodes of ``policy`` on ``env`` (an id or a factory).

    Episodes run side by side (one env each, the policy batched over them), so the
    collection is fast and, unlike "first N episodes to finish" on a vector env,
    not biased towards short episodes. Envs with ``action_masks()`` have their masks
    recorded and passed to the policy.
    """
    if n_episodes < 1:
        raise DemoError(f"n_episodes must be >= 1, got {n_episodes}")
    factory = as_factory(env)
    envs = [factory.make() for _ in range(n_episodes)]
    if isinstance(policy, str) and policy == "random":
        act = random_policy(envs[0].action_space, seed)
    else:
        act = as_policy_fn(policy, deterministic=deterministic)
    is_dict = isinstance(envs[0].observation_space, spaces.Dict)
    frames = is_frame_stack(envs[0].observation_space)
    first = [e.reset(seed=seed + i)[0] for i, e in enumerate(envs)]
    episodes: list[dict[str, list]] = [{"obs": [o], "acts": [], "rewards": [], "masks": []} for o in first]
    builders = [FrameStackBuilder() for _ in envs] if frames else []  # each frame kept once, as it arrives
    for b, o in zip(builders, first):
        b.add(o)
    masked = supports_action_masks(envs[0])
    terminated = np.zeros(n_episodes, dtype=bool)
    active = list(range(n_episodes))
    while active:
        last = [episodes[i]["obs"][-1] for i in active]
        batch = {k: np.stack([o[k] for o in last]) for k in last[0]} if is_dict else np.stack(last)
        masks = np.stack([env_action_masks(envs[i]) for i in active]) if masked else None
        actions = np.asarray(act(batch, masks))
        still = []
        for j, (i, a) in enumerate(zip(active, actions)):
            obs, rew, term, trunc, _ = envs[i].step(a)
            ep = episodes[i]
            if frames:
                builders[i].add(obs)
                ep["obs"][-1] = obs  # only the latest stack is kept, for the next action
            else:
                ep["obs"].append(obs)
            ep["acts"].append(a)
            ep["rewards"].append(rew)
            if masks is not None:
                ep["masks"].append(masks[j])
            if term or trunc:
                terminated[i] = term
            else:
                still.append(i)
        active = still
    for e in envs:
        e.close()

    def cat_obs(rows: list) -> np.ndarray | dict[str, np.ndarray]:
        if is_dict:
            return {k: np.stack([o[k] for o in rows]) for k in rows[0]}
        return np.stack(rows)

    if frames:
        parts = [b.build() for b in builders]
        offsets = np.cumsum([0] + [len(p.frames) for p in parts[:-1]])
        all_obs = StackedFrames(
            np.concatenate([p.frames for p in parts]), np.concatenate([p.index + o for p, o in zip(parts, offsets)])
        )
    else:
        all_obs = cat_obs([o for ep in episodes for o in ep["obs"]])
    acts = np.stack([a for ep in episodes for a in ep["acts"]])
    space = envs[0].action_space
    if isinstance(space, spaces.Discrete):
        acts = acts.astype(np.int64).reshape(-1)
    return Demos(
        obs=all_obs,
        acts=acts,
        rewards=np.asarray([r for ep in episodes for r in ep["rewards"]], dtype=np.float32),
        episode_lengths=np.asarray([len(ep["acts"]) for ep in episodes], dtype=np.int64),
        terminated=terminated,
        env_id=factory.env_id,
        observation_space=describe_space(envs[0].observation_space),
        action_space=describe_space(space),
        metadata={"seed": seed, "deterministic": deterministic, **(metadata or {})},
        action_masks=np.stack([m for ep in episodes for m in ep["masks"]]) if masked else None,
        env=factory,
    )
