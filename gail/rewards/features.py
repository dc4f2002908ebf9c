"""Observation and action inputs of GAIL's discriminator: SB3 preprocessing, demo scaling, SB3 encoders.

The discriminator reads observations the way SB3's policies do, so any space an SB3
policy takes works here too:

1. ``preprocess_obs`` (SB3): Discrete -> one-hot, MultiDiscrete -> one-hots,
   Box -> float, per key for Dict spaces. Image frames stay ``uint8`` in storage and
   become floats only here, one minibatch at a time.
2. Scaling fixed from the expert's demos (:class:`DemoScaling`). SB3 divides images by
   255; here pixels are *centred on the mean demo frame* and divided by one scalar std,
   because on Atari raw ``/255`` inputs left both PPO and BC stuck, while centred inputs
   learned (measured in the Atari study). Vector features get a per-feature std with a
   floor, so a feature that is constant in the demos (a board plane that never changes)
   cannot turn into a huge input; every scaled value is clipped to +-10.
3. SB3's features extractors, used as they are: ``NatureCNN`` for images,
   ``CombinedExtractor`` for Dict spaces, flatten for vectors.

The policy's own extractors live here too: :class:`CenteredNatureCNN` (frames scaled as the
discriminator's), :class:`BoardCNN`, and :class:`ObsScalingExtractor`, which carries a run's
observation scaling inside the exported ``policy.zip`` so that SB3's own loader acts on raw
observations.

Rows travel between storage and the network as one flat float vector per row (the
layout below), so the shared core's ``discriminator_step`` and its R1 / WGAN-GP
penalties act on the scaled inputs themselves, whatever the observation space.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3.common.preprocessing import (
    get_flattened_obs_dim,
    is_image_space,
    is_image_space_channels_first,
    preprocess_obs,
)
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor, CombinedExtractor, FlattenExtractor, NatureCNN
from torch import nn

from genplay.errors import EnvError
from genplay.gail.data.demos import Demos

CLIP = 10.0
STD_FLOOR = 0.01
"""A vector feature's std is at least this fraction of the median std of its space."""
BINARY_STD_FLOOR = 0.25
"""A MultiBinary feature's std is at least this: a board plane constant in the demos (a cell the
expert never filled) then scales to at most 4 when the generator fills it, not to the clip."""

SUPPORTED = (spaces.Box, spaces.Discrete, spaces.MultiDiscrete, spaces.MultiBinary)


def leaf_spaces(space: spaces.Space) -> dict[str | None, spaces.Space]:
    """``{key: subspace}`` of a Dict space (sorted, as SB3 orders them), ``{None: space}`` otherwise."""
    items = dict(space.spaces) if isinstance(space, spaces.Dict) else {None: space}
    for key, sub in items.items():
        where = f" (key {key!r})" if key is not None else ""
        if not isinstance(sub, SUPPORTED):
            raise EnvError(f"the GAIL discriminator does not handle {sub!r}{where}; expected Box or discrete spaces")
        if _image(sub) and not is_image_space_channels_first(sub):
            raise EnvError(
                f"image observations{where} must be channels-first (C, H, W), got shape {sub.shape}; "
                "transpose them in the env (the same frames then reach demos, policy and discriminator)"
            )
    return items


def _image(space: spaces.Space) -> bool:
    return isinstance(space, spaces.Box) and is_image_space(space, check_channels=False)


def preprocessed_shape(space: spaces.Space) -> tuple[int, ...]:
    """Shape of one row after SB3's ``preprocess_obs`` (one-hot widths for discrete spaces)."""
    if isinstance(space, spaces.Box):
        return tuple(space.shape)
    return (get_flattened_obs_dim(space),)


def flat_width(space: spaces.Space) -> int:
    """Width of :func:`to_flat` for ``space``."""
    return sum(int(np.prod(preprocessed_shape(s))) for s in leaf_spaces(space).values())


def to_flat(space: spaces.Space, obs, device: torch.device) -> torch.Tensor:
    """Raw observations (numpy, any dtype; dicts for Dict spaces) -> ``(B, flat_width)`` float32.

    Uses SB3's ``preprocess_obs`` with ``normalize_images=False``: pixel scaling is
    :class:`DemoScaling`'s job.
    """
    parts = []
    for key, sub in leaf_spaces(space).items():
        x = torch.as_tensor(np.asarray(obs if key is None else obs[key]), device=device)
        # Box: float, as preprocess_obs does (uint8 stays uint8 until here); discrete: one-hot.
        x = x.float() if isinstance(sub, spaces.Box) else preprocess_obs(x, sub, normalize_images=False)
        parts.append(x.reshape(len(x), -1))
    return torch.cat(parts, dim=1)


