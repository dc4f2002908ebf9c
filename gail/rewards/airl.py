"""AIRL's reward model (Fu et al. 2018): a shaped reward ``f`` and the discriminator logit built on it.

    f(s, a, s') = g(s, a) + gamma * h(s') - h(s)          (state-only option: g(s))
    D(s, a, s') = exp f / (exp f + pi(a | s))   so   logit D = f - log pi(a | s)

``g`` is the reward estimate, ``h`` a value-shaping potential. The policy's log-probability
enters as data, not as a parameter: agent rows carry the log-probability their action had when
it was collected, expert rows the current policy's (the trainer, ``gail/algos/airl.py``, fills
it in). At a termination the episode moves to the absorbing state, whose potential is 0, so
``h(s') = 0`` there; the absorbing state itself keeps GAIL's free logit (its ``g``; one action,
so ``log pi = 0``) and GAIL's weighting (``gail/rewards/reward.py``).

The net is a :class:`TransitionDiscriminator` (same inputs, scaling, encoder and absorbing
logit; its ``net`` is ``g``) with the potential ``h`` added and a wider row:

    [obs, action (absent when state-only), next obs, terminated, log pi, absorbing flag]

The terminated and log-pi columns are detached inside the net, so the core's R1 penalty
regularises ``f`` in the observations and actions only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from gymnasium import spaces

from genplay.gail.data.store import TransitionStore
from genplay.gail.rewards.discriminator import TransitionDiscriminator, _chunks
from genplay.gail.rewards.features import actions_to_flat, to_flat
from genplay.generative.core import mlp

REWARD_PARTS = ("f", "g")
"""What an AIRL reward model can pay a learner without a policy: the shaped ``f`` or its ``g`` alone."""


@dataclass(frozen=True)
class AIRLStore(TransitionStore):
    """Transitions with what AIRL's rows need beyond GAIL's: terminations and log-probabilities.

    ``dones`` marks transitions that terminated (``h(s') = 0``); ``log_pi`` is the action's
    log-probability under the policy that collected it (None for demos: the trainer asks the
    current policy); ``masks`` are the demos' action masks, for a masked policy's log-probability.
    """

    dones: np.ndarray | None = None
    log_pi: np.ndarray | None = None
    masks: np.ndarray | None = None


class AIRLRewardNet(TransitionDiscriminator):
    """``f = g + gamma h(s') - h(s)`` and the logit ``f - log pi``; ``self.net`` is ``g``."""

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        gamma: float,
        hidden: Sequence[int] = (64, 64),
        h_hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        spectral_norm: bool = False,
        state_only: bool = False,
        cnn_features: int = 256,
        hide_top_rows: int = 0,
    ) -> None:
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"AIRL's gamma must be in (0, 1], got {gamma}")
        super().__init__(
            observation_space,
            action_space,
            hidden=hidden,
            activation=activation,
            spectral_norm=spectral_norm,
            use_next_obs=False,  # g reads (s, a) or s; s' reaches h only
            use_action=not state_only,
            cnn_features=cnn_features,
            hide_top_rows=hide_top_rows,
        )
        self.gamma, self.state_only = float(gamma), state_only
        self.h = mlp(self.encoder.features_dim, 1, h_hidden, activation=activation, spectral_norm=spectral_norm)

    @classmethod
    def from_config(cls, observation_space: spaces.Space, action_space: spaces.Space, config) -> AIRLRewardNet:
        """The reward model an ``AIRLConfig`` describes (gamma: its generator's discount)."""
        return cls(
            observation_space,
            action_space,
            gamma=config.ppo.gamma,
            hidden=config.reward.disc_hidden,
            h_hidden=config.reward.airl_h_hidden,
            activation=config.reward.disc_activation,
            spectral_norm=config.reward.disc_spectral_norm,
            state_only=not config.reward.disc_use_action,
            cnn_features=config.reward.disc_cnn_features,
            hide_top_rows=config.reward.disc_hide_top_rows,
        )

    @property
    def width(self) -> int:
        return 2 * self.obs_dim + self.act_dim + 3

    # ------------------------------------------------------------------ inputs
    def features(self, store: TransitionStore, idx: np.ndarray, log_pi: np.ndarray | None = None) -> torch.Tensor:
        """Flat rows of transitions ``idx``; ``log_pi`` (per row) overrides the store's own."""
        if store.next_idx is None:
            raise ValueError("AIRL needs next observations: build the store with with_next=True")
        if log_pi is None:
            log_pi = getattr(store, "log_pi", None)
            if log_pi is None:
                raise ValueError("AIRL rows need the policy's log-probabilities: the store has none, none were given")
            log_pi = log_pi[idx]
        dones = getattr(store, "dones", None)
        done = np.zeros(len(idx), np.float32) if dones is None else np.asarray(dones[idx], np.float32)
        return self.rows(
            store.take_obs(store.obs_idx[idx]),
            store.acts[idx],
            store.take_obs(store.next_idx[idx]),
            done,
            log_pi,
        )

    def rows(self, obs, acts, next_obs, dones, log_pi) -> torch.Tensor:
        """Flat rows from raw arrays (observations as the env gives them, one row per transition)."""
        space, dev = self.observation_space, self.device
        parts = [self.scaling(to_flat(space, obs, dev)) * self.visible]
        if self.use_action:
            parts.append(actions_to_flat(self.action_space, acts, dev))
        parts.append(self.scaling(to_flat(space, next_obs, dev)) * self.visible)
        n = len(parts[0])
        parts.append(torch.as_tensor(np.asarray(dones, np.float32), device=dev).reshape(n, 1))
        parts.append(torch.as_tensor(np.asarray(log_pi, np.float32), device=dev).reshape(n, 1))
        parts.append(torch.zeros(n, 1, device=dev))
        return torch.cat(parts, dim=1)

    # ------------------------------------------------------------------ outputs
    def terms(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``g``, ``h(s)``, ``h(s')``, terminated and ``log pi`` of live rows ``x`` (each ``(B,)``)."""
        o, a, n = self.obs_dim, self.act_dim, len(x)
        # s and s' through the encoder and h in one batched pass each (half the small-matrix calls,
        # forward and backward, of two passes; the R1 penalty differentiates through them twice)
        both = self.encoder(torch.cat([x[:, :o], x[:, o + a : 2 * o + a]], dim=0))
        s = both[:n]
        g = self.net(torch.cat([s, x[:, o : o + a]], dim=1)).squeeze(-1)
        h_both = self.h(both).squeeze(-1)
        return {
            "g": g,
            "h": h_both[:n],
            "h_next": h_both[n:],
            "done": x[:, 2 * o + a].detach(),
            "log_pi": x[:, 2 * o + a + 1].detach(),
        }

    def shaped(self, x: torch.Tensor) -> torch.Tensor:
        """``f(s, a, s')`` per row (``h(s') = 0`` after a termination); absorbing rows: their logit."""
        t = self.terms(x)
        f = t["g"] + self.gamma * (1.0 - t["done"]) * t["h_next"] - t["h"]
        return self._absorbing(x, f)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``f - log pi`` ``(B,)``, expert high; absorbing rows get the absorbing logit."""
        t = self.terms(x)
        f = t["g"] + self.gamma * (1.0 - t["done"]) * t["h_next"] - t["h"]
        return self._absorbing(x, f - t["log_pi"])

    def part(self, x: torch.Tensor, which: str) -> torch.Tensor:
        """The reward a learner is paid without a policy: ``f`` (shaped) or ``g`` alone (:data:`REWARD_PARTS`)."""
        if which == "f":
            return self.shaped(x)
        if which == "g":
            return self._absorbing(x, self.terms(x)["g"])
        raise ValueError(f"AIRL reward part must be one of {REWARD_PARTS}, got {which!r}")

    def _absorbing(self, x: torch.Tensor, live: torch.Tensor) -> torch.Tensor:
        return torch.where(x[:, -1] > 0.5, self.absorbing_logit.expand_as(live), live)

    @torch.no_grad()
    def shaped_rewards(self, store: TransitionStore, which: str = "f") -> torch.Tensor:
        """``f`` (or ``g``) of every transition of ``store``, in chunks; log pi is not needed."""
        zeros = np.zeros(len(store), np.float32)
        return torch.cat(
            [self.part(self.features(store, idx, log_pi=zeros[idx]), which) for idx in _chunks(len(store), self.chunk)]
        )
