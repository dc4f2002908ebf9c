"""The off-policy learners' replay buffer: SB3's, with each observation stored once and a running count
of terminated rows.

SB3's plain ``ReplayBuffer`` keeps every next observation and the time-limit flag, so a truncated row is
bootstrapped from its real final observation; the price is memory (pixel replay held each frame stack
twice: 4.2 GB for 75k Atari stacks). SB3's memory-optimised variant stores each frame once but reads a
row's next observation from the row after it, which at an episode end is the next episode's reset frame
(SB3 refuses it with timeout handling, DLR-RM/stable-baselines3#934). :class:`CountingReplayBuffer` keeps
the plain buffer's semantics at the optimised buffer's memory: a row's next observation is the following
row's observation wherever the two were equal when written, and is kept apart (a small side table)
wherever they were not: episode ends, and a rollout cut by a reset (a resumed run). Nothing is inferred
from ``dones``: equality is checked on the arrays themselves. It also keeps the count SQIL's absorbing
reward and DAC's absorbing share read on every update.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

STATE_KEYS = ("observations", "actions", "dones", "timeouts", "next_kept", "next_row", "pending_next")
"""The arrays a checkpoint stores (with ``pos`` and ``full``); see :meth:`CountingReplayBuffer.state_arrays`."""


class CountingReplayBuffer(ReplayBuffer):
    """SB3's replay buffer with the plain buffer's next observations at half its memory, and a running
    count of its *terminated* rows: ended episodes that were not time-limit truncations.

    Next observations: ``next_row[r, e]`` is -1 where row ``r`` of env ``e`` continues into row ``r + 1``,
    else the index of its next observation in ``next_kept`` (grown as needed, slots reused once their row
    is overwritten); the newest row's next observations wait in ``pending_next`` until the next write.

    SQIL's absorbing-state reward needs the learner's share of terminations on every update; the count
    is updated as rows are written and overwritten, so reading it costs nothing (a scan of the buffer
    did, twice per update). Where the arrays were replaced (a checkpoint load sets ``dones`` and
    ``timeouts``), the next read counts them afresh.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.optimize_memory_usage:
            raise ValueError("CountingReplayBuffer: optimize_memory_usage is not needed (each frame is stored once)")
        self.next_observations = None  # never filled (numpy's zeros were not yet resident): next_obs() reads rows
        self.next_row = np.full((self.buffer_size, self.n_envs), -1, dtype=np.int64)
        self.next_kept = np.zeros((0, *self.obs_shape), dtype=self.observations.dtype)
        self.pending_next = np.zeros((0, *self.obs_shape), dtype=self.observations.dtype)  # (n_envs, ...) once written
        self._free: list[int] = []
        self._count, self._counted = 0, (None, None)

    # ------------------------------------------------------------------ counts
    def terminated(self, rows: np.ndarray | slice) -> np.ndarray:
        """1.0 where a stored transition ended its episode by termination (not a timeout), per env."""
        return self.dones[rows] * (1.0 - self.timeouts[rows])

    def n_rows(self) -> int:
        """Rows written so far, per env (the whole buffer once it wrapped)."""
        return self.buffer_size if self.full else self.pos

    def n_terminated(self) -> int:
        """Terminated transitions stored now (all envs)."""
        if self._counted[0] is not self.dones or self._counted[1] is not self.timeouts:
            self._count = int(self.terminated(slice(0, self.n_rows())).sum())
            self._counted = (self.dones, self.timeouts)
        return self._count

    # ------------------------------------------------------------------ writing
    def _keep(self, obs: np.ndarray) -> int:
        """Store one next observation in the side table; its slot."""
        if not self._free:
            old = len(self.next_kept)
            grown = np.zeros((max(2 * old, 16), *self.obs_shape), dtype=self.next_kept.dtype)
            grown[:old] = self.next_kept
            self.next_kept = grown
            self._free = list(range(len(grown) - 1, old - 1, -1))
        slot = self._free.pop()
        self.next_kept[slot] = obs
        return slot

    def add(
        self,
        obs: np.ndarray,
        next_obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        """SB3's ``add`` (same arguments and reshapes), storing ``next_obs`` only where the next row will not
        show it, and keeping the terminated count."""
        shape = (self.n_envs, *self.obs_shape)
        if isinstance(self.observation_space, spaces.Discrete):
            obs, next_obs = obs.reshape(shape), next_obs.reshape(shape)
        obs = np.asarray(obs, dtype=self.observations.dtype)
        row, count = self.pos, self.n_terminated()
        if len(self.pending_next):  # the previous row's next observation: the one this row starts from?
            prev = (row - 1) % self.buffer_size
            differs = (obs.reshape(self.n_envs, -1) != self.pending_next.reshape(self.n_envs, -1)).any(axis=1)
            for env in np.flatnonzero(differs):
                self.next_row[prev, env] = self._keep(self.pending_next[env])
        if self.full:
            count -= int(self.terminated(row).sum())
        for env in np.flatnonzero(self.next_row[row] >= 0):  # the overwritten row's kept observations
            self._free.append(int(self.next_row[row, env]))
        self.next_row[row] = -1
        self.observations[row] = obs
        self.pending_next = np.array(next_obs, dtype=self.observations.dtype).reshape(shape)
        self.actions[row] = np.array(action).reshape((self.n_envs, self.action_dim))
        self.rewards[row] = np.array(reward)
        self.dones[row] = np.array(done)
        if self.handle_timeout_termination:
            self.timeouts[row] = np.array([info.get("TimeLimit.truncated", False) for info in infos])
        self.pos = (row + 1) % self.buffer_size
        self.full = self.full or self.pos == 0
        self._count = count + int(self.terminated(row).sum())

    def reset(self) -> None:
        super().reset()
        self.next_row[:] = -1
        self.pending_next = self.pending_next[:0]
        self._free = list(range(len(self.next_kept) - 1, -1, -1))
        self._count, self._counted = 0, (self.dones, self.timeouts)

    # ------------------------------------------------------------------ reading
    def next_obs(self, rows: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """The next observations of rows ``rows`` of envs ``envs`` (equal-length index arrays), as SB3's plain
        buffer would have stored them."""
        rows, envs = np.asarray(rows), np.asarray(envs)
        out = self.observations[(rows + 1) % self.buffer_size, envs]
        kept = self.next_row[rows, envs]
        where = np.flatnonzero(kept >= 0)
        if len(where):
            out[where] = self.next_kept[kept[where]]
        newest = np.flatnonzero(rows == (self.pos - 1) % self.buffer_size)
        if len(newest):
            out[newest] = self.pending_next[envs[newest]]
        return out

    def all_next_observations(self) -> np.ndarray:
        """Every written row's next observations, ``(rows, n_envs, ...)`` (tests and inspection)."""
        rows = np.repeat(np.arange(self.n_rows()), self.n_envs)
        envs = np.tile(np.arange(self.n_envs), self.n_rows())
        return self.next_obs(rows, envs).reshape(self.n_rows(), self.n_envs, *self.obs_shape)

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> ReplayBufferSamples:
        """SB3's sampling (what DQN's and SAC's own ``train`` read), next observations from :meth:`next_obs`."""
        env_indices = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        data = (
            self._normalize_obs(self.observations[batch_inds, env_indices, :], env),
            self.actions[batch_inds, env_indices, :],
            self._normalize_obs(self.next_obs(batch_inds, env_indices), env),
            self.terminated((batch_inds, env_indices)).reshape(-1, 1),
            self._normalize_reward(self.rewards[batch_inds, env_indices].reshape(-1, 1), env),
        )
        return ReplayBufferSamples(*tuple(map(self.to_torch, data)))

    # ------------------------------------------------------------------ checkpoints
    def state_arrays(self) -> dict[str, np.ndarray]:
        """What a checkpoint stores: the arrays of :data:`STATE_KEYS`, the side table packed to its live slots."""
        live = np.flatnonzero(self.next_row.ravel() >= 0)
        next_row = np.full(self.next_row.size, -1, dtype=np.int64)
        next_row[live] = np.arange(len(live))
        kept = self.next_kept[self.next_row.ravel()[live]]
        return {
            "observations": self.observations,
            "actions": self.actions,
            "dones": self.dones,
            "timeouts": self.timeouts,
            "next_kept": kept,
            "next_row": next_row.reshape(self.next_row.shape),
            "pending_next": self.pending_next,
        }

    def load_state_arrays(self, arrays: dict[str, Any], pos: int, full: bool) -> None:
        """Restore :meth:`state_arrays`; a checkpoint written before the side table (``next_observations``
        stored whole) is converted. Shapes, dtypes and indices are checked (``ValueError``)."""
        for key in ("observations", "actions", "dones", "timeouts"):
            value, have = np.asarray(arrays[key]), getattr(self, key)
            if value.shape != have.shape or value.dtype != have.dtype:
                raise ValueError(f"replay {key} is {value.dtype}{value.shape}, expected {have.dtype}{have.shape}")
            setattr(self, key, value)
        if not 0 <= pos < self.buffer_size:
            raise ValueError(f"replay pos {pos} is past the buffer's {self.buffer_size} rows (or negative)")
        self.pos, self.full = pos, full
        if "next_observations" in arrays:
            self._from_whole_next(np.asarray(arrays["next_observations"]))
            return
        next_row, kept = np.asarray(arrays["next_row"]), np.asarray(arrays["next_kept"])
        pending = np.asarray(arrays["pending_next"])
        if next_row.shape != self.next_row.shape or next_row.dtype != np.int64:
            raise ValueError(
                f"replay next_row is {next_row.dtype}{next_row.shape}, expected int64{self.next_row.shape}"
            )
        if kept.shape[1:] != self.obs_shape or kept.dtype != self.observations.dtype:
            raise ValueError(f"replay next_kept is {kept.dtype}{kept.shape}, expected rows of {self.obs_shape}")
        if ((next_row < -1) | (next_row >= len(kept))).any():
            raise ValueError(f"replay next_row points outside next_kept's {len(kept)} rows")
        if pending.shape not in ((0, *self.obs_shape), (self.n_envs, *self.obs_shape)) or (len(pending) == 0) != (
            self.n_rows() == 0
        ):
            raise ValueError(f"replay pending_next is {pending.shape}, expected ({self.n_envs}, {self.obs_shape})")
        self.next_row, self.next_kept = next_row.copy(), kept.astype(self.observations.dtype)
        used = set(next_row[next_row >= 0].tolist())
        self._free = [slot for slot in range(len(kept) - 1, -1, -1) if slot not in used]
        self.pending_next = pending.astype(self.observations.dtype)

    def _from_whole_next(self, whole: np.ndarray) -> None:
        expected = (self.buffer_size, self.n_envs, *self.obs_shape)
        if whole.shape != expected or whole.dtype != self.observations.dtype:
            raise ValueError(f"replay next_observations is {whole.dtype}{whole.shape}, expected {expected}")
        self.next_row[:] = -1
        self.next_kept, self._free = self.next_kept[:0], []
        self.pending_next = self.pending_next[:0]
        if self.n_rows() == 0:
            return
        newest = (self.pos - 1) % self.buffer_size
        self.pending_next = whole[newest].copy()
        for row in range(self.n_rows()):
            if row == newest:
                continue
            following = self.observations[(row + 1) % self.buffer_size].reshape(self.n_envs, -1)
            differs = (whole[row].reshape(self.n_envs, -1) != following).any(axis=1)
            for env in np.flatnonzero(differs):
                self.next_row[row, env] = self._keep(whole[row, env])