def actions_to_flat(space: spaces.Space, acts, device: torch.device) -> torch.Tensor:
    """Actions -> float rows: one-hot for discrete spaces, bounded Box actions mapped to [-1, 1]."""
    a = torch.as_tensor(np.asarray(acts), device=device)
    if isinstance(space, spaces.Box):
        a = a.float().reshape(len(a), -1)
        low, high = space.low.reshape(-1), space.high.reshape(-1)
        if np.isfinite(low).all() and np.isfinite(high).all():
            lo, hi = torch.as_tensor(low, device=device), torch.as_tensor(high, device=device)
            a = 2.0 * (torch.minimum(torch.maximum(a, lo), hi) - lo) / (hi - lo).clamp_min(1e-8) - 1.0
        return a
    if not isinstance(space, SUPPORTED):
        raise EnvError(f"the GAIL discriminator does not handle the action space {space!r}")
    if isinstance(space, spaces.Discrete):
        a = a.reshape(-1) - int(space.start)
    return preprocess_obs(a, space).reshape(len(a), -1).float()


class DemoScaling(nn.Module):
    """Fixed affine scaling of flat observation rows, fitted once on the demos.

    Per leaf of the space: images -> ``(x - mean frame) / std`` with one scalar std over
    all pixels; binary features (MultiBinary, e.g. board planes) -> ``(x - mean) / max(std,
    BINARY_STD_FLOOR)``; other features -> ``(x - mean) / max(std, STD_FLOOR * median std)``.
    The statistics are buffers, so they travel with the discriminator's ``state_dict``.
    """

    def __init__(self, space: spaces.Space) -> None:
        super().__init__()
        self.space = space
        width = flat_width(space)
        self.register_buffer("mean", torch.zeros(width))
        self.register_buffer("std", torch.ones(width))

    @torch.no_grad()
    def fit(self, batches: Iterator[torch.Tensor]) -> None:
        """Fit on flat rows given in chunks (keeps memory flat for large pixel demos)."""
        n, total, total_sq = 0, None, None
        for x in batches:
            x = x.double()
            total = x.sum(0) if total is None else total + x.sum(0)
            total_sq = (x * x).sum(0) if total_sq is None else total_sq + (x * x).sum(0)
            n += len(x)
        if not n:
            return
        mean = total / n
        var = (total_sq / n - mean * mean).clamp_min(0.0)
        std = torch.empty_like(mean)
        offset = 0
        for sub in leaf_spaces(self.space).values():
            width = int(np.prod(preprocessed_shape(sub)))
            part = slice(offset, offset + width)
            if _image(sub):
                std[part] = var[part].mean().sqrt().clamp_min(1.0)  # one scalar: pixel units, at least 1/255 of range
            elif isinstance(sub, spaces.MultiBinary):
                std[part] = var[part].sqrt().clamp_min(BINARY_STD_FLOOR)
            else:
                s = var[part].sqrt()
                floor = max(STD_FLOOR * float(s.median()), 1e-6)
                std[part] = s.clamp_min(floor)
            offset += width
        self.mean.copy_(mean.float())
        self.std.copy_(std.float())

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        # one fused pass (x * 1/std - mean/std) and an in-place clip: on Atari frames the three
        # separate passes of (x - mean) / std, clamp were ~8% of a GAIL update (cProfile)
        inv = self.std.reciprocal()
        return torch.addcmul(-self.mean * inv, flat, inv).clamp_(-CLIP, CLIP)


