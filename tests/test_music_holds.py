"""The onset/hold representation: tokens of hand-made rolls, decoding (hard and soft), the critic's view."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genplay.generative.music.holds import critic_view, decode, onsets_of, roll_to_tokens, tokens_to_roll
from genplay.generative.music.metrics import qualified_note_rate

P = 6  # pitches: tokens 0..5 start a note, 6 is a rest, 7 holds the previous step
REST, HOLD = P, P + 1


def _voice(notes: list[tuple[int, int, int]], steps: int = 16) -> np.ndarray:
    """A (steps, P) roll of (start, end, pitch) notes."""
    roll = np.zeros((steps, P), dtype=bool)
    for s, e, p in notes:
        roll[s:e, p] = True
    return roll


def test_tokens_of_a_hand_made_voice():
    # a quarter on 2, an eighth on 4, a 16th rest, a dotted eighth on 4, a 16th on 1, then rests to the end
    roll = _voice([(0, 4, 2), (4, 6, 4), (7, 10, 4), (10, 11, 1)], steps=14)
    expected = [2, HOLD, HOLD, HOLD, 4, HOLD, REST, 4, HOLD, HOLD, 1, REST, HOLD, HOLD]
    assert roll_to_tokens(roll).tolist() == expected
    assert np.array_equal(tokens_to_roll(np.array(expected), P), roll)


def test_a_restruck_pitch_is_one_note_as_in_the_roll():
    roll = _voice([(0, 2, 3), (2, 4, 3)], steps=4)  # the roll cannot tell two eighths from a quarter
    assert roll_to_tokens(roll).tolist() == [3, HOLD, HOLD, HOLD]
    assert onsets_of(torch.from_numpy(roll)).nonzero().tolist() == [[0, 3]]


def test_round_trip_on_random_monophonic_rolls():
    rng = np.random.default_rng(0)
    tokens = rng.integers(0, P + 2, size=(50, 4, 64))
    tokens[..., 0] = rng.integers(0, P + 1, size=(50, 4))  # nothing to hold at step 0
    roll = tokens_to_roll(tokens, P)
    assert roll.shape == (50, 4, 64, P) and roll.sum(-1).max() <= 1
    assert np.array_equal(tokens_to_roll(roll_to_tokens(roll), P), roll)
    # every run of holds extends the note before it: notes are as long as the data says
    lengths = qualified_note_rate(tokens_to_roll(np.array([[1, HOLD, 2, HOLD, HOLD, 3]]), P)[:, None])
    assert lengths == pytest.approx(2 / 3)


def test_soft_decoding_keeps_one_unit_of_mass_per_step():
    probs = torch.zeros(3, P + 2)
    probs[0, 1] = 1.0  # step 0: a note on 1
    probs[1, HOLD], probs[1, 2] = 0.5, 0.5  # step 1: hold it or start 2, even odds
    probs[2, HOLD], probs[2, REST] = 0.75, 0.25  # step 2: mostly hold
    sounding = decode(probs, P)
    assert sounding[1].tolist() == pytest.approx([0, 0.5, 0.5, 0, 0, 0])
    assert sounding[2].tolist() == pytest.approx([0, 0.375, 0.375, 0, 0, 0])  # + 0.25 rest = 1
    onsets = onsets_of(sounding)  # p[t] * (1 - p[t-1])
    assert onsets[1].tolist() == pytest.approx([0, 0, 0.5, 0, 0, 0])
    assert onsets[2].tolist() == pytest.approx([0, 0.1875, 0.1875, 0, 0, 0])
    with pytest.raises(ValueError):
        decode(torch.zeros(3, P + 1), P)


def test_soft_decoding_passes_gradients_to_the_hold_logit():
    logits = torch.zeros(2, 8, P + 2, requires_grad=True)
    sounding = decode(logits.softmax(-1), P)
    sounding[:, -1, 0].sum().backward()
    assert logits.grad[:, 1:, HOLD].abs().sum() > 0


def test_a_blurred_note_shows_onsets_at_every_step():
    blur = torch.zeros(8, P)
    blur[:, 2:4] = 0.5  # a note smeared over two neighbouring pitches: the per-step argmax flickers
    assert onsets_of(blur)[1:].sum(-1).tolist() == pytest.approx([0.5] * 7)
    held = torch.zeros(8, P)
    held[:, 2] = 1.0
    assert onsets_of(held)[1:].sum() == 0


def test_critic_view_stacks_sounding_then_onsets():
    rolls = torch.zeros(1, 2, 16, P, dtype=torch.bool)
    rolls[0, 0, 0:4, 2] = True
    rolls[0, 1, 3:16, 5] = True
    view = critic_view(rolls)
    assert view.shape == (1, 4, 16, P) and torch.equal(view[:, :2], rolls)
    assert view[0, 2].nonzero().tolist() == [[0, 2]] and view[0, 3].nonzero().tolist() == [[3, 5]]
