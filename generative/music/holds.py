"""The onset/hold representation of monophonic voices (DeepBach's "__" hold symbol, Hadjeres et al. 2017).

Each 16th step of a voice is one token among ``pitches`` (a note starts at that pitch), ``rest``
(index ``pitches``) and ``hold`` (index ``pitches + 1``: the previous step sounds on, pitch or
rest). A held note is thus one choice at its onset followed by hold tokens, not the same pitch
chosen again at every step. Why this cures the flicker of the per-step pitch softmax: there, a
generator unsure between two neighbouring pitches puts similar mass on both at every step of the
note and the per-step argmax alternates between them, cutting a quarter note into 16ths; here
the pitch is chosen once, and the steps after it choose between "hold" and "new note", where
the data make "hold" the large majority (71-79% of the voices' steps).

Why not a coarser grid inside the network (8th-note steps repeated to 16ths): it cannot write the
data's single 16ths (1.2% / 5.6% / 6.1% / 0.6% of the S / A / T / B notes), and its critic would
see 16ths in every data batch that the generator can never produce, an unbeatable feature. Why
not pitch + duration tokens: a 64-step window would then hold a variable number of tokens, which
the fixed-shape bar generator and the convolutional critic of the GAN core do not take.

The critic sees, per voice, the sounding roll and the onset roll (two channels per voice), computed
by one function, ``critic_view``, for the data's rolls (booleans) and the generator's (probabilities):
``onset[t] = sounding[t] * (1 - sounding[t-1])``. The generator's sounding roll comes from its
tokens by ``decode``, the recursion ``sounding[t] = new[t] + hold[t] * sounding[t-1]``, which is
differentiable on soft probabilities (training) and exact on one-hot tokens (sampling). A roll merges
a re-struck pitch into one long note, so starting the previous pitch again is a hold in both views.
Why the onset channel: on soft outputs, a note blurred over two neighbouring pitches (the flicker
to be) shows onset mass at every step of it, which no data roll has, where the sounding roll alone
shows a smooth blend. A first version gave the critic the tokens' own onsets (a re-strike counted
as an onset): its samples re-struck the previous pitch at 18% of their onsets, fewer real pitch
changes than the data (2.5-3.1 pitch classes per bar against 2.9-3.8, seed 0, 1000 updates).
"""

from __future__ import annotations

import numpy as np
import torch


def decode(probs: torch.Tensor, pitches: int) -> torch.Tensor:
    """Token probabilities ``(..., steps, pitches + 2)`` -> sounding probabilities ``(..., steps, pitches)``.

    A hold at step 0 has no previous step and decodes as a rest; the generator masks it.
    """
    if probs.shape[-1] != pitches + 2:
        raise ValueError(f"expected {pitches + 2} token classes (pitches, rest, hold), got {probs.shape[-1]}")
    new, hold = probs[..., : pitches + 1], probs[..., pitches + 1 :]  # (..., S, P + 1), (..., S, 1)
    sounding = [new[..., 0, :]]
    for t in range(1, probs.shape[-2]):
        sounding.append(new[..., t, :] + hold[..., t, :] * sounding[-1])
    return torch.stack(sounding, dim=-2)[..., :pitches]


def onsets_of(rolls: torch.Tensor) -> torch.Tensor:
    """Onset roll of rolls ``(..., steps, pitches)``: sounding and not sounding the step before.

    Booleans give booleans; probabilities give ``p[t] * (1 - p[t-1])`` (the same on 0/1 values).
    """
    before = torch.zeros_like(rolls)
    before[..., 1:, :] = rolls[..., :-1, :]
    return rolls & ~before if rolls.dtype == torch.bool else rolls * (1 - before)


def critic_view(rolls: torch.Tensor) -> torch.Tensor:
    """Rolls ``(N, tracks, steps, pitches)`` -> ``(N, 2 * tracks, ...)``: sounding tracks, then their onsets."""
    return torch.cat([rolls, onsets_of(rolls)], dim=1)


def roll_to_tokens(roll: np.ndarray) -> np.ndarray:
    """Tokens ``(..., steps)`` of boolean rolls ``(..., steps, pitches)`` (pitch, rest = P, hold = P + 1).

    A step where several pitches sound (0.002% of the chorales' voice-steps) counts as its lowest.
    """
    p = roll.shape[-1]
    sounds = roll.any(-1)
    tok = np.where(sounds, roll.argmax(-1), p)
    same = np.zeros_like(sounds)
    same[..., 1:] = tok[..., 1:] == tok[..., :-1]
    return np.where(same, p + 1, tok)


def tokens_to_roll(tokens: np.ndarray, pitches: int) -> np.ndarray:
    """Inverse of :func:`roll_to_tokens` on monophonic rolls: tokens ``(..., steps)`` -> booleans."""
    probs = torch.nn.functional.one_hot(torch.as_tensor(tokens, dtype=torch.long), pitches + 2).double()
    return decode(probs, pitches).numpy() > 0.5
