"""A board-game policy that is exactly invariant under the board's symmetries.

:class:`SymmetricMaskablePolicy` is sb3-contrib's masked actor-critic run on every image of
the board under the game's symmetry group (8 for tic-tac-toe, the mirror for connect four,
4 for othello; :func:`genplay.gail.suites.boardgames.symmetries`), each image's action logits
mapped back to the original board and averaged (the values too). Rotating or mirroring a
position then rotates or mirrors the move distribution exactly, at every position, seen or
not; symmetry augmentation of the demos only teaches that on the demos' own positions.
Training (PPO, masked BC) goes through the same averaged logits, so the policy that learns
is the one that plays. Stored by name (``gail/saving/sb3_io.py``) with ``game`` a plain kwarg.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sb3_contrib.common.maskable.policies import MaskableActorCriticPolicy

from genplay.errors import EnvError


def symmetry_maps(game: str, board: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """``(gather, action_map)`` of ``game``'s symmetries on an ``(H, W)`` board.

    ``gather[g]`` (``(G, H*W)``): image ``g`` of flat cells is ``cells[..., gather[g]]``;
    ``action_map[g, a]``: the image of action ``a`` under symmetry ``g``.
    """
    from genplay.gail.suites.board_symmetry import symmetries

    h, w = board
    gathers, amaps = [], []
    for fn, amap in symmetries(game):
        moved = np.ascontiguousarray(fn(np.arange(h * w).reshape(h, w)))
        if moved.shape != (h, w):
            raise EnvError(f"symmetries of {game!r} do not keep a {h}x{w} board")
        gathers.append(moved.ravel())
        amaps.append(amap)
    return np.stack(gathers), np.stack(amaps)


class SymmetricMaskablePolicy(MaskableActorCriticPolicy):
    """Masked actor-critic whose logits and value are averages over the board's symmetry images.

    Args (besides MaskableActorCriticPolicy's): ``game``, an OpenSpiel name with known
    symmetries. Observations must be ``(C, H, W)`` planes.
    """

    def __init__(self, observation_space, action_space, lr_schedule, *args: Any, game: str, **kwargs: Any) -> None:
        shape = tuple(observation_space.shape or ())
        if len(shape) != 3:
            raise EnvError(f"SymmetricMaskablePolicy needs (C, H, W) board planes, got shape {shape}")
        gather, amap = symmetry_maps(game, shape[1:])
        if amap.shape[1] != action_space.n:
            raise EnvError(f"symmetries of {game!r} map {amap.shape[1]} actions, the env has {action_space.n}")
        super().__init__(observation_space, action_space, lr_schedule, *args, **kwargs)
        self.game = game
        self.register_buffer("sym_gather", torch.as_tensor(gather, dtype=torch.long), persistent=False)
        self.register_buffer("sym_actions", torch.as_tensor(amap, dtype=torch.long), persistent=False)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "game": self.game}

    def _images(self, obs: torch.Tensor) -> torch.Tensor:
        """``(B, C, H, W)`` -> ``(G * B, C, H, W)``: every image of every board, symmetry-major."""
        b, c, h, w = obs.shape
        flat = obs.reshape(b, c, h * w)[:, :, self.sym_gather]  # (B, C, G, HW)
        return flat.permute(2, 0, 1, 3).reshape(-1, c, h, w)

    def _symmetric(self, obs: torch.Tensor, values: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Action logits ``(B, A)`` and values ``(B, 1)`` averaged over the symmetry images (``values``
        False: the critic is skipped and None returned, as BC's fits and acting need no values)."""
        g, b = len(self.sym_gather), obs.shape[0]
        if getattr(self.features_extractor, "equivariant_planes", False):  # the images of the features: one pass
            features = self.extract_features(obs)
            features = self._images(features.reshape(b, -1, *obs.shape[-2:])).flatten(1)
        else:
            features = self.extract_features(self._images(obs))
        pi_features, vf_features = (features, features) if self.share_features_extractor else features
        latent_pi = self.mlp_extractor.forward_actor(pi_features)
        logits = self.action_net(latent_pi).reshape(g, b, -1)
        index = self.sym_actions[:, None, :].expand(g, b, logits.shape[-1])
        logits = torch.gather(logits, 2, index).mean(0)  # image g's logit of a's image, back on a
        if not values:
            return logits, None
        latent_vf = self.mlp_extractor.forward_critic(vf_features)
        return logits, self.value_net(latent_vf).reshape(g, b, 1).mean(0)

    def _distribution(self, logits: torch.Tensor, action_masks):
        distribution = self.action_dist.proba_distribution(action_logits=logits)
        if action_masks is not None:
            distribution.apply_masking(action_masks)
        return distribution

    def forward(self, obs, deterministic: bool = False, action_masks=None):
        logits, values = self._symmetric(obs)
        distribution = self._distribution(logits, action_masks)
        actions = distribution.get_actions(deterministic=deterministic)
        log_prob = distribution.log_prob(actions)
        return actions.reshape((-1, *self.action_space.shape)), values, log_prob

    def evaluate_actions(self, obs, actions, action_masks=None):
        logits, values = self._symmetric(obs)
        distribution = self._distribution(logits, action_masks)
        return values, distribution.log_prob(actions), distribution.entropy()

    def get_distribution(self, obs, action_masks=None):
        return self._distribution(self._symmetric(obs, values=False)[0], action_masks)

    def predict_values(self, obs):
        return self._symmetric(obs)[1]
