"""GAIL's discriminator: ``(obs, action[, next obs])`` -> one logit, expert high.

Sign convention (as in ``generative.core``): **logits are high for expert data**, so
``D = sigmoid(logit)`` is the probability that a transition came from the expert; the
generator's reward is a function of the logit (``generative/core/rewards.py``), and the
whole reward the generator optimises is defined in ``gail/rewards/reward.py``.

Inputs go through :mod:`genplay.gail.rewards.features`: SB3 preprocessing, a scaling fitted
on the demos, and SB3's extractor for the space (NatureCNN for frames). A small MLP head
reads ``[encode(obs), action, (encode(next obs))]``. The absorbing state (see
``gail/rewards/reward.py``) is one point, so its logit is a free scalar parameter, an estimate
of the log-ratio of the two sides' absorbing mass, untouched by the net's smoothness.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from genplay.errors import EnvError
from genplay.gail.data.store import TransitionStore
from genplay.gail.rewards.features import DemoScaling, ObsEncoder, actions_to_flat, flat_width, to_flat
from genplay.generative.core import REWARD_FORMS, DiscriminatorStepConfig, discriminator_step, mlp, reward_from_logits  # noqa: F401  (re-exported)


class TransitionDiscriminator(nn.Module):
    """Logits of transitions; rows are flat float vectors ``[obs, act, (next obs), absorbing flag]``."""

    def __init__(
        self,
        observation_space: spaces.Space,
        action_space: spaces.Space,
        *,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        spectral_norm: bool = False,
        use_next_obs: bool = False,
        use_action: bool = True,
        cnn_features: int = 256,
        hide_top_rows: int = 0,
        board_channels: int = 0,
    ) -> None:
        super().__init__()
        self.observation_space, self.action_space = observation_space, action_space
        self.use_next_obs, self.use_action = use_next_obs, use_action
        self.obs_dim = flat_width(observation_space)
        sample = actions_to_flat(action_space, [action_space.sample()], torch.device("cpu"))
        self.act_dim = sample.shape[1] if use_action else 0
        self.scaling = DemoScaling(observation_space)
        self.register_buffer("visible", _visible_mask(observation_space, hide_top_rows), persistent=False)
        # board_channels > 0: a BoardCNN over board planes (features.is_board_space) instead of a flatten
        self.encoder = ObsEncoder(observation_space, cnn_features=cnn_features, board_channels=board_channels)
        in_dim = self.encoder.features_dim * (2 if use_next_obs else 1) + self.act_dim
        self.net = mlp(in_dim, 1, hidden, activation=activation, spectral_norm=spectral_norm)
        self.absorbing_logit = nn.Parameter(torch.zeros(()))

    @classmethod
    def from_config(
        cls, observation_space: spaces.Space, action_space: spaces.Space, config
    ) -> TransitionDiscriminator:
        """The discriminator a ``GAILConfig``'s reward model (``config.reward``) describes (the trainer's, or
        one to load weights into)."""
        reward = config.reward
        return cls(
            observation_space,
            action_space,
            hidden=reward.disc_hidden,
            activation=reward.disc_activation,
            spectral_norm=reward.disc_spectral_norm,
            use_next_obs=reward.use_next_obs,
            use_action=reward.disc_use_action,
            cnn_features=reward.disc_cnn_features,
            hide_top_rows=reward.disc_hide_top_rows,
        )

    @property
    def device(self) -> torch.device:
        return self.absorbing_logit.device

    @property
    def width(self) -> int:
        return self.obs_dim * (2 if self.use_next_obs else 1) + self.act_dim + 1

    # ------------------------------------------------------------------ inputs
    @property
    def chunk(self) -> int:
        """Rows per batched pass that keeps a pass's float inputs near 32 MB (512 Atari frame stacks)."""
        return max(64, min(4096, 2**23 // self.width))

    def fit_scaling(self, store: TransitionStore, *, scaling: DemoScaling | None = None) -> None:
        """Fit the observation scaling (or ``scaling``) on a store's observations (the demos)."""
        chunk = self.chunk
        (scaling or self.scaling).fit(
            to_flat(self.observation_space, store.take_obs(store.obs_idx[i : i + chunk]), self.device)
            for i in range(0, len(store), chunk)
        )

    def features(self, store: TransitionStore, idx: np.ndarray) -> torch.Tensor:
        """Flat float rows of the transitions ``idx`` of ``store`` (raw -> float here, per minibatch)."""
        space, dev = self.observation_space, self.device
        parts = [self.scaling(to_flat(space, store.take_obs(store.obs_idx[idx]), dev)) * self.visible]
        if self.use_action:
            parts.append(actions_to_flat(self.action_space, store.acts[idx], dev))
        if self.use_next_obs:
            parts.append(self.scaling(to_flat(space, store.take_obs(store.next_idx[idx]), dev)) * self.visible)
        parts.append(torch.zeros(len(idx), 1, device=dev))
        return torch.cat(parts, dim=1)

    def absorbing_features(self, n: int = 1) -> torch.Tensor:
        """Rows of the absorbing state: all zeros but the flag."""
        rows = torch.zeros(n, self.width, device=self.device)
        rows[:, -1] = 1.0
        return rows

    # ------------------------------------------------------------------ outputs
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Flat rows -> logits ``(B,)``, expert high; absorbing rows get the absorbing logit."""
        o, a = self.obs_dim, self.act_dim
        parts = [self.encoder(features[:, :o]), features[:, o : o + a]]
        if self.use_next_obs:
            parts.append(self.encoder(features[:, o + a : 2 * o + a]))
        live_logits = self.net(torch.cat(parts, dim=1)).squeeze(-1)
        return torch.where(features[:, -1] > 0.5, self.absorbing_logit.expand_as(live_logits), live_logits)

    @torch.no_grad()
    def logits(self, store: TransitionStore, chunk: int | None = None) -> torch.Tensor:
        """Logits of every transition of ``store``, in chunks so memory stays flat."""
        return torch.cat([self(self.features(store, idx)) for idx in _chunks(len(store), chunk or self.chunk)])


def _visible_mask(space: spaces.Space, hide_top_rows: int) -> torch.Tensor:
    """Flat 0/1 mask over an observation row: 0 on the top ``hide_top_rows`` rows of every frame.

    A scaled pixel of 0 is the mean demo frame's value, so a hidden region carries no information.
    Atari scoreboards sit there: the learner's score display never looks like the expert's (Pong's
    opponent passes 3 points only in the learner's games), and a discriminator that reads it scores
    the outcome so far instead of the behaviour (measured: a random policy's logit fell from -1.7 to
    -10.3 over an episode with the score visible, -1.7 to -3.0 with it hidden).
    """
    visible = torch.ones(flat_width(space))
    if hide_top_rows:
        if not (isinstance(space, spaces.Box) and len(space.shape) == 3):
            raise EnvError(f"disc_hide_top_rows needs (C, H, W) frame observations, got {space}")
        if hide_top_rows >= space.shape[1]:
            raise EnvError(f"disc_hide_top_rows is {hide_top_rows}; frames have {space.shape[1]} rows, some must stay")
        visible = visible.reshape(space.shape)
        visible[:, :hide_top_rows, :] = 0.0
    return visible.reshape(-1)


def with_absorbing_row(
    disc: TransitionDiscriminator, features: torch.Tensor, share: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """A side's batch as a distribution: ``n`` live rows sharing ``1 - share``, plus the absorbing row
    carrying ``share`` when the side has mass there (``gail/rewards/reward.py``)."""
    n = len(features)
    weights = torch.full((n,), (1.0 - share) / n, device=features.device)
    if share > 0:
        features = torch.cat([features, disc.absorbing_features()])
        weights = torch.cat([weights, torch.full((1,), share, device=features.device)])
    return features, weights


def _chunks(n: int, size: int) -> Iterator[np.ndarray]:
    for start in range(0, n, size):
        yield np.arange(start, min(start + size, n))


Batch = tuple[torch.Tensor, torch.Tensor | None, torch.Tensor, torch.Tensor | None]
"""``(expert rows, their weights, agent rows, their weights)``: one discriminator step's input."""


def optimiser_and_step(disc: TransitionDiscriminator, config) -> tuple[torch.optim.Adam, DiscriminatorStepConfig]:
    """The discriminator's Adam and the core step's settings, from a config's reward model (``disc_*``).

    The absorbing logit is one scalar fitting an occupancy ratio that moves with the policy; at
    the net's step size (Adam moves about lr per step) it would lag far behind, so it gets its own
    rate (``absorbing_lr_scale``). Every adversarial trainer (GAIL, AIRL, DAC) builds its pair here.
    """
    reward = config.reward
    net = [p for n, p in disc.named_parameters() if n != "absorbing_logit"]
    groups = [{"params": net, "lr": reward.disc_lr}]
    if isinstance(getattr(disc, "absorbing_logit", None), nn.Parameter):
        groups.append({"params": [disc.absorbing_logit], "lr": reward.disc_lr * reward.absorbing_lr_scale})
    step = DiscriminatorStepConfig(
        loss=reward.disc_loss, penalty=reward.disc_penalty, penalty_weight=reward.disc_penalty_weight
    )
    return torch.optim.Adam(groups), step


def update_discriminator(
    disc: nn.Module,
    opt: torch.optim.Optimizer,
    step: DiscriminatorStepConfig,
    n_updates: int,
    draw: Callable[[], Batch],
    n_live: int,
    *,
    grad_hook: Callable[[], None] | None = None,
) -> dict[str, float]:
    """``n_updates`` core steps on batches from ``draw``; the mean loss and penalty, then the accuracies
    on the last batch's ``n_live`` live rows (unweighted: expert rows scored expert, agent rows scored
    agent) and the absorbing logit, for the logs."""
    stats = []
    for _ in range(n_updates):
        real, real_w, fake, fake_w = draw()
        stats.append(
            discriminator_step(
                disc, opt, real, fake, step, real_weights=real_w, fake_weights=fake_w, grad_hook=grad_hook
            )
        )
    out = {k: float(np.mean([s[k] for s in stats])) for k in ("loss", "penalty")}
    with torch.no_grad():
        out["accuracy_expert"] = float((disc(real[:n_live]) > 0).float().mean())
        out["accuracy_generator"] = float((disc(fake[:n_live]) < 0).float().mean())
    absorbing = getattr(disc, "absorbing_logit", None)
    if absorbing is not None:
        out["absorbing_logit"] = float(absorbing.detach())
    return out
