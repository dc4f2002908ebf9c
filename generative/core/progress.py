"""A progress line at least every ``every_s`` seconds on long phases (training, metric classifiers).

Plain lines on stderr rather than a redrawn bar: they read the same in a terminal, a log file and
a CI transcript, and stdout stays free for the commands' results (JSON rows, metrics tables).
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Heartbeat:
    """``beat(done)`` prints ``label: done/total (elapsed, about N s left)`` when ``every_s`` has passed.

    ``enabled=False`` (``--quiet``) prints nothing. The first line comes ``every_s`` after the
    start, so phases shorter than that stay silent.
    """

    clock = staticmethod(time.monotonic)  # a class attribute, so tests can run time faster

    def __init__(
        self, label: str, total: int, *, every_s: float = 10.0, enabled: bool = True, stream: TextIO | None = None
    ) -> None:
        self.label, self.total, self.every_s, self.enabled = label, total, every_s, enabled
        self.stream = stream
        self.start = self.last = self.clock()
        self.start_done: int | None = None

    def beat(self, done: int, note: str = "") -> None:
        """Report ``done`` of ``total`` if the interval has passed (cheap to call every step)."""
        if self.start_done is None:
            self.start_done = done - 1  # a resumed run's rate counts from where it resumed
        now = self.clock()
        if not self.enabled or now - self.last < self.every_s:
            return
        self.last = now
        elapsed = now - self.start
        rate = (done - self.start_done) / elapsed if elapsed > 0 else 0.0
        left = f", about {(self.total - done) / rate:.0f}s left" if rate > 0 and self.total >= done else ""
        extra = f"; {note}" if note else ""
        print(f"{self.label}: {done}/{self.total} ({elapsed:.0f}s{left}){extra}", file=self.stream or sys.stderr)
        (self.stream or sys.stderr).flush()
