"""Bach chorales (music21's corpus, 371 in Riemenschneider numbering) as multitrack piano-rolls.

Each chorale's four voices (soprano, alto, tenor, bass) become a boolean roll on a 16th-note grid,
cut into 4-bar windows (hop 1 bar) of shape (4 tracks, 64 steps, n_pitches); the pitch axis is
cropped to the lowest..highest pitch of the whole data set. Only chorales in 4/4 with exactly four
voices are used, and a pickup is padded so that bar lines fall every 16 steps. Parsing takes
minutes, so the rolls are cached as ``.npz`` (read with ``allow_pickle=False``) under
``$GENPLAY_CACHE_DIR/music`` (default ``~/.cache/genplay/music``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genplay.errors import GenplayError
from genplay.generative.core.progress import Heartbeat
from genplay.generative.core.utils import atomic_write

STEPS_PER_BAR = 16  # 16th notes in 4/4
BARS = 4
TRACKS = ("soprano", "alto", "tenor", "bass")
CACHE_VERSION = 2  # bump when the preprocessing changes: the cache file name carries it
MAX_CACHE_BYTES = 2_000_000_000  # all 371 chorales take about 40 MB of windows

Note = tuple[int, int, int]  # (onset step, end step, MIDI pitch)


@dataclass(frozen=True)
class Rolls:
    """Boolean windows (N, 4, BARS * 16, n_pitches); pitch index i is MIDI pitch ``lowest_pitch + i``."""

    windows: np.ndarray
    lowest_pitch: int
    n_songs: int

    @property
    def pitches(self) -> int:
        return int(self.windows.shape[-1])


def cache_dir() -> Path:
    """``$GENPLAY_CACHE_DIR/music`` or ``~/.cache/genplay/music`` (as for the other caches)."""
    return Path(os.environ.get("GENPLAY_CACHE_DIR", Path.home() / ".cache" / "genplay")) / "music"


def chorale_notes(score: Any) -> list[list[Note]] | None:
    """Notes of the 4 voices as (onset_step, end_step, midi_pitch) lists, or None if not 4/4 SATB.

    Steps count from the first full bar's start minus whole bars, so a pickup of k steps starts
    at step 16 - k and every bar line is a multiple of 16.
    """
    sigs = {ts.ratioString for ts in score.recurse().getElementsByClass("TimeSignature")}
    parts = [p for p in score.parts if p.flatten().notes]
    if sigs != {"4/4"} or len(parts) != 4:
        return None
    measures = list(parts[0].getElementsByClass("Measure"))
    first_full = next((m for m in measures if m.duration.quarterLength >= 4), None)
    shift = (-round(float(first_full.offset) * 4)) % STEPS_PER_BAR if first_full is not None else 0
    tracks = []
    for part in parts:
        notes = []
        for n in part.flatten().notes:
            start = round(float(n.offset) * 4) + shift  # quarter lengths -> 16th steps
            end = max(start + 1, round(float(n.offset + n.quarterLength) * 4) + shift)
            notes += [(start, end, p.midi) for p in n.pitches]
        tracks.append(notes)
    return tracks


def notes_to_windows(tracks: list[list[Note]], hop_bars: int = 1) -> np.ndarray:
    """(n_windows, tracks, 64, 128) booleans over all MIDI pitches, windows starting on bar lines."""
    length = max(e for notes in tracks for _, e, _ in notes)
    roll = np.zeros((len(tracks), length, 128), dtype=bool)
    for t, notes in enumerate(tracks):
        for s, e, p in notes:
            roll[t, s:e, p] = True
    win, hop = BARS * STEPS_PER_BAR, hop_bars * STEPS_PER_BAR
    starts = range(0, length - win + 1, hop)
    if not len(starts):
        return np.zeros((0, len(tracks), win, 128), bool)
    return np.stack([roll[:, s : s + win] for s in starts])


def _read_cache(path: Path) -> Rolls:
    """The cached rolls, checked as any file we did not just write: shapes, pitch range, dtype."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if int(z["version"]) != CACHE_VERSION:
                raise ValueError(f"cache version {int(z['version'])}, expected {CACHE_VERSION}")
            windows, lowest, n_songs = z["windows"], int(z["lowest_pitch"]), int(z["n_songs"])
        shape = (len(TRACKS), BARS * STEPS_PER_BAR)
        if windows.ndim != 4 or windows.shape[1:3] != shape or not len(windows) or windows.dtype.kind not in "bui":
            raise ValueError(f"windows must be (N>0, {shape[0]}, {shape[1]}, pitches) booleans, got {windows.shape}")
        if not (lowest >= 0 and windows.shape[3] >= 1 and lowest + windows.shape[3] <= 128):
            raise ValueError(f"pitches {lowest}..{lowest + windows.shape[3] - 1} are outside MIDI's 0..127")
        if windows.nbytes > MAX_CACHE_BYTES or not 0 < n_songs <= 100_000:
            raise ValueError(f"{windows.nbytes} bytes of windows, {n_songs} songs: larger than any chorale set")
        return Rolls(windows.astype(bool), lowest, n_songs)
    except Exception as exc:  # numpy and zipfile raise many types for truncated or foreign files
        why = " ".join(str(exc).split())[:200]
        why = f"{type(exc).__name__}: {why}"
        raise GenplayError(f"{path}: unreadable chorale cache ({why}); delete it to rebuild") from None


def load_chorales(limit: int | None = None, *, use_cache: bool = True, verbose: bool = False) -> Rolls:
    """Parse (or read the cached) chorales; ``limit`` takes the first ``limit`` chorales only (tests)."""
    if limit is not None and limit < 1:
        raise GenplayError(f"--limit: expected a positive number of chorales, got {limit}")
    path = cache_dir() / f"chorales_v{CACHE_VERSION}_{limit or 'all'}.npz"
    if use_cache and path.is_file():
        return _read_cache(path)
    from music21 import corpus

    names = list(corpus.chorales.Iterator(numberingSystem="riemenschneider", returnType="filename"))[:limit]
    all_windows = []
    beat = Heartbeat("parsing chorales (cached after the first run)", len(names), enabled=verbose)
    for i, name in enumerate(names):
        beat.beat(i + 1)
        tracks = chorale_notes(corpus.parse(name))
        if tracks is not None:
            w = notes_to_windows(tracks)
            if len(w):
                all_windows.append(w)
    if not all_windows:
        raise GenplayError(f"--limit: the first {limit} chorales hold no 4-bar 4/4 SATB window")
    full = np.concatenate(all_windows)
    used = np.flatnonzero(full.any(axis=(0, 1, 2)))
    lo, hi = int(used.min()), int(used.max())
    rolls = Rolls(np.ascontiguousarray(full[..., lo : hi + 1]), lo, len(all_windows))
    if use_cache:

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:  # a file object: np.savez would append ".npz" to a path
                np.savez_compressed(
                    f, windows=rolls.windows, lowest_pitch=lo, n_songs=rolls.n_songs, version=CACHE_VERSION
                )

        atomic_write(path, write)
    return rolls
