"""Per-stream bookmarks and their transitions, as pure functions.

A stream's bookmark (under ``bookmarks.<stream>`` in Singer STATE) says where its table is:

* ``phase: "snapshot"``: ``snapshot_ts`` is the pinned snapshot (null before the first page)
  and ``snapshot_cursor`` the ``list_snapshot`` cursor after the last emitted page.
* ``phase: "deltas"``: ``deltas_cursor`` is the last ``document_deltas`` cursor whose page
  was emitted; every change with a larger ``_ts`` is still to come.

``table_version`` is the Singer table version of the stream's latest complete snapshot.
Positions only move forward, and only after the records they cover were written.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from tap_convex.errors import StateError

STATE_FORMAT = 1
SNAPSHOT = "snapshot"
DELTAS = "deltas"
_KEYS = (
    "state_format",
    "component",
    "table",
    "phase",
    "snapshot_ts",
    "snapshot_cursor",
    "deltas_cursor",
    "table_version",
)
_RESET_HINT = "remove this stream's bookmark (or the whole state) to re-sync it from a snapshot"


@dataclass(frozen=True)
class Bookmark:
    component: str
    table: str
    phase: str = SNAPSHOT
    snapshot_ts: int | None = None
    snapshot_cursor: str | None = None
    deltas_cursor: int | None = None
    table_version: int | None = None

    def to_state(self) -> dict[str, Any]:
        return {
            "state_format": STATE_FORMAT,
            "component": self.component,
            "table": self.table,
            "phase": self.phase,
            "snapshot_ts": self.snapshot_ts,
            "snapshot_cursor": self.snapshot_cursor,
            "deltas_cursor": self.deltas_cursor,
            "table_version": self.table_version,
        }


def fresh(component: str, table: str, table_version: int | None = None) -> Bookmark:
    """A stream that has to be snapshotted from scratch."""
    return Bookmark(component, table, table_version=table_version)


def from_state(stream: str, raw: Any, component: str, table: str) -> Bookmark:
    """Read a stream's bookmark; an absent or empty one means "snapshot from scratch"."""
    if raw is None or raw == {} or (isinstance(raw, dict) and not (set(raw) & set(_KEYS))):
        return fresh(component, table)
    if not isinstance(raw, dict):
        raise StateError(f"The state of stream {stream!r} is not an object; {_RESET_HINT}.")
    version = raw.get("state_format")
    if version != STATE_FORMAT:
        raise StateError(
            f"The state of stream {stream!r} has state_format {version!r}, but this tap-convex "
            f"reads state_format {STATE_FORMAT}; upgrade tap-convex or {_RESET_HINT}."
        )
    if (raw.get("component"), raw.get("table")) != (component, table):
        raise StateError(
            f"The state of stream {stream!r} belongs to table {raw.get('component')!r}/"
            f"{raw.get('table')!r}, not {component!r}/{table!r}; {_RESET_HINT}."
        )
    phase = raw.get("phase")
    snapshot_ts, cursor = raw.get("snapshot_ts"), raw.get("snapshot_cursor")
    deltas_cursor, table_version = raw.get("deltas_cursor"), raw.get("table_version")
    valid = (
        _optional_int(snapshot_ts)
        and (cursor is None or isinstance(cursor, str))
        and _optional_int(deltas_cursor)
        and _optional_int(table_version)
        and (
            (phase == SNAPSHOT and (cursor is None or snapshot_ts is not None))
            or (phase == DELTAS and deltas_cursor is not None)
        )
    )
    if not valid:
        raise StateError(
            f"The state of stream {stream!r} is not a valid tap-convex bookmark; {_RESET_HINT}."
        )
    return Bookmark(component, table, phase, snapshot_ts, cursor, deltas_cursor, table_version)


def _optional_int(value: Any) -> bool:
    return value is None or (type(value) is int and value >= 0)


def next_table_version(previous: int | None, snapshot_ts: int) -> int:
    """The snapshot's timestamp (ns), strictly above any earlier version of the stream.

    Nanoseconds, not seconds: a snapshot that restarts without a saved position (its first
    run was killed before any STATE was kept) gets a later timestamp, hence a newer version
    whose ACTIVATE_VERSION retires what the abandoned one emitted, even within one second.
    """
    return snapshot_ts if previous is None else max(previous + 1, snapshot_ts)


def snapshot_pinned(bookmark: Bookmark, snapshot_ts: int, version: int) -> Bookmark:
    """A new walk's snapshot, saved before any of its records go out: a run killed from then
    on resumes this snapshot (from its start) rather than beginning another, whose change
    log would start after deletes that records of this one may already have landed."""
    return snapshot_page_emitted(bookmark, snapshot_ts, None, version)


def snapshot_page_emitted(
    bookmark: Bookmark, snapshot_ts: int, cursor: str | None, version: int
) -> Bookmark:
    return replace(
        bookmark,
        phase=SNAPSHOT,
        snapshot_ts=snapshot_ts,
        snapshot_cursor=cursor,
        deltas_cursor=None,
        table_version=version,
    )


def snapshot_completed(bookmark: Bookmark, snapshot_ts: int, version: int) -> Bookmark:
    """Hand off to deltas: changes after the snapshot timestamp are all that is left."""
    return Bookmark(bookmark.component, bookmark.table, DELTAS, None, None, snapshot_ts, version)


def deltas_page_emitted(bookmark: Bookmark, cursor: int) -> Bookmark:
    current = bookmark.deltas_cursor or 0
    return replace(bookmark, deltas_cursor=max(current, cursor))


def restart_snapshot(bookmark: Bookmark) -> Bookmark:
    """Forget every position but the table version, which must keep growing."""
    return fresh(bookmark.component, bookmark.table, bookmark.table_version)
