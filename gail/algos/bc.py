"""Behaviour cloning of an SB3 policy on demonstrations (GAIL's warm start, the BC baseline, and
the warm start on synthetic data): :func:`behaviour_clone` picks the objective by action space.

Trained to convergence rather than for a fixed number of epochs: a fixed count tuned on
one task does nothing on another (on inputs of small scale, 10 epochs barely move the
policy). Whole demo episodes are held out; training stops when their log-likelihood
has not improved for ``patience`` epochs and the best epoch's weights are kept.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.policies import ActorCriticPolicy

from genplay.gail.data.store import StackedFrames


def take_rows(obs_t: torch.Tensor | dict[str, torch.Tensor], idx: np.ndarray):
    """Rows ``idx`` of a policy's observation tensor, or of each tensor of a dict observation."""
    return {k: v[idx] for k, v in obs_t.items()} if isinstance(obs_t, dict) else obs_t[idx]


def split_episodes(
    episode_lengths: np.ndarray, rng: np.random.Generator, holdout: float = 0.2
) -> tuple[np.ndarray, np.ndarray]:
    """Transition indices of training and held-out episodes (at least one held-out episode
    when there are two or more; with a single episode, its last ``holdout`` share)."""
    ends = np.cumsum(episode_lengths)
    starts = ends - episode_lengths
    n_ep, n = len(episode_lengths), int(ends[-1])
    if n_ep < 2:
        cut = max(1, int(round(n * (1 - holdout))))
        return np.arange(cut), np.arange(cut, n)
    held = rng.permutation(n_ep)[: max(1, int(round(n_ep * holdout)))]
    is_held = np.zeros(n, dtype=bool)
    for e in held:
        is_held[starts[e] : ends[e]] = True
    return np.flatnonzero(~is_held), np.flatnonzero(is_held)


def bc_pretrain(
    policy: ActorCriticPolicy,
    obs,
    acts: np.ndarray,
    *,
    episode_lengths: np.ndarray,
    action_masks: np.ndarray | None = None,
    max_epochs: int = 100,
    patience: int = 5,
    batch_size: int = 256,
    lr: float = 1e-3,
    rng: np.random.Generator | None = None,
) -> dict[str, float]:
    """Maximise ``log pi(a|s)`` on the demos, early-stopped on held-out episodes.

    ``obs`` are the policy's inputs (already scaled as the policy sees them). Only the
    actor's log-likelihood is trained; the policy's own optimiser state is left alone,
    so PPO starts from fresh Adam moments. A maskable policy gets the demos' action
    masks. Returns the final train and held-out losses and the epochs run.
    """
    nll = demo_nll(policy, obs, acts, action_masks)
    train_loss, best, epochs = fit_early_stopped(
        policy, nll, lambda idx: _chunked_mean(nll, idx), episode_lengths=episode_lengths, max_epochs=max_epochs,
        patience=patience, batch_size=batch_size, lr=lr, rng=rng, tol=1e-4,
    )  # fmt: skip
    return {"bc_loss": train_loss, "bc_heldout_loss": best, "bc_epochs": float(epochs)}


def bc_mean_pretrain(
    policy: ActorCriticPolicy,
    obs: np.ndarray,
    acts: np.ndarray,
    *,
    episode_lengths: np.ndarray,
    max_epochs: int = 50,
    patience: int = 5,
    batch_size: int = 256,
    lr: float = 1e-3,
    rng: np.random.Generator | None = None,
) -> dict[str, float]:
    """Regress the policy's mean action (its distribution's mode) on ``acts``, early-stopped on held-out episodes."""
    obs_t = policy.obs_to_tensor(obs)[0]
    acts_t = torch.as_tensor(np.asarray(acts, dtype=np.float32).reshape(len(acts), -1), device=policy.device)

    def mse(idx: np.ndarray) -> torch.Tensor:
        return torch.nn.functional.mse_loss(policy.get_distribution(take_rows(obs_t, idx)).mode(), acts_t[idx])

    train_loss, best, epochs = fit_early_stopped(
        policy, mse, lambda idx: float(mse(idx)), episode_lengths=episode_lengths, max_epochs=max_epochs,
        patience=patience, batch_size=batch_size, lr=lr, rng=rng, tol=1e-5,
    )  # fmt: skip
    return {"bc_mse": train_loss, "bc_heldout_mse": best, "bc_epochs": float(epochs)}


