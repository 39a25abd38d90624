"""A heartbeat for long walks: at most one INFO line every ``progress_interval_seconds``.

A snapshot of 100 million documents takes hours; the line says which phase runs, how many
records it has written, how fast, which table it reads, and for the change log how far
behind the local clock its position is (Convex positions are commit times in ns).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger("tap_convex")
NANOS_PER_SECOND = 1_000_000_000
_MINUTE = 60
_HOUR = 3600


class Progress:
    """Counts a walk's records and logs them now and then; ``interval_seconds`` 0 is silent."""

    def __init__(
        self,
        interval_seconds: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ns: Callable[[], int] = time.time_ns,
    ) -> None:
        self._interval = interval_seconds
        self._monotonic = monotonic
        self._wall_ns = wall_ns
        self._phase = ""
        self._records = 0
        self._started = self._last_line = 0.0

    def start(self, phase: str) -> None:
        """A walk begins: count from zero, and wait a whole interval before the first line."""
        self._phase = phase
        self._records = 0
        self._started = self._last_line = self._monotonic()

    def page(
        self, records: int, *, table: str | None = None, position_ns: int | None = None
    ) -> None:
        """A page's records are out; log a line if the interval has passed."""
        self._records += records
        if self._interval <= 0:
            return
        now = self._monotonic()
        if now - self._last_line < self._interval:
            return
        self._last_line = now
        rate = self._records / max(now - self._started, 1e-9)
        where = f" reading {table}," if table else ""
        behind = ""
        if position_ns is not None:
            lag = max(0, self._wall_ns() - position_ns) / NANOS_PER_SECOND
            behind = f", {_duration(lag)} behind the deployment's clock"
        logger.info(
            "Progress: %s,%s %d records so far, %.0f records/s%s.",
            self._phase,
            where,
            self._records,
            rate,
            behind,
        )


def _duration(seconds: float) -> str:
    """``2 h 03 min``, ``4 min 05 s`` or ``12.3 s``: short enough to scan in a log."""
    if seconds >= _HOUR:
        hours, rest = divmod(int(seconds), _HOUR)
        return f"{hours} h {rest // _MINUTE:02d} min"
    if seconds >= _MINUTE:
        minutes, rest = divmod(int(seconds), _MINUTE)
        return f"{minutes} min {rest:02d} s"
    return f"{seconds:.1f} s"
