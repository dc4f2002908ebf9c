"""Behaviour cloning of an SB3 policy on demonstrations (the optional GAIL warm start)."""

from __future__ import annotations

import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy


def bc_pretrain(
    policy: ActorCriticPolicy,
    obs: np.ndarray,
    acts: np.ndarray,
    *,
    epochs: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    rng: np.random.Generator | None = None,
) -> dict[str, float]:
    """Maximise ``log pi(a|s)`` on the demos for ``epochs`` passes; returns the last losses.

    Only the actor gets gradients (the value head is untouched); the policy's own
    optimiser state is left alone, so PPO starts from fresh Adam moments.
    """
    rng = rng or np.random.default_rng(0)
    policy.set_training_mode(True)
    opt = torch.optim.Adam(policy.parameters(), lr=lr)
    obs_t, _ = policy.obs_to_tensor(obs)  # handles Box, Dict and image observations as SB3 does
    acts_t = torch.as_tensor(acts, device=policy.device)
    n = len(acts_t)
    losses: list[float] = []
    for _ in range(epochs):
        for idx in np.array_split(rng.permutation(n), max(1, n // batch_size)):
            batch = {k: v[idx] for k, v in obs_t.items()} if isinstance(obs_t, dict) else obs_t[idx]
            _, log_prob, _ = policy.evaluate_actions(batch, acts_t[idx])
            loss = -log_prob.mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            losses.append(loss.item())
    policy.set_training_mode(False)
    return {"bc_loss": float(np.mean(losses[-10:])) if losses else float("nan")}