class ObsEncoder(nn.Module):
    """Scaled flat rows -> features, through SB3's extractor for the space.

    NatureCNN for an image space, CombinedExtractor (NatureCNN per image key, flatten
    otherwise) for a Dict, flatten for anything else. The extractors are told the images
    are already normalised, since :class:`DemoScaling` did it. With ``board_channels`` > 0,
    board planes (:func:`is_board_space`) go through :class:`BoardCNN` instead of a flatten:
    a pattern (a line of four) is then recognised wherever it sits, which an MLP over the
    flattened board must learn per cell from few positions. Off by default.
    """

    def __init__(self, space: spaces.Space, *, cnn_features: int = 256, board_channels: int = 0) -> None:
        super().__init__()
        self.space = space
        self.shapes = {k: preprocessed_shape(s) for k, s in leaf_spaces(space).items()}
        if board_channels > 0 and is_board_space(space):
            self.shapes = {None: tuple(space.shape)}  # the flat row is the (C, H, W) planes in C order
            self.extractor = BoardCNN(_float_box(space, self.shapes[None]), channels=board_channels)
        elif isinstance(space, spaces.Dict):
            float_space = spaces.Dict({k: _float_box(s) for k, s in space.spaces.items()})
            self.extractor: nn.Module = CombinedExtractor(
                float_space, cnn_output_dim=cnn_features, normalized_image=True
            )
        elif _image(space):
            self.extractor = NatureCNN(_float_box(space), features_dim=cnn_features, normalized_image=True)
        else:
            self.extractor = FlattenExtractor(_float_box(space))
        self.features_dim = int(self.extractor.features_dim)

    def forward(self, flat: torch.Tensor) -> torch.Tensor:
        if None in self.shapes:
            x = flat.reshape(len(flat), *self.shapes[None])  # frames channels-last, see CenteredNatureCNN
            return self.extractor(x.contiguous(memory_format=torch.channels_last) if x.ndim == 4 else x)
        parts, offset = {}, 0
        for key, shape in self.shapes.items():
            width = int(np.prod(shape))
            parts[key] = flat[:, offset : offset + width].reshape(len(flat), *shape)
            offset += width
        return self.extractor(parts)


def is_board_space(space: spaces.Space) -> bool:
    """Board planes ``(C, H, W)``: a 3-D MultiBinary, or a 3-D Box that is not a uint8 image."""
    if isinstance(space, spaces.MultiBinary):
        return len(space.shape) == 3
    return isinstance(space, spaces.Box) and len(space.shape) == 3 and not _image(space)


def _float_box(space: spaces.Space, shape: tuple[int, ...] | None = None) -> spaces.Box:
    """The float Box that ``preprocess_obs`` maps ``space`` into (what the extractors are built for)."""
    if shape is None:
        shape = tuple(space.shape) if _image(space) else preprocessed_shape(space)
    return spaces.Box(-np.inf, np.inf, shape=shape, dtype=np.float32)


class CenteredNatureCNN(NatureCNN):
    """The policy's NatureCNN on frames scaled as the discriminator's are: centred on the mean demo
    frame, divided by one std, clipped (instead of SB3's ``/255``).

    The Atari study behind this: with ``/255`` inputs PPO on Pong's true reward stayed at -20
    for 230k steps and BC did not learn; centred inputs reached +3 by 350k and BC learned.
    The statistics are buffers, so they are saved and loaded with the policy's weights.
    Use with ``normalize_images=False`` in the policy kwargs.
    """

    def __init__(self, observation_space: spaces.Box, features_dim: int = 512, normalized_image: bool = True) -> None:
        # SB3 passes normalized_image=True along with normalize_images=False; frames are scaled here either way
        super().__init__(observation_space, features_dim=features_dim, normalized_image=True)
        self.register_buffer("frame_mean", torch.zeros(observation_space.shape))
        self.register_buffer("frame_std", torch.ones(()))

    @torch.no_grad()
    def set_scaling(self, mean: torch.Tensor, std: torch.Tensor) -> None:
        self.frame_mean.copy_(mean.reshape(self.frame_mean.shape))
        self.frame_std.copy_(std.reshape(-1)[0])

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        inv = self.frame_std.reciprocal()  # fused scaling, as in DemoScaling.forward
        scaled = torch.addcmul(-self.frame_mean * inv, observations, inv).clamp_(-CLIP, CLIP)
        # channels-last frames: NatureCNN's forward + backward on a 256-frame minibatch took
        # 84-104 ms instead of 126-150 ms on this 2-core CPU (oneDNN's NHWC kernels); weights unchanged
        return super().forward(scaled.contiguous(memory_format=torch.channels_last))