def behaviour_clone(
    policy: ActorCriticPolicy,
    obs,
    acts: np.ndarray,
    *,
    episode_lengths: np.ndarray,
    action_masks: np.ndarray | None = None,
    match_noise: bool = False,
    **fit: Any,
) -> dict[str, float]:
    """BC of ``policy`` on the demos: :func:`bc_mean_pretrain` for continuous actions, else :func:`bc_pretrain`.

    Why two objectives: under gSDE (the Pendulum recipe) the log-likelihood's state-dependent
    variance absorbs the fit instead of the mean moving: on 200 synthetic Pendulum episodes its
    held-out loss was best after one epoch and the clone scored -1450 (random level), the mean
    regression's -178. ``fit``: ``max_epochs``, ``patience``, ``batch_size``, ``lr``, ``rng``.
    ``match_noise`` (continuous actions): then the action noise is scaled to the held-out RMS error
    (:func:`match_action_noise`), for a policy that goes on learning from its own rollouts.
    """
    if isinstance(policy.action_space, spaces.Box):
        stats = bc_mean_pretrain(policy, obs, acts, episode_lengths=episode_lengths, **fit)
        if match_noise:
            stats["bc_noise_factor"] = match_action_noise(policy, obs, max(np.sqrt(stats["bc_heldout_mse"]), 1e-3))
        return stats
    return bc_pretrain(policy, obs, acts, episode_lengths=episode_lengths, action_masks=action_masks, **fit)


@torch.no_grad()
def match_action_noise(policy: ActorCriticPolicy, obs: np.ndarray, target_std: float, max_rows: int = 4096) -> float:
    """Scale a continuous policy's action noise so that its std, averaged over ``obs`` (the first
    ``max_rows``), is ``target_std``; returns the factor applied.

    Why: after mean-action BC the noise is still the fresh policy's (``log_std`` 0; under gSDE the
    std is ``|latent| x exp(log_std)``, about 4 on Pendulum's [-2, 2] actions). The first rollouts then
    score at the random level, and PPO's clipped ratio lets the cloned mean move as far as that noise
    is wide, so the first update loses the clone. One scalar shift of ``log_std`` fixes both and keeps
    gSDE's state dependence.
    """
    if not hasattr(policy, "log_std"):
        raise ValueError("match_action_noise: the policy has no log_std (not a Gaussian policy)")
    current = float(policy.get_distribution(policy.obs_to_tensor(obs[:max_rows])[0]).distribution.stddev.mean())
    factor = float(target_std) / current
    policy.log_std.add_(np.log(factor))
    return factor


