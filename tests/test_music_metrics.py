"""Music metrics on hand-made rolls with known answers, and the MIDI round trip."""

from __future__ import annotations

import numpy as np
import pytest

from genplay.generative.music.metrics import (
    chroma,
    empty_bar_rate,
    in_scale_rate,
    music_metrics,
    polyphony,
    qualified_note_rate,
    sixteenth_share,
    tonal_distance,
    used_pitch_classes,
    within_target,
)
from genplay.generative.music.midi import midi_to_roll, read_midi, roll_to_midi, save_roll_png, write_midi

LOW = 48  # MIDI pitch of index 0 (a C, so index i has pitch class i % 12)


def _roll(tracks=2, bars=2, pitches=24) -> np.ndarray:
    return np.zeros((1, tracks, 16 * bars, pitches), dtype=bool)


def test_empty_bar_rate_counts_empty_cells():
    r = _roll()
    r[0, 0, 0, 0] = True  # track 0, bar 0 has a note; the other 3 (track, bar) cells are empty
    assert empty_bar_rate(r) == 0.75
    assert empty_bar_rate(np.ones_like(r)) == 0.0  # not inverted (pypianoroll's is)


def test_used_pitch_classes_uses_mod_12():
    r = _roll(tracks=1, bars=1)
    r[0, 0, 0, [0, 12]] = True  # C and the C an octave up: one pitch class
    r[0, 0, 1, 7] = True  # G
    assert used_pitch_classes(r, LOW) == 2.0
    r2 = _roll(tracks=1, bars=1)
    r2[0, 0, 0, [10, 11]] = True  # A#, B: pypianoroll's blocks of 10 would fold index 10 onto 0
    assert used_pitch_classes(r2, LOW) == 2.0
    assert used_pitch_classes(r2, LOW + 2) == 2.0
    assert np.argmax(chroma(r2, LOW + 2)[0, 0, 0]) in (0, 1)  # pitches 60, 61 -> C, C#


def test_qualified_note_rate_and_polyphony():
    r = _roll(tracks=2, bars=1)
    r[0, 0, 0:4, 0] = True  # a quarter note (qualified)
    r[0, 0, 4:5, 0] = True  # touching the first note: one merged note of 5 steps
    r[0, 0, 8:9, 2] = True  # a 16th (not qualified)
    r[0, 1, 0:2, 4] = True  # an eighth in track 1 (qualified)
    assert qualified_note_rate(r) == pytest.approx(2 / 3)
    # steps 0-1: 2 pitches sound, 2-4: 1, 8: 1 -> mean over 6 sounding steps
    assert polyphony(r) == pytest.approx((2 * 2 + 3 * 1 + 1) / 6)


def test_sixteenth_share_counts_one_step_notes():
    r = _roll(tracks=2, bars=1)
    r[0, 0, 0:4, 0] = True  # a quarter
    r[0, 0, 4, 1] = True  # a 16th right after it, on another pitch
    r[0, 0, 5, 1] = False
    r[0, 1, 8, 3] = True  # a 16th in the other track
    r[0, 1, 10:12, 3] = True  # an eighth
    assert sixteenth_share(r) == pytest.approx(2 / 4)
    assert sixteenth_share(r[:, :1]) == pytest.approx(1 / 2) and sixteenth_share(_roll()) == 0.0


def test_in_scale_rate():
    r = _roll(tracks=1, bars=1)
    r[0, 0, 0:7, [0, 2, 4, 5, 7, 9, 11]] = True  # C major scale: all in scale
    assert in_scale_rate(r, LOW) == 1.0
    r[0, 0, 0:7, 1] = True  # add C# for 7 steps: 49 in, 7 out
    assert in_scale_rate(r, LOW) == pytest.approx(49 / 56)


def test_tonal_distance_zero_for_same_harmony_and_positive_otherwise():
    r = _roll(tracks=3, bars=1)
    r[0, 0, :, [0, 4, 7]] = True  # C major triad
    r[0, 1, :, [12, 16, 19]] = True  # the same triad an octave up
    r[0, 2, :, [1, 5, 8]] = True  # C# major triad
    assert tonal_distance(r, LOW, 0, 1) == pytest.approx(0.0, abs=1e-9)
    assert tonal_distance(r, LOW, 0, 2) > 0.5
    m = music_metrics(r, LOW, ("a", "b", "c"))
    assert m["tonal_distance/a-b"] == pytest.approx(0.0, abs=1e-9) and "empty_bar_rate/c" in m


def test_midi_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    roll = rng.random((4, 64, 30)) < 0.05
    roll[1, 10:20, 3] = True  # a long note
    path = tmp_path / "x.mid"
    write_midi(path, roll, LOW, ("s", "a", "t", "b"))
    back = midi_to_roll(read_midi(path), LOW, 30, 64)
    assert np.array_equal(back, roll)
    pm = roll_to_midi(roll, LOW, ("s", "a", "t", "b"))
    assert [i.name for i in pm.instruments] == ["s", "a", "t", "b"]
    save_roll_png(tmp_path / "x.png", roll, LOW, ("s", "a", "t", "b"))
    assert (tmp_path / "x.png").read_bytes()[:4] == b"\x89PNG"


def test_within_target_uses_relative_and_absolute_tolerances():
    data = {"empty_bar_rate/a": 0.0, "used_pitch_classes/a": 3.0, "tonal_distance/a-b": 0.8, "polyphony": 4.0}
    ok = within_target(
        {"empty_bar_rate/a": 0.005, "used_pitch_classes/a": 3.4, "tonal_distance/a-b": 1.0, "polyphony": 1}, data
    )
    assert ok == {"empty_bar_rate/a": True, "used_pitch_classes/a": True, "tonal_distance/a-b": True}
    bad = within_target({"empty_bar_rate/a": 0.05, "used_pitch_classes/a": 3.5, "tonal_distance/a-b": 0.55}, data)
    assert not any(bad.values())