class BoardCNN(BaseFeaturesExtractor):
    """Same-padded 3x3 ReLU convolutions over board planes ``(C, H, W)`` (0/1), flattened.

    The policy's extractor for board games (``policy_kwargs=dict(features_extractor_class=BoardCNN,
    features_extractor_kwargs=dict(channels=64, layers=3))``): a line of four in connect four is
    the same pattern wherever it sits, which a convolution shares and an MLP must learn per cell.
    Plain-data kwargs, so a saved policy is rebuilt by name.
    """

    def __init__(self, observation_space: spaces.Space, channels: int = 64, layers: int = 3) -> None:
        shape = tuple(observation_space.shape)
        if len(shape) != 3 or channels < 1 or layers < 1:
            raise EnvError(f"BoardCNN needs (C, H, W) observations, channels and layers >= 1; got {shape}")
        c, h, w = shape
        super().__init__(observation_space, features_dim=channels * h * w)
        mods: list[nn.Module] = []
        for i in range(layers):
            mods += [nn.Conv2d(c if i == 0 else channels, channels, 3, padding=1), nn.ReLU()]
        self.net = nn.Sequential(*mods, nn.Flatten())

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        return self.net(observations.float())


INNER_EXTRACTORS = ("FlattenExtractor", "BoardCNN", "NatureCNN")
"""Extractors :class:`ObsScalingExtractor` may wrap, by name: those a policy over a scaled (non-image)
Box can have among the ones genplay stores (``sb3_io._EXTRACTORS``)."""


class ObsScalingExtractor(BaseFeaturesExtractor):
    """The policy's observation scaling inside its network: fixed ``(x - mean) / std`` clipped to
    ``+-clip``, then the ``inner`` extractor (``FlattenExtractor`` for an MLP policy).

    Written into ``policy.zip`` by ``save_sb3_zip``'s caller (``sb3_zip.with_obs_scaling``) so that
    the zip acts on the env's raw observations when SB3's own ``PPO.load`` opens it. It computes
    exactly what the trainer's frozen ``VecNormalize`` does (float64, clip, cast to float32; ``std``
    is ``sqrt(var + epsilon)``), so the exported policy's actions equal the trained one's. Its
    constructor kwargs are plain lists and names (``policy_kwargs`` stays JSON for genplay's loader);
    the statistics are also buffers, so ``policy.pth`` alone describes the scaling (a zip that lost its
    ``genplay.json`` is rebuilt from them, ``sb3_zip._third_party_meta``).
    """

    def __init__(
        self,
        observation_space: spaces.Box,
        mean: list[float],
        std: list[float],
        clip: float = CLIP,
        inner: str = "FlattenExtractor",
        inner_kwargs: dict | None = None,
    ) -> None:
        shape = tuple(observation_space.shape or ())
        size = int(np.prod(shape))
        mean_t = torch.as_tensor(np.asarray(mean, dtype=np.float64))
        std_t = torch.as_tensor(np.asarray(std, dtype=np.float64))
        if not isinstance(observation_space, spaces.Box) or mean_t.numel() != size or std_t.numel() != size:
            raise EnvError(f"ObsScalingExtractor needs a Box space and {size} means and stds, got {observation_space}")
        if not (torch.isfinite(mean_t).all() and (std_t > 0).all() and np.isfinite(clip) and clip > 0):
            raise EnvError("ObsScalingExtractor needs finite means, stds > 0 and a clip > 0")
        if inner not in INNER_EXTRACTORS:
            raise EnvError(f"ObsScalingExtractor's inner extractor {inner!r} is not one of {list(INNER_EXTRACTORS)}")
        inner_cls = {"FlattenExtractor": FlattenExtractor, "BoardCNN": BoardCNN, "NatureCNN": NatureCNN}[inner]
        extractor = inner_cls(observation_space, **(inner_kwargs or {}))
        super().__init__(observation_space, features_dim=extractor.features_dim)
        self.inner = extractor
        self.register_buffer("obs_mean", mean_t.reshape(shape))
        self.register_buffer("obs_std", std_t.reshape(shape))
        self.register_buffer("obs_clip", torch.tensor(float(clip), dtype=torch.float64))

    def forward(self, observations: torch.Tensor) -> torch.Tensor:
        # float64 as VecNormalize's numpy arithmetic: the same float32 inputs reach the inner extractor
        scaled = ((observations.double() - self.obs_mean) / self.obs_std).clamp(-self.obs_clip, self.obs_clip)
        return self.inner(scaled.float())


def demo_obs_moments(demos: Demos) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the demos' observations, the variance floored as the discriminator's is."""
    obs = np.asarray(demos.obs, dtype=np.float64)
    mean, std = obs.mean(0), obs.std(0)
    std = np.maximum(std, max(STD_FLOOR * float(np.median(std)), 1e-6))
    return mean, std**2
