"""Commit timestamps: int64 nanoseconds, unique per transaction, strictly increasing."""

from __future__ import annotations

import time

NANOS_PER_SECOND = 1_000_000_000


class Clock:
    """Wall time plus a controllable offset, or a frozen start that moves only when advanced.

    ``advance`` lets tests age cursors and snapshots past retention without waiting.
    """

    def __init__(self, frozen_at_ns: int | None = None) -> None:
        self._frozen_at_ns = frozen_at_ns
        self._offset_ns = 0

    def now_ns(self) -> int:
        """The current time in nanoseconds since the epoch, as Convex timestamps count."""
        base = self._frozen_at_ns if self._frozen_at_ns is not None else time.time_ns()
        return base + self._offset_ns

    def advance(self, seconds: float) -> None:
        """Move the clock forward (never back: commit timestamps only increase)."""
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        self._offset_ns += int(seconds * NANOS_PER_SECOND)
