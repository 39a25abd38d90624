"""Convex times as RFC 3339 UTC text: ``_creationTime`` (float ms) and commit ``_ts`` (int ns).

Its own module because both the page decoder (which rewrites ``_creationTime`` in page
bodies) and the value converter need it, and neither should import the other for it.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_SECOND_TEXT: dict[int, str] = {}
_SECOND_TEXT_LIMIT = 4096


def _microseconds_to_text(microseconds: int) -> str:
    """RFC 3339 UTC with microseconds; the date-and-second part is cached, since documents
    written together share it and formatting a datetime costs more than the rest."""
    seconds, fraction = divmod(microseconds, 1_000_000)
    prefix = _SECOND_TEXT.get(seconds)
    if prefix is None:
        if len(_SECOND_TEXT) > _SECOND_TEXT_LIMIT:
            _SECOND_TEXT.clear()
        prefix = (EPOCH + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
        _SECOND_TEXT[seconds] = prefix
    return f"{prefix}.{fraction:06d}+00:00"


def creation_time_to_datetime(milliseconds: float) -> str:
    """Convex ``_creationTime`` (float ms since the epoch) as RFC 3339 UTC, to the µs."""
    return _microseconds_to_text(round(milliseconds * 1000))


def ts_to_datetime(nanoseconds: int) -> str:
    """A commit timestamp (int ns) as RFC 3339 UTC, truncated to microseconds."""
    return _microseconds_to_text(nanoseconds // 1000)
