"""Objective metrics of multitrack piano-rolls (MuseGAN, Dong et al. 2018), written here.

pypianoroll's versions cannot be used: its empty-beat rate is inverted and its pitch-class count
reshapes the roll in blocks of 10 instead of 12. Here pitch class = MIDI pitch mod 12, always.
Rolls are boolean arrays (N, tracks, steps, pitches) with ``lowest_pitch`` the MIDI pitch of index 0
and bars of ``steps_per_bar`` steps. Every function returns a plain float (or a dict of them).
"""

from __future__ import annotations

import itertools

import numpy as np

TARGET_RELATIVE = ("empty_bar_rate", "used_pitch_classes", "qualified_note_rate")
"""Metrics the issue wants within 15% of the data's value."""
TARGET_ABSOLUTE = ("tonal_distance",)
"""Metrics the issue wants within 0.2 of the data's value."""

MAJOR_SCALE = np.array([0, 2, 4, 5, 7, 9, 11])


def _bars(rolls: np.ndarray, steps_per_bar: int) -> np.ndarray:
    """(N, T, S, P) -> (N, T, bars, steps_per_bar, P)."""
    n, t, s, p = rolls.shape
    if s % steps_per_bar:
        raise ValueError(f"{s} steps are not a whole number of {steps_per_bar}-step bars")
    return rolls.reshape(n, t, s // steps_per_bar, steps_per_bar, p)


def chroma(rolls: np.ndarray, lowest_pitch: int) -> np.ndarray:
    """Fold the pitch axis onto 12 pitch classes (sum of active steps): (..., P) -> (..., 12)."""
    fold = np.zeros((rolls.shape[-1], 12))
    fold[np.arange(rolls.shape[-1]), (lowest_pitch + np.arange(rolls.shape[-1])) % 12] = 1.0
    return rolls.astype(np.float64) @ fold


def empty_bar_rate(rolls: np.ndarray, steps_per_bar: int = 16) -> float:
    """Fraction of (track, bar) cells with no note at all."""
    return float((~_bars(rolls, steps_per_bar).any(axis=(-1, -2))).mean())


def used_pitch_classes(rolls: np.ndarray, lowest_pitch: int, steps_per_bar: int = 16) -> float:
    """Mean number of distinct pitch classes per (track, bar), over non-empty bars."""
    pcs = chroma(_bars(rolls, steps_per_bar).any(axis=-2), lowest_pitch) > 0  # (N, T, bars, 12)
    counts = pcs.sum(-1)
    return float(counts[counts > 0].mean()) if (counts > 0).any() else 0.0


def _note_lengths(rolls: np.ndarray) -> np.ndarray:
    """Lengths (in steps) of all runs of consecutive active steps, per pitch and track."""
    x = np.moveaxis(rolls, -2, -1).reshape(-1, rolls.shape[-2]).astype(np.int8)  # (rows, S)
    padded = np.pad(x, ((0, 0), (1, 1)))
    d = np.diff(padded, axis=1)
    starts, ends = np.nonzero(d == 1), np.nonzero(d == -1)
    return ends[1] - starts[1]  # both are sorted by (row, step), so they pair up


def qualified_note_rate(rolls: np.ndarray, min_steps: int = 2) -> float:
    """Fraction of notes at least ``min_steps`` long (an eighth note on the 16th grid)."""
    lengths = _note_lengths(rolls)
    return float((lengths >= min_steps).mean()) if len(lengths) else 0.0


def sixteenth_share(rolls: np.ndarray) -> float:
    """Fraction of notes exactly one step long (a single 16th on the grid), all tracks together.

    The Bach chorales have 3.3% (S / A / T / B: 1.2% / 5.6% / 6.1% / 0.6%); a generator whose
    sampling rounds rare short notes away writes almost none.
    """
    lengths = _note_lengths(rolls)
    return float((lengths == 1).mean()) if len(lengths) else 0.0


def polyphony(rolls: np.ndarray) -> float:
    """Mean number of sounding pitches (all tracks merged) over steps where anything sounds."""
    counts = rolls.any(axis=1).sum(-1)
    return float(counts[counts > 0].mean()) if (counts > 0).any() else 0.0


def in_scale_rate(rolls: np.ndarray, lowest_pitch: int) -> float:
    """Fraction of active note-steps in the major scale that fits each sample best (12 keys tried)."""
    c = chroma(rolls, lowest_pitch).sum(axis=(1, 2))  # (N, 12)
    masks = np.zeros((12, 12))
    for key in range(12):
        masks[key, (MAJOR_SCALE + key) % 12] = 1.0
    inside = (c @ masks.T).max(axis=1)  # (N,)
    total = c.sum(axis=1)
    return float(inside.sum() / total.sum()) if total.sum() > 0 else 0.0


def tonal_matrix(r1: float = 1.0, r2: float = 1.0, r3: float = 0.5) -> np.ndarray:
    """Harte et al. (2006) 6x12 projection of chroma onto fifths, minor and major thirds circles."""
    k = np.arange(12)
    return np.stack([
        r1 * np.sin(k * 7 * np.pi / 6), r1 * np.cos(k * 7 * np.pi / 6),
        r2 * np.sin(k * 3 * np.pi / 2), r2 * np.cos(k * 3 * np.pi / 2),
        r3 * np.sin(k * 2 * np.pi / 3), r3 * np.cos(k * 2 * np.pi / 3),
    ])  # fmt: skip


def tonal_distance(rolls: np.ndarray, lowest_pitch: int, a: int, b: int, steps_per_bar: int = 16) -> float:
    """Mean Euclidean distance between the tonal centroids of tracks ``a`` and ``b`` per bar,
    over bars where both tracks play (lower = more harmonically related)."""
    c = chroma(_bars(rolls, steps_per_bar).sum(axis=-2), lowest_pitch)  # (N, T, bars, 12)
    ca, cb = c[:, a], c[:, b]
    both = (ca.sum(-1) > 0) & (cb.sum(-1) > 0)
    if not both.any():
        return float("nan")
    m = tonal_matrix()
    ta = (ca[both] / ca[both].sum(-1, keepdims=True)) @ m.T
    tb = (cb[both] / cb[both].sum(-1, keepdims=True)) @ m.T
    return float(np.linalg.norm(ta - tb, axis=-1).mean())


def music_metrics(
    rolls: np.ndarray, lowest_pitch: int, track_names: tuple[str, ...], steps_per_bar: int = 16
) -> dict[str, float]:
    """All metrics: per-track empty-bar rate, used pitch classes and qualified-note rate, plus
    polyphony, in-scale rate and the tonal distance of every track pair."""
    out: dict[str, float] = {}
    for t, name in enumerate(track_names):
        track = rolls[:, t : t + 1]
        out[f"empty_bar_rate/{name}"] = empty_bar_rate(track, steps_per_bar)
        out[f"used_pitch_classes/{name}"] = used_pitch_classes(track, lowest_pitch, steps_per_bar)
        out[f"qualified_note_rate/{name}"] = qualified_note_rate(track)
    out["polyphony"] = polyphony(rolls)
    out["in_scale_rate"] = in_scale_rate(rolls, lowest_pitch)
    for a, b in itertools.combinations(range(len(track_names)), 2):
        out[f"tonal_distance/{track_names[a]}-{track_names[b]}"] = tonal_distance(
            rolls, lowest_pitch, a, b, steps_per_bar
        )
    return out


def within_target(generated: dict[str, float], data: dict[str, float], *, floor: float = 0.01) -> dict[str, bool]:
    """Whether each targeted metric is close enough to the data: 15% relative for empty-bar rate,
    used pitch classes and qualified-note rate, 0.2 absolute for tonal distances.

    ``floor`` is the least tolerance of the relative targets: the data's empty-bar rate is ~0, and
    15% of 0 would demand exactly zero empty bars.
    """
    out = {}
    for k, ref in data.items():
        if k.startswith(TARGET_RELATIVE):
            out[k] = bool(abs(generated[k] - ref) <= max(0.15 * abs(ref), floor))
        elif k.startswith(TARGET_ABSOLUTE):
            out[k] = bool(abs(generated[k] - ref) <= 0.2)
    return out