def fit_early_stopped(
    policy: ActorCriticPolicy,
    loss: Callable[[np.ndarray], torch.Tensor],
    held_loss: Callable[[np.ndarray], float],
    *,
    episode_lengths: np.ndarray,
    max_epochs: int,
    patience: int,
    batch_size: int,
    lr: float,
    rng: np.random.Generator | None,
    tol: float,
    split: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[float, float, int]:
    """Adam minibatch epochs of ``loss(idx)`` over the training episodes' transitions, stopped once
    ``held_loss`` of the held-out episodes has not improved by ``tol`` for ``patience`` epochs; keeps
    the best epoch's weights. Returns the last train loss, the best held-out loss and the epochs run
    (every BC variant fits through this). ``split``: given (train rows, held-out rows) instead of a
    split of ``episode_lengths`` drawn here."""
    rng = rng or np.random.default_rng(0)
    train_idx, held_idx = split if split is not None else split_episodes(np.asarray(episode_lengths), rng)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    best, best_state, since_best, epochs, train_loss = float("inf"), None, 0, 0, float("nan")
    for epochs in range(1, max_epochs + 1):  # noqa: B007  (epochs is reported)
        policy.set_training_mode(True)
        losses = []
        for idx in np.array_split(rng.permutation(train_idx), max(1, len(train_idx) // batch_size)):
            value = loss(idx)
            opt.zero_grad(set_to_none=True)
            value.backward()
            opt.step()
            losses.append(value.item())
        train_loss = float(np.mean(losses))
        policy.set_training_mode(False)
        with torch.no_grad():
            held = held_loss(held_idx) if len(held_idx) else train_loss
        if held < best - tol:
            best, best_state, since_best = held, copy.deepcopy(policy.state_dict()), 0
        else:
            since_best += 1
            if since_best >= patience:
                break
    if best_state is not None:
        policy.load_state_dict(best_state)
    policy.set_training_mode(False)
    return train_loss, best, epochs


def demo_nll(policy: ActorCriticPolicy, obs, acts: np.ndarray, action_masks: np.ndarray | None = None):
    """``nll(idx)``: mean negative log-likelihood of the demo actions ``idx`` under ``policy``."""
    lazy = isinstance(obs, StackedFrames)  # Atari demos: build each minibatch's uint8 stacks on demand
    obs_t = None if lazy else policy.obs_to_tensor(obs)[0]  # handles Box, Dict and images as SB3 does
    acts_t = torch.as_tensor(acts, device=policy.device)
    masks = np.asarray(action_masks) if action_masks is not None else None
    maskable = masks is not None and "action_masks" in policy.get_distribution.__code__.co_varnames

    def nll(idx: np.ndarray) -> torch.Tensor:  # the action distribution alone: BC needs no critic pass
        batch = policy.obs_to_tensor(obs[idx])[0] if lazy else take_rows(obs_t, idx)
        kwargs = {"action_masks": masks[idx]} if maskable else {}
        return -policy.get_distribution(batch, **kwargs).log_prob(acts_t[idx]).mean()

    return nll


def bc_auxiliary_steps(
    policy: ActorCriticPolicy, nll, n_transitions: int, *, steps: int, batch_size: int, weight: float, rng
) -> float:
    """BC as an auxiliary loss: ``steps`` minibatch steps of ``weight * nll`` with the policy's own
    optimiser (its Adam state is saved with the generator), taken between generator updates."""
    policy.set_training_mode(True)
    losses = []
    for _ in range(steps):
        loss = nll(rng.integers(n_transitions, size=batch_size))
        policy.optimizer.zero_grad(set_to_none=True)
        (weight * loss).backward()
        torch.nn.utils.clip_grad_norm_(policy.parameters(), 0.5)
        policy.optimizer.step()
        losses.append(loss.item())
    policy.set_training_mode(False)
    return float(np.mean(losses))


@torch.no_grad()
def _chunked_mean(nll, idx: np.ndarray, chunk: int = 512) -> float:
    """Mean NLL over ``idx`` in chunks, so memory stays flat for pixel demos."""
    parts = np.array_split(idx, max(1, len(idx) // chunk))
    return float(np.average([float(nll(p)) for p in parts], weights=[len(p) for p in parts]))


def fit_value(
    policy: ActorCriticPolicy, obs, targets: np.ndarray, *, epochs: int = 30, batch: int = 256, seed: int = 0
) -> float:
    """Regress the critic alone on ``targets`` with an Adam of its own (the policy's optimiser state and
    its actor are left alone); returns the last minibatch's MSE."""
    params = [p for n, p in policy.named_parameters() if n.startswith(("mlp_extractor.value_net", "value_net"))]
    opt = torch.optim.Adam(params, lr=1e-3)
    obs_t = policy.obs_to_tensor(obs)[0]
    y = torch.as_tensor(np.asarray(targets, dtype=np.float32).reshape(-1), device=policy.device)
    rng = np.random.default_rng(seed)
    loss = torch.zeros(())
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(len(y)), max(1, len(y) // batch)):
            loss = torch.nn.functional.mse_loss(policy.predict_values(take_rows(obs_t, idx)).squeeze(-1), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return float(loss.detach())


def fit_value_on_rollout(algo: Any, *, epochs: int = 30) -> float:
    """Fit an SB3 on-policy algorithm's critic to its rollout buffer's returns, then recompute the
    buffer's values, returns and advantages with it; returns the fit's last MSE.

    GAIL calls it on the first rollout after BC: a fresh critic's advantages are its noise plus each
    state's value, and PPO's first update on them moves the cloned policy at random.
    """
    buf = algo.rollout_buffer
    if buf.generator_ready:
        raise ValueError("fit_value_on_rollout: the rollout buffer was already handed to the update")
    obs, shape = buf.observations, buf.obs_shape
    flat = {k: v.reshape(-1, *shape[k]) for k, v in obs.items()} if isinstance(obs, dict) else obs.reshape(-1, *shape)
    mse = fit_value(algo.policy, flat, buf.returns, epochs=epochs)
    obs_t, policy = algo.policy.obs_to_tensor(flat)[0], algo.policy
    chunks = np.array_split(np.arange(buf.values.size), max(1, buf.values.size // 1024))  # frames: bounded memory
    with torch.no_grad():
        values = torch.cat([policy.predict_values(take_rows(obs_t, idx)).reshape(-1) for idx in chunks])
        buf.values = values.cpu().numpy().reshape(buf.values.shape).astype(buf.values.dtype)
        last = policy.predict_values(policy.obs_to_tensor(algo._last_obs)[0])
    buf.compute_returns_and_advantage(last_values=last, dones=algo._last_episode_starts)
    return mse
