"""MuseGAN-style multitrack generator (Dong et al. 2018, "hybrid" model) and its WGAN-GP critic.

Four latents: chords (shared by all tracks, one per bar via a temporal generator), style (shared,
one per sample), melody (per track, one per bar via per-track temporal generators) and groove
(per track, one per sample). A bar generator shared across tracks, told which track it plays by
a learned track embedding, turns the four codes of one (track, bar) into a bar of logits over
the token classes per 16th step.

Each chorale voice sings one pitch at a time, so a step's output is a softmax over token
classes; the eval forward takes the argmax per step, ``trainer.sample_rolls`` the argmax or a draw
from the softmax (its ``temperature``); ``straight_through`` makes the training forward pass hard
too, with the softmax's gradient, as BinaryMuseGAN, Dong & Yang 2018, does for its binary neurons.
Two representations (``representation``):

- ``"hold"`` (default): tokens are the pitches, a rest and "hold the previous step" (``holds.py``
  says why this stops the per-step argmax from flickering between neighbouring pitches); the
  output is the critic's view, sounding rolls then onset rolls (2 x tracks channels).
- ``"pitch"`` (sessions 1-4): tokens are the pitches and a rest at every step; the output is the
  sounding rolls (tracks channels). Kept to compare with and to load older runs.
"""

from __future__ import annotations

import torch
from torch import nn

from genplay.generative.core.builders import down_block
from genplay.generative.music.holds import critic_view, decode

REPRESENTATIONS = ("hold", "pitch")


class TemporalGenerator(nn.Module):
    """``(B, z) -> (B, bars, z)``: one code per bar from one code per phrase."""

    def __init__(self, z_dim: int, bars: int, hidden: int = 64) -> None:
        super().__init__()
        self.bars, self.z_dim = bars, z_dim
        self.net = nn.Sequential(nn.Linear(z_dim, hidden), nn.ReLU(), nn.Linear(hidden, bars * z_dim))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).view(-1, self.bars, self.z_dim)


def straight_through_one_hot(logits: torch.Tensor) -> torch.Tensor:
    """One-hot of the argmax over the last axis, with the softmax's gradient (straight-through)."""
    soft = logits.softmax(-1)
    hard = torch.zeros_like(soft).scatter_(-1, soft.argmax(-1, keepdim=True), 1.0)
    return hard + (soft - soft.detach())  # exactly 0 or 1 forward: soft - soft.detach() is 0


