"""Per-stream bookmarks as types, and their transitions as pure functions.

A stream's table is in one of two phases, each a frozen type (Debezium's snapshot and
streaming stages):

* :class:`Snapshotting`: the table is being read from ``list_snapshot``. ``snapshot_ts`` is
  the pinned snapshot (None until the walk's first answer) and ``cursor`` the
  ``list_snapshot`` cursor after the last emitted page (None: from the start).
* :class:`Streaming`: the table follows ``document_deltas``. ``cursor`` is the last change-log
  position whose page was emitted; every change with a larger ``_ts`` is still to come.
* :class:`FollowingDataSync` (``transport: data_sync``): the table is followed by the one
  data-sync cursor kept next to the bookmarks (``"data_sync": {"cursor": ...}``);
  ``activation_pending`` says its ``table_version`` started with a truncate and is activated
  once the sync is consistent again.

``table_version`` is the Singer table version of the stream's latest snapshot. Positions
only move forward, and only after the records they cover were written. In Singer STATE a
bookmark is the flat ``state_format: 1`` object the README documents (written since 0.1.0).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

from tap_convex.errors import StateError

STATE_FORMAT = 1
_SNAPSHOT = "snapshot"
_DELTAS = "deltas"
_DATA_SYNC = "data_sync"
_KEYS = frozenset(
    {
        "state_format",
        "component",
        "table",
        "phase",
        "snapshot_ts",
        "snapshot_cursor",
        "deltas_cursor",
        "table_version",
        "activation_pending",
    }
)
_RESET_HINT = "remove this stream's bookmark (or the whole state) to re-sync it from a snapshot"


@dataclass(frozen=True, slots=True)
class Snapshotting:
    """A table read from a snapshot; ``cursor`` exists only within a pinned snapshot."""

    component: str
    table: str
    snapshot_ts: int | None = None
    cursor: str | None = None
    table_version: int | None = None

    def __post_init__(self) -> None:
        if self.cursor is not None and self.snapshot_ts is None:
            raise ValueError("a snapshot cursor belongs to a pinned snapshot")
        if self.snapshot_ts is not None and self.table_version is None:
            raise ValueError("a pinned snapshot carries its table version")

    @property
    def position(self) -> tuple[int | None, str | None]:
        """Where the walk resumes: tables at one position share one walk."""
        return self.snapshot_ts, self.cursor

    def pinned(self, snapshot_ts: int) -> Snapshotting:
        """A new walk's snapshot, saved before any of its records go out: a run killed from
        then on resumes this snapshot (from its start) rather than beginning another, whose
        change log would start after deletes that records of this one may already have
        landed. Its version is above every earlier one of the stream."""
        version = next_table_version(self.table_version, snapshot_ts)
        return Snapshotting(self.component, self.table, snapshot_ts, None, version)

    def page_emitted(self, cursor: str) -> Snapshotting:
        """The records up to ``cursor`` are out."""
        return Snapshotting(
            self.component, self.table, self.snapshot_ts, cursor, self.table_version
        )

    def completed(self) -> Streaming:
        """Hand off to the change log: changes after the snapshot are all that is left."""
        if self.snapshot_ts is None or self.table_version is None:
            raise ValueError("only a pinned snapshot can complete")
        return Streaming(self.component, self.table, self.snapshot_ts, self.table_version)

    def restarted(self) -> Snapshotting:
        """Start over from a new snapshot, keeping the version, which must keep growing."""
        return Snapshotting(self.component, self.table, table_version=self.table_version)

    def to_state(self) -> dict[str, Any]:
        """The bookmark as written in Singer STATE."""
        return _state(self, _SNAPSHOT, self.snapshot_ts, self.cursor, None)


@dataclass(frozen=True, slots=True)
class Streaming:
    """A table following the change log from ``cursor`` on."""

    component: str
    table: str
    cursor: int
    table_version: int | None = None

    def page_emitted(self, cursor: int) -> Streaming:
        """The change log is out up to ``cursor``; a position never moves back."""
        return Streaming(self.component, self.table, max(self.cursor, cursor), self.table_version)

    def restarted(self) -> Snapshotting:
        """Re-snapshot: forget the position but keep the version, which must keep growing."""
        return Snapshotting(self.component, self.table, table_version=self.table_version)

    def to_state(self) -> dict[str, Any]:
        """The bookmark as written in Singer STATE."""
        return _state(self, _DELTAS, None, None, self.cursor)


@dataclass(frozen=True, slots=True)
class FollowingDataSync:
    """A table followed by the sync's data-sync cursor (kept once, next to the bookmarks).

    ``activation_pending``: ``table_version`` began with a truncate (or a fresh start), and
    its ACTIVATE_VERSION is still to come, once the sync is consistent again.
    """

    component: str
    table: str
    table_version: int | None = None
    activation_pending: bool = False

    def truncated(self, now_ns: int) -> FollowingDataSync:
        """The table starts over: a new version, above every earlier one, to activate later."""
        version = next_table_version(self.table_version, now_ns)
        return FollowingDataSync(self.component, self.table, version, activation_pending=True)

    def activated(self) -> FollowingDataSync:
        """The version's ACTIVATE_VERSION is out."""
        return FollowingDataSync(self.component, self.table, self.table_version)

    def restarted(self) -> Snapshotting:
        """Re-snapshot (back on streaming export), keeping the version, which must grow."""
        return Snapshotting(self.component, self.table, table_version=self.table_version)

    def to_state(self) -> dict[str, Any]:
        """The bookmark as written in Singer STATE."""
        state = _state(self, _DATA_SYNC, None, None, None)
        state["activation_pending"] = self.activation_pending
        return state


