"""The off-policy learners' replay buffer: SB3's plain one with a running count of terminated rows.

SB3's plain ``ReplayBuffer`` keeps every next observation and the time-limit flag, so a truncated row is
bootstrapped from its real final observation (the memory-optimised buffer stores each frame once, and
the row after an episode end is overwritten by the next episode's reset frame; SB3 refuses it with
timeout handling). The price is memory: pixel replay holds each frame twice (4.2 GB for 75k Atari
stacks). :class:`CountingReplayBuffer` adds the count SQIL's absorbing reward and DAC's absorbing share
read on every update.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.buffers import ReplayBuffer


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
