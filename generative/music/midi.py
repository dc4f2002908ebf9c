"""Piano-rolls to MIDI (pretty-midi) and back, and piano-roll PNGs.

A note is a run of consecutive active steps of one pitch in one track; the grid is a 16th note at
``tempo`` beats per minute. ``midi_to_roll`` inverts ``roll_to_midi`` exactly (tested).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pretty_midi

from genplay.errors import GenplayError
from genplay.generative.core.utils import atomic_write

CHOIR_AAHS = 52  # General MIDI program for every voice


def roll_to_midi(
    roll: np.ndarray, lowest_pitch: int, track_names: tuple[str, ...], *, tempo: float = 100.0
) -> pretty_midi.PrettyMIDI:
    """(tracks, steps, pitches) booleans -> PrettyMIDI with one instrument per track."""
    step = 60.0 / tempo / 4
    pm = pretty_midi.PrettyMIDI(initial_tempo=tempo)
    for t, name in enumerate(track_names):
        inst = pretty_midi.Instrument(program=CHOIR_AAHS, name=name)
        padded = np.pad(roll[t].astype(np.int8), ((1, 1), (0, 0)))
        d = np.diff(padded, axis=0)  # +1 at onsets, -1 after offsets
        for p in range(roll.shape[-1]):
            for s, e in zip(np.flatnonzero(d[:, p] == 1), np.flatnonzero(d[:, p] == -1)):
                inst.notes.append(pretty_midi.Note(velocity=80, pitch=lowest_pitch + p, start=s * step, end=e * step))
        pm.instruments.append(inst)
    return pm


def midi_to_roll(
    pm: pretty_midi.PrettyMIDI, lowest_pitch: int, pitches: int, steps: int, *, tempo: float = 100.0
) -> np.ndarray:
    """Inverse of :func:`roll_to_midi` for files it wrote: (tracks, steps, pitches) booleans."""
    step = 60.0 / tempo / 4
    roll = np.zeros((len(pm.instruments), steps, pitches), dtype=bool)
    for t, inst in enumerate(pm.instruments):
        for n in inst.notes:
            p = n.pitch - lowest_pitch
            if 0 <= p < pitches:
                roll[t, round(n.start / step) : round(n.end / step), p] = True
    return roll


def write_midi(path: str | Path, roll: np.ndarray, lowest_pitch: int, track_names: tuple[str, ...]) -> None:
    """Write one roll (tracks, steps, pitches) as a MIDI file, atomically."""
    pm = roll_to_midi(roll, lowest_pitch, track_names)
    atomic_write(path, lambda p: pm.write(p))


def read_midi(path: str | Path) -> pretty_midi.PrettyMIDI:
    """Read a MIDI file; an unreadable one is one ``GenplayError`` naming the file."""
    try:
        return pretty_midi.PrettyMIDI(str(path))
    except Exception as exc:  # mido raises several types on malformed files
        raise GenplayError(f"{path}: file: expected a readable MIDI file ({exc})") from None


def save_roll_png(path: str | Path, roll: np.ndarray, lowest_pitch: int, track_names: tuple[str, ...]) -> None:
    """One panel per track, time left to right, pitch upwards, bar lines every 16 steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(len(track_names), 1, figsize=(8, 1.6 * len(track_names)), sharex=True)
    for ax, track, name in zip(axes, roll, track_names):
        ax.imshow(track.T, origin="lower", aspect="auto", cmap="Greys", interpolation="nearest",
                  extent=(0, track.shape[0], lowest_pitch, lowest_pitch + track.shape[1]))  # fmt: skip
        for x in range(16, track.shape[0], 16):
            ax.axvline(x, color="tab:red", lw=0.5)
        ax.set_ylabel(name)
    axes[-1].set_xlabel("16th-note step")
    fig.tight_layout()
    atomic_write(path, lambda p: fig.savefig(p, format="png", dpi=80))
    plt.close(fig)
