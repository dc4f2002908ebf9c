"""GAIL's discriminator: (obs, action[, next obs]) features -> logit, and the reward it gives.

Sign convention (as in ``generative.core``): **logits are high for expert data**, so
``D = sigmoid(logit)`` is the probability that a transition came from the expert.
The rewards handed to the generator are functions of the logit ``l``:

==============  ============================  ===========================================
``logit``       ``log D - log(1 - D) = l``    default; sign-free, so it neither rewards
                                              nor punishes living longer (Fu et al. 2018)
``positive``    ``-log(1 - D) = softplus(l)`` always > 0: a survival bonus on envs that
                                              terminate (GAIL's original form)
``negative``    ``log D = -softplus(-l)``     always < 0: a bonus for ending episodes
==============  ============================  ===========================================

Absorbing states (Kostrikov et al. 2019, "Discriminator-Actor-Critic"): an episode
that *terminates* at step T (not truncated by a time limit) continues in an absorbing
state, whose features are all zero except an ``absorbing`` flag, up to the horizon H
(the env's time limit; ``1 / (1 - gamma)`` steps if it has none). This turns every
episode into a fixed-horizon one, as seals does for its envs by hand. Each side's
padded occupancy is then a mixture: live transitions with mass n_live, and the single
absorbing state with mass sum(H - T) over terminations. Every discriminator batch holds
live rows plus one absorbing row, weighted by those masses, so the loss is exactly the
one on the padded occupancies while no batch slot is wasted on repeated absorbing rows;
the absorbing state's logit is a learned scalar of its own. The generator gets the
exact discounted value of the padded tail on its terminating step,
``r_abs * gamma * (1 - gamma^(H-T)) / (1 - gamma)``. So no reward form can leak a
survival bonus or a termination penalty that the expert's data does not justify.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.running_mean_std import RunningMeanStd
from torch import nn

from genplay.errors import EnvError
from genplay.generative.core import REWARD_FORMS, mlp, reward_from_logits  # noqa: F401  (re-exported)


def flat_dim(space: spaces.Space) -> int:
    """Width of :func:`flatten_batch` for ``space``."""
    if isinstance(space, spaces.Box):
        return int(np.prod(space.shape))
    if isinstance(space, spaces.Discrete):
        return int(space.n)
    if isinstance(space, spaces.MultiDiscrete):
        return int(space.nvec.sum())
    if isinstance(space, spaces.MultiBinary):
        return int(np.prod(space.shape))
    if isinstance(space, spaces.Dict):
        return sum(flat_dim(s) for s in space.spaces.values())
    raise EnvError(f"the GAIL discriminator does not handle {space!r} yet")


def flatten_batch(space: spaces.Space, x, *, scale_box: bool = False) -> np.ndarray:
    """Batch of samples of ``space`` -> float32 ``(B, flat_dim(space))``.

    Discrete parts become one-hot. With ``scale_box``, Box values with finite bounds are
    mapped to [-1, 1] (used for actions, whose scale is otherwise arbitrary).
    """
    if isinstance(space, spaces.Box):
        if len(space.shape) == 3 and space.dtype == np.uint8:
            raise EnvError("image observations need the CNN discriminator of the Atari pipeline, not this MLP one")
        flat = np.asarray(x, dtype=np.float32).reshape(len(x), -1)
        low, high = space.low.reshape(-1), space.high.reshape(-1)
        if scale_box and np.isfinite(low).all() and np.isfinite(high).all():
            flat = 2.0 * (np.clip(flat, low, high) - low) / np.maximum(high - low, 1e-8) - 1.0
        return flat.astype(np.float32)
    if isinstance(space, spaces.Discrete):
        idx = np.asarray(x, dtype=np.int64).reshape(-1) - int(space.start)
        return np.eye(int(space.n), dtype=np.float32)[idx]
    if isinstance(space, spaces.MultiDiscrete):
        idx = np.asarray(x, dtype=np.int64).reshape(len(x), -1)
        return np.concatenate([np.eye(int(n), dtype=np.float32)[idx[:, i]] for i, n in enumerate(space.nvec)], axis=1)
    if isinstance(space, spaces.MultiBinary):
        return np.asarray(x, dtype=np.float32).reshape(len(x), -1)
    if isinstance(space, spaces.Dict):
        return np.concatenate([flatten_batch(s, x[k], scale_box=scale_box) for k, s in space.spaces.items()], axis=1)
    raise EnvError(f"the GAIL discriminator does not handle {space!r} yet")


class TransitionDiscriminator(nn.Module):
    """MLP on ``[norm(obs), action, (norm(next_obs))]`` -> one logit; a learned constant for absorbing rows.

    The observation normaliser (running mean/std) lives here and can be shared with the
    policy through :class:`genplay.gail.rollout.SharedObsNormalize`, so both see the
    same scaled inputs.
    """

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        spectral_norm: bool = False,
        use_next_obs: bool = False,
    ) -> None:
        super().__init__()
        self.observation_space, self.action_space = observation_space, action_space
        self.use_next_obs = use_next_obs
        self.obs_dim, self.act_dim = flat_dim(observation_space), flat_dim(action_space)
        in_dim = self.obs_dim * (2 if use_next_obs else 1) + self.act_dim
        self.net = mlp(in_dim, 1, hidden, activation=activation, spectral_norm=spectral_norm)
        # The absorbing state is a single point: its logit is a free parameter, an estimate of
        # the log-ratio of the two padded occupancies there, untouched by the net's smoothness.
        self.absorbing_logit = nn.Parameter(torch.zeros(()))
        self.obs_rms = RunningMeanStd(shape=(self.obs_dim,))
        self.register_buffer("_mean", torch.zeros(self.obs_dim))
        self.register_buffer("_std", torch.ones(self.obs_dim))

    # ------------------------------------------------------------------ inputs
    def flat_obs(self, obs) -> np.ndarray:
        return flatten_batch(self.observation_space, obs)

    def flat_acts(self, acts) -> np.ndarray:
        return flatten_batch(self.action_space, acts, scale_box=True)

    def update_normalizer(self, flat_obs: np.ndarray) -> None:
        """Add observations to the running statistics (call with raw, unnormalised rows)."""
        self.obs_rms.update(flat_obs.astype(np.float64))
        self.sync_normalizer()

    def sync_normalizer(self) -> None:
        self._mean.copy_(torch.as_tensor(self.obs_rms.mean, dtype=torch.float32))
        self._std.copy_(torch.as_tensor(np.sqrt(self.obs_rms.var + 1e-8), dtype=torch.float32))

    def normalize(self, flat_obs: torch.Tensor) -> torch.Tensor:
        return ((flat_obs - self._mean) / self._std).clamp_(-10.0, 10.0)

    def features(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """``batch`` holds float tensors ``obs, acts, next_obs (if used), absorbing``."""
        live = 1.0 - batch["absorbing"].unsqueeze(1)
        parts = [self.normalize(batch["obs"]) * live, batch["acts"] * live]
        if self.use_next_obs:
            parts.append(self.normalize(batch["next_obs"]) * live)
        parts.append(1.0 - live)
        return torch.cat(parts, dim=1)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Features (last column: absorbing flag) -> logits ``(B,)``, expert high."""
        live_logits = self.net(features[:, :-1]).squeeze(-1)
        return torch.where(features[:, -1] > 0.5, self.absorbing_logit.expand_as(live_logits), live_logits)

    def absorbing_batch(self, device: torch.device | None = None) -> dict[str, torch.Tensor]:
        """A one-row batch holding the absorbing state (its features are constant)."""
        obs = torch.zeros(1, self.obs_dim, device=device)
        return {
            "obs": obs,
            "acts": torch.zeros(1, self.act_dim, device=device),
            "next_obs": obs if self.use_next_obs else torch.zeros(1, 0, device=device),
            "absorbing": torch.ones(1, device=device),
        }


def make_transition_batch(disc: TransitionDiscriminator, obs, acts, next_obs, **_: Any) -> dict[str, torch.Tensor]:
    """Flatten a batch of raw (live) transitions into the discriminator's input tensors."""
    flat_obs, flat_acts = disc.flat_obs(obs), disc.flat_acts(acts)
    flat_next = disc.flat_obs(next_obs) if disc.use_next_obs else np.zeros((len(flat_obs), 0), np.float32)
    return {
        "obs": torch.from_numpy(flat_obs),
        "acts": torch.from_numpy(flat_acts),
        "next_obs": torch.from_numpy(flat_next),
        "absorbing": torch.zeros(len(flat_obs)),
    }


def absorbing_mass(steps_left: np.ndarray) -> float:
    """Total absorbing-state weight of terminated episodes: the steps each had left to the horizon."""
    return float(np.maximum(np.asarray(steps_left, dtype=np.float64), 1.0).sum())
