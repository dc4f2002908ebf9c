"""Replay buffers: SB3's memory-optimised one with real next observations at episode ends (DAC), and
SB3's plain one with a running count of terminated rows (SQIL, IQ-Learn: :class:`CountingReplayBuffer`).

SB3's ``ReplayBuffer(optimize_memory_usage=True)`` stores each observation once: row ``i + 1``
of ``observations`` is row ``i``'s next observation. At an episode end that row is written twice:
first with the episode's last observation (``infos["terminal_observation"]``, which SB3's
off-policy loop hands to ``add`` as ``next_obs``), then, one step later, with the next episode's
reset observation, which wins. A time-limit truncation bootstrapped from that row would be valued
from the reset frame, and a discriminator reading next observations would see reset frames for
learner rows where expert rows show real ones. SB3 therefore refuses
``optimize_memory_usage`` together with ``handle_timeout_termination``.

:class:`TerminationReplayBuffer` keeps both: the last observation of every ended row goes to a
second, small array (``final_observations``, a FIFO ring that grows when needed: rows are
overwritten in the order they were written, so their final observations die in that order too),
and :meth:`TerminationReplayBuffer.next_obs` reads it for ended rows. Frames stay in the buffer's
dtype (uint8 for Atari); each frame is stored once, except the last frame of an episode, which is
stored in both arrays for the one step until the reset frame replaces it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import VecNormalize

INITIAL_FINAL_SLOTS = 16
"""Starting capacity of the final-observation ring (it doubles when full)."""


class TerminationReplayBuffer(ReplayBuffer):
    """Memory-optimised replay that records time-limit truncations and each ended row's real last observation.

    Takes SB3's ``ReplayBuffer`` arguments; ``optimize_memory_usage`` and ``handle_timeout_termination``
    are always on. ``final_slot[row, env]`` is the ring slot of that row's last observation (-1: the
    episode goes on, the next observation is row ``row + 1``); ``final_head`` is the oldest live slot and
    ``final_count`` the number of live slots.
    """

    def __init__(self, *args: Any, handle_timeout_termination: bool = True, **kwargs: Any) -> None:
        kwargs["optimize_memory_usage"] = True
        super().__init__(*args, handle_timeout_termination=False, **kwargs)  # SB3 refuses both together
        self.handle_timeout_termination = True
        self.timeouts = np.zeros((self.buffer_size, self.n_envs), dtype=np.float32)
        self._clear_finals()

    def _clear_finals(self) -> None:
        self.final_slot = np.full((self.buffer_size, self.n_envs), -1, dtype=np.int64)
        self.final_observations = np.zeros((INITIAL_FINAL_SLOTS, *self.obs_shape), dtype=self.observations.dtype)
        self.final_head = 0
        self.final_count = 0

    def reset(self) -> None:
        super().reset()
        self._clear_finals()

    def add(
        self,
        obs: np.ndarray,
        next_obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        """SB3's ``add``, plus the last observation of every env whose episode ended at this row."""
        overwritten = int((self.final_slot[self.pos] >= 0).sum())  # the oldest live slots: free them
        self.final_head = (self.final_head + overwritten) % len(self.final_observations)
        self.final_count -= overwritten
        self.final_slot[self.pos] = -1
        ended = np.flatnonzero(np.asarray(done).reshape(self.n_envs))
        if len(ended):
            self._reserve(len(ended))
            cap = len(self.final_observations)
            slots = (self.final_head + self.final_count + np.arange(len(ended))) % cap
            self.final_observations[slots] = np.asarray(next_obs).reshape((self.n_envs, *self.obs_shape))[ended]
            self.final_slot[self.pos, ended] = slots
            self.final_count += len(ended)
        super().add(obs, next_obs, action, reward, done, infos)

    def _reserve(self, n: int) -> None:
        """Grow the ring (oldest slot first, at 0) until ``n`` more slots fit."""
        cap = len(self.final_observations)
        if self.final_count + n <= cap:
            return
        new_cap = max(2 * cap, self.final_count + n)
        order = (self.final_head + np.arange(self.final_count)) % cap
        grown = np.zeros((new_cap, *self.obs_shape), dtype=self.final_observations.dtype)
        grown[: self.final_count] = self.final_observations[order]
        live = self.final_slot >= 0
        self.final_slot[live] = (self.final_slot[live] - self.final_head) % cap
        self.final_observations, self.final_head = grown, 0

    def next_obs(self, rows: np.ndarray, envs: np.ndarray) -> np.ndarray:
        """The next observation of each ``(rows[i], envs[i])`` transition: the episode's real last
        observation where it ended there, else the observation stored one row later."""
        nxt = self.observations[(rows + 1) % self.buffer_size, envs]
        slots = self.final_slot[rows, envs]
        ended = slots >= 0
        if ended.any():
            nxt[ended] = self.final_observations[slots[ended]]
        return nxt

    def _get_samples(self, batch_inds: np.ndarray, env: VecNormalize | None = None) -> ReplayBufferSamples:
        """SB3's ``sample`` path with :meth:`next_obs` and bootstrapped truncations (timeouts are not dones)."""
        envs = np.random.randint(0, high=self.n_envs, size=(len(batch_inds),))
        data = (
            self._normalize_obs(self.observations[batch_inds, envs, :], env),
            self.actions[batch_inds, envs, :],
            self._normalize_obs(self.next_obs(batch_inds, envs), env),
            (self.dones[batch_inds, envs] * (1 - self.timeouts[batch_inds, envs])).reshape(-1, 1),
            self._normalize_reward(self.rewards[batch_inds, envs].reshape(-1, 1), env),
        )
        return ReplayBufferSamples(*tuple(map(self.to_torch, data)))

    def check_finals(self) -> None:
        """Raise ``ValueError`` unless the final-observation fields are consistent (checkpoints call it)."""
        cap = len(self.final_observations)
        slots = self.final_slot[self.final_slot >= 0]
        if self.final_slot.shape != (self.buffer_size, self.n_envs) or (self.final_slot < -1).any():
            raise ValueError(f"replay final_slot must be {(self.buffer_size, self.n_envs)} slots >= -1")
        if not 0 <= self.final_head < cap or len(slots) != self.final_count or (slots >= cap).any():
            raise ValueError(f"replay final slots do not fit the {cap}-slot ring (head {self.final_head})")
        if len(np.unique(slots)) != len(slots):
            raise ValueError("replay final_slot names a slot twice")
        if (self.final_slot[(self.dones == 0)] >= 0).any() or (self.final_slot[self.dones != 0] < 0).any():
            raise ValueError("replay final_slot disagrees with dones")


class CountingReplayBuffer(ReplayBuffer):
    """SB3's plain replay buffer (every next observation kept, time-limit truncations recorded) that keeps
    a running count of its *terminated* rows: ended episodes that were not time-limit truncations.

    SQIL's absorbing-state reward needs the learner's share of terminations on every update; the count
    is updated as rows are written and overwritten, so reading it costs nothing (a scan of the buffer
    did, twice per update). Where the arrays were replaced (a checkpoint load sets ``dones`` and
    ``timeouts``), the next read counts them afresh.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._count, self._counted = 0, (None, None)

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

    def add(
        self,
        obs: np.ndarray,
        next_obs: np.ndarray,
        action: np.ndarray,
        reward: np.ndarray,
        done: np.ndarray,
        infos: list[dict[str, Any]],
    ) -> None:
        """SB3's ``add``, with the overwritten row's terminations taken off the count and the new row's added."""
        row, count = self.pos, self.n_terminated()
        if self.full:
            count -= int(self.terminated(row).sum())
        super().add(obs, next_obs, action, reward, done, infos)
        self._count = count + int(self.terminated(row).sum())

    def reset(self) -> None:
        super().reset()
        self._count, self._counted = 0, (self.dones, self.timeouts)