Bookmark: TypeAlias = Snapshotting | Streaming | FollowingDataSync


def next_table_version(previous: int | None, snapshot_ts: int) -> int:
    """The snapshot's timestamp (ns), strictly above any earlier version of the stream.

    Nanoseconds, not seconds: a snapshot that restarts without a saved position (its first
    run was killed before any STATE was kept) gets a later timestamp, hence a newer version
    whose ACTIVATE_VERSION retires what the abandoned one emitted, even within one second.
    """
    return snapshot_ts if previous is None else max(previous + 1, snapshot_ts)


def _state(
    bookmark: Bookmark,
    phase: str,
    snapshot_ts: int | None,
    snapshot_cursor: str | None,
    deltas_cursor: int | None,
) -> dict[str, Any]:
    return {
        "state_format": STATE_FORMAT,
        "component": bookmark.component,
        "table": bookmark.table,
        "phase": phase,
        "snapshot_ts": snapshot_ts,
        "snapshot_cursor": snapshot_cursor,
        "deltas_cursor": deltas_cursor,
        "table_version": bookmark.table_version,
    }


def from_state(stream: str, raw: object, component: str, table: str) -> Bookmark:
    """Read a stream's bookmark; an absent or empty one means "snapshot from scratch"."""
    if raw is None or (isinstance(raw, dict) and not set(raw) & _KEYS):
        return Snapshotting(component, table)
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
    bookmark = _bookmark(raw, component, table)
    if bookmark is None:
        raise StateError(
            f"The state of stream {stream!r} is not a valid tap-convex bookmark; {_RESET_HINT}."
        )
    return bookmark


def _bookmark(raw: dict[str, Any], component: str, table: str) -> Bookmark | None:
    """The bookmark a well-formed state object describes, or None."""
    phase = raw.get("phase")
    snapshot_ts, cursor = raw.get("snapshot_ts"), raw.get("snapshot_cursor")
    deltas_cursor, version = raw.get("deltas_cursor"), raw.get("table_version")
    if not all(_optional_position(v) for v in (snapshot_ts, deltas_cursor, version)):
        return None
    if phase == _DELTAS and deltas_cursor is not None:
        return Streaming(component, table, deltas_cursor, version)
    if phase == _DATA_SYNC:
        return _following(raw, component, table, version)
    if phase != _SNAPSHOT or not (cursor is None or isinstance(cursor, str)):
        return None
    if snapshot_ts is None:
        return None if cursor is not None else Snapshotting(component, table, None, None, version)
    if version is None:  # pinned before versions were saved with it: derive the same one
        version = snapshot_ts
    return Snapshotting(component, table, snapshot_ts, cursor, version)


def _following(
    raw: dict[str, Any], component: str, table: str, version: int | None
) -> FollowingDataSync | None:
    pending = raw.get("activation_pending", False)
    if type(pending) is not bool:
        return None
    return FollowingDataSync(component, table, version, activation_pending=pending)


def _optional_position(value: object) -> bool:
    return value is None or (type(value) is int and value >= 0)
