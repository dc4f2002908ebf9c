"""The off-policy replay stores each observation once yet reads back exactly what SB3's plain buffer stores."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer

from genplay.gail.learners.replay import CountingReplayBuffer

OBS = spaces.Box(0, 255, (3, 4), np.uint8)
ACTS = spaces.Discrete(3)
N_ENVS, SIZE = 2, 7


def _stream(n: int, seed: int = 0):
    """``add`` arguments of a 2-env rollout: episodes of random length that end terminated or truncated,
    each env's observation a counter, so every next observation is unique; one cut by a reset (a resume)."""
    rng = np.random.default_rng(seed)
    counter = np.arange(N_ENVS) * 1000
    obs = np.stack([np.full((3, 4), c % 251, np.uint8) for c in counter])
    rows = []
    for t in range(n):
        done = rng.random(N_ENVS) < 0.25
        truncated = done & (rng.random(N_ENVS) < 0.5)
        counter = counter + 1
        nxt = np.stack([np.full((3, 4), c % 251, np.uint8) for c in counter])
        nxt[:, 0, 0] = t % 7  # next observations differ from their row's
        infos = [{"TimeLimit.truncated": bool(x)} for x in truncated]
        rows.append((obs.copy(), nxt.copy(), rng.integers(3, size=(N_ENVS, 1)), rng.random(N_ENVS), done, infos))
        following = nxt.copy()
        for env in np.flatnonzero(done):  # the reset frame that starts the next episode
            counter[env] += 500
            following[env] = np.full((3, 4), counter[env] % 251, np.uint8)
        if t == n // 2:
            following[0] = 77  # a reset without an episode end: the rollout was cut (a resumed run)
        obs = following
    return rows


def _both(n: int):
    plain = ReplayBuffer(SIZE * N_ENVS, OBS, ACTS, n_envs=N_ENVS, handle_timeout_termination=True)
    compact = CountingReplayBuffer(SIZE * N_ENVS, OBS, ACTS, n_envs=N_ENVS, handle_timeout_termination=True)
    for args in _stream(n):
        plain.add(*args)
        compact.add(*args)
    return plain, compact


@pytest.mark.parametrize("n", [1, 3, SIZE, 3 * SIZE + 2])
def test_next_observations_read_back_as_the_plain_buffer_stores_them(n):
    plain, compact = _both(n)
    rows = compact.n_rows()
    assert (compact.pos, compact.full, rows) == (plain.pos, plain.full, plain.pos if not plain.full else SIZE)
    np.testing.assert_array_equal(compact.all_next_observations(), plain.next_observations[:rows])
    np.testing.assert_array_equal(compact.observations, plain.observations)
    assert compact.next_observations is None  # the second copy is never made
    kept = int((compact.next_row >= 0).sum())  # only episode ends and the cut are kept apart
    assert kept <= int(compact.dones[:rows].sum()) + 1 and (kept > 0 or n < SIZE)


def test_sb3_sampling_matches_the_plain_buffer():
    """What DQN's and SAC's own ``train`` read (``sample``), including terminations net of timeouts."""
    plain, compact = _both(3 * SIZE + 2)
    np.random.seed(3)
    a = plain.sample(64)
    np.random.seed(3)
    b = compact.sample(64)
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y)


def test_the_terminated_count_follows_writes_and_overwrites():
    _, compact = _both(3 * SIZE + 2)
    assert compact.n_terminated() == int((compact.dones * (1 - compact.timeouts)).sum())


def test_state_round_trip_and_the_old_whole_next_format():
    plain, compact = _both(3 * SIZE + 2)
    state = compact.state_arrays()
    assert len(state["next_kept"]) == int((state["next_row"] >= 0).sum())  # packed to the live slots
    fresh = CountingReplayBuffer(SIZE * N_ENVS, OBS, ACTS, n_envs=N_ENVS, handle_timeout_termination=True)
    fresh.load_state_arrays({k: v.copy() for k, v in state.items()}, compact.pos, compact.full)
    np.testing.assert_array_equal(fresh.all_next_observations(), plain.next_observations)
    old = CountingReplayBuffer(SIZE * N_ENVS, OBS, ACTS, n_envs=N_ENVS, handle_timeout_termination=True)
    whole = {k: getattr(plain, k).copy() for k in ("observations", "actions", "dones", "timeouts", "next_observations")}
    old.load_state_arrays(whole, plain.pos, plain.full)  # a version-1 checkpoint's arrays
    np.testing.assert_array_equal(old.all_next_observations(), plain.next_observations)
    args = _stream(3 * SIZE + 4)[-1]  # both go on writing alike after a load
    for buf in (plain, fresh, old):
        buf.add(*args)
    np.testing.assert_array_equal(fresh.all_next_observations(), plain.next_observations)
    np.testing.assert_array_equal(old.all_next_observations(), plain.next_observations)


def test_malformed_state_is_refused():
    _, compact = _both(SIZE + 1)
    state = compact.state_arrays()
    fresh = CountingReplayBuffer(SIZE * N_ENVS, OBS, ACTS, n_envs=N_ENVS, handle_timeout_termination=True)
    bad = {**state, "next_row": np.where(state["next_row"] >= 0, 99, -1)}
    with pytest.raises(ValueError, match="next_row points outside"):
        fresh.load_state_arrays(bad, compact.pos, compact.full)
    with pytest.raises(ValueError, match="pos"):
        fresh.load_state_arrays(state, SIZE, True)
    with pytest.raises(ValueError, match="observations"):
        fresh.load_state_arrays({**state, "observations": state["observations"][:2]}, compact.pos, compact.full)