class MuseGenerator(nn.Module):
    """``z (B, latent_dim) -> (B, view_channels, bars * steps_per_bar, pitches)``: the critic's view.

    Its first ``tracks`` channels are the sounding rolls (0/1 in eval mode, one pitch or none per
    step), for ``"hold"`` followed by the onset rolls.
    """

    def __init__(
        self,
        *,
        tracks: int,
        bars: int,
        steps_per_bar: int,
        pitches: int,
        z_dim: int = 32,
        width: int = 128,
        straight_through: bool = False,
        representation: str = "hold",
    ):
        super().__init__()
        if steps_per_bar % 4:
            raise ValueError(f"steps_per_bar must be a multiple of 4, got {steps_per_bar}")
        if representation not in REPRESENTATIONS:
            raise ValueError(f"representation must be one of {REPRESENTATIONS}, got {representation!r}")
        self.representation = representation
        self.classes = pitches + (2 if representation == "hold" else 1)  # pitches, rest[, hold]
        self.view_channels = tracks * (2 if representation == "hold" else 1)
        self.tracks, self.bars, self.z_dim = tracks, bars, z_dim
        self.steps_per_bar, self.pitches, self.straight_through = steps_per_bar, pitches, straight_through
        self.latent_dim = 2 * z_dim + 2 * tracks * z_dim  # chords, style, melody x tracks, groove x tracks
        self.chords = TemporalGenerator(z_dim, bars)
        self.melody = nn.ModuleList(TemporalGenerator(z_dim, bars) for _ in range(tracks))
        self.track_embed = nn.Embedding(tracks, z_dim)
        self.bar = nn.Sequential(
            nn.Linear(5 * z_dim, width * (steps_per_bar // 4)), nn.Unflatten(1, (width, steps_per_bar // 4)),
            nn.BatchNorm1d(width), nn.ReLU(),  # (B', w, steps/4)
            nn.ConvTranspose1d(width, width // 2, 4, 2, 1), nn.BatchNorm1d(width // 2), nn.ReLU(),  # steps/2
            nn.ConvTranspose1d(width // 2, width // 2, 4, 2, 1), nn.BatchNorm1d(width // 2), nn.ReLU(),  # steps
            nn.Conv1d(width // 2, self.classes, 3, 1, 1),  # (B', classes, steps): token classes as channels
        )  # fmt: skip

    def logits(self, z: torch.Tensor) -> torch.Tensor:
        """Per-step logits (B, tracks, steps, classes): pitches, rest[, hold]; a hold at step 0 is masked."""
        b, d, t, n = len(z), self.z_dim, self.tracks, self.bars
        if z.shape[1:] != (self.latent_dim,):
            raise ValueError(f"z must be (B, {self.latent_dim}), got {tuple(z.shape)}")
        z_chords, z_style = z[:, :d], z[:, d : 2 * d]
        z_melody = z[:, 2 * d : 2 * d + t * d].reshape(b, t, d)
        z_groove = z[:, 2 * d + t * d :].reshape(b, t, d)
        chords = self.chords(z_chords)  # (B, bars, d)
        melody = torch.stack([self.melody[i](z_melody[:, i]) for i in range(t)], 1)  # (B, t, bars, d)
        codes = torch.cat(
            [
                chords[:, None].expand(b, t, n, d),
                z_style[:, None, None].expand(b, t, n, d),
                melody,
                z_groove[:, :, None].expand(b, t, n, d),
                self.track_embed.weight[None, :, None].expand(b, t, n, d),
            ],
            dim=-1,
        )  # (B, t, bars, 5d)
        bars = self.bar(codes.reshape(b * t * n, 5 * d))  # (B*t*bars, classes, steps)
        bars = bars.view(b, t, n, self.classes, self.steps_per_bar).transpose(-1, -2)
        logits = bars.reshape(b, t, n * self.steps_per_bar, self.classes)
        if self.representation == "hold":  # nothing to hold before the first step
            mask = torch.zeros_like(logits[0, 0])
            mask[0, -1] = float("-inf")
            logits = logits + mask
        return logits

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        logits = self.logits(z)
        soft = self.training and not self.straight_through
        probs = logits.softmax(-1) if soft else straight_through_one_hot(logits)
        if self.representation == "pitch":
            return probs[..., : self.pitches]  # drop the rest column
        return critic_view(decode(probs, self.pitches))

    def decode_tokens(self, tokens: torch.Tensor) -> torch.Tensor:
        """Token ids ``(B, tracks, steps)`` -> sounding rolls ``(B, tracks, steps, pitches)`` (0/1 floats)."""
        one_hot = torch.nn.functional.one_hot(tokens, self.classes).float()
        return one_hot[..., : self.pitches] if self.representation == "pitch" else decode(one_hot, self.pitches)


class MuseCritic(nn.Module):
    """Views (B, tracks, steps, pitches) -> critic values (B,): view channels (``tracks``), layer norm (WGAN-GP)."""

    def __init__(self, *, tracks: int, steps: int, pitches: int, width: int = 64) -> None:
        super().__init__()
        chans = (tracks, width, 2 * width, 4 * width)
        blocks = [
            down_block(a, b, norm="none" if i == 0 else "layer") for i, (a, b) in enumerate(zip(chans, chans[1:]))
        ]
        self.features = nn.Sequential(*blocks, nn.Flatten())  # steps and pitches halved three times
        with torch.no_grad():
            n_flat = self.features(torch.zeros(1, tracks, steps, pitches)).shape[1]
        self.head = nn.Linear(n_flat, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x)).squeeze(1)
