"""``transport: data_sync``: the whole sync as one walk of the Data Sync API (beta), one cursor.

The cursor is kept once, next to the bookmarks (``"data_sync": {"cursor": ...}`` in STATE),
and saved after the records of the page it follows; each selected stream's bookmark says it is
followed by that cursor (:class:`~tap_convex.state.FollowingDataSync`), with its table version.

* A truncate (a table entering the sync, newly selected, replaced or cleared) starts a new
  table version for its stream: its records carry it, and once the sync is consistent again
  with the replacement's records out, ACTIVATE_VERSION retires the rows the replacement
  removed. Rows never vanish before their replacement has landed. That moment is the first
  ``upToDate`` page after the truncate: a ``stale`` one may be consistent at a timestamp
  before the replacement (upstream reads a new tablet by id at the cursor's older timestamp,
  where it is still empty, and its rows come on the next ts page).
* Where the server gives no truncate (a cold start or a re-selected table on the first
  backend's API), the tap starts the version itself.
* A stream the saved cursor does not cover (its bookmark was removed to re-sync it, or it was
  not selected when the cursor was issued) starts a new version, and is left out of one
  page's selection, so the server drops it from the cursor, and then reads it again,
  truncated, when it is selected again. The state entry names the streams its cursor covers:
  ``"data_sync": {"cursor": ..., "streams": [...]}``.
* A state from ``streaming_export`` moves over with ``data_sync_cursor_from_deltas`` from its
  change-log position: no re-snapshot.
* The walk ends at the first ``upToDate`` page.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from tap_convex.errors import PositionExpiredError, ProtocolError, StateError, TapConvexError
from tap_convex.state import FollowingDataSync, Streaming

if TYPE_CHECKING:
    from collections.abc import MutableMapping

    from tap_convex.pages import Key
    from tap_convex.sync.tables import SyncedTables

logger = logging.getLogger("tap_convex")

#: The top-level STATE entry that holds the data-sync cursor.
STATE_KEY = "data_sync"


def saved_cursor(state: MutableMapping[str, Any]) -> tuple[str, frozenset[str] | None] | None:
    """The data-sync cursor saved in the tap's state, if any, and the streams it was issued
    for (None: not recorded)."""
    entry = state.get(STATE_KEY)
    if entry is None:
        return None
    cursor = entry.get("cursor") if isinstance(entry, dict) else None
    streams = entry.get("streams") if isinstance(entry, dict) else None
    if (
        not isinstance(cursor, str)
        or not cursor
        or not (
            streams is None or (isinstance(streams, list) and all(type(n) is str for n in streams))
        )
    ):
        raise StateError(
            f"The state's {STATE_KEY!r} entry is not {{'cursor': <data-sync cursor>, "
            "'streams': [...]}; remove it (and the bookmarks) to start the sync over."
        )
    return cursor, None if streams is None else frozenset(streams)


def data_sync_walk(
    tables: SyncedTables, state: MutableMapping[str, Any], *, restart_expired: bool
) -> None:
    """Read the Data Sync API to ``upToDate`` for every selected stream, with one cursor."""
    walk = _Walk(tables, state, restart_expired)
    walk.run()


class _Walk:
    def __init__(
        self, tables: SyncedTables, state: MutableMapping[str, Any], restart_expired: bool
    ) -> None:
        self.tables = tables
        self.state = state
        self.restart_expired = restart_expired
        self.keys = list(tables.streams)
        self.full = tables.selection(self.keys)

    def run(self) -> None:
        tables = self.tables
        cursor, selected = self._start()
        selection = self.full if selected == self.keys else tables.selection(selected)
        pages = records = 0
        tables.progress.start("data sync")
        while True:
            try:
                keep_encoded = tables.keep_encoded(self.keys)  # a drift can change it
                page = tables.client.data_sync(cursor, selection, keep_encoded=keep_encoded)
            except PositionExpiredError as error:
                if cursor is None:
                    raise ProtocolError(
                        f"data/sync answered a cold start with an expired position ({error})."
                    ) from None
                self._expired(error)
                cursor, selected, selection = None, self.keys, self.full
                continue
            if page.cursor == cursor and page.status != "upToDate":
                raise ProtocolError(
                    "data/sync answered the cursor it was sent without being up to date, so "
                    "the sync would never progress; the deployment is not behaving as Convex "
                    "does."
                )
            members = frozenset(selected)
            for key in page.truncates:
                if key in members:
                    self._truncate(key)

            def wanted(key: Key, _ts: int) -> bool:
                return key in members  # noqa: B023 - used within this iteration only

            versions = {key: tables.bookmarks[key].table_version for key in self.keys}
            written = sum(tables.write_page(page.values, wanted, versions).values())
            records += written
            if page.status == "upToDate":
                self._activate(selected)
            cursor = page.cursor
            covered = sorted(tables.streams[key].name for key in selected)
            self.state[STATE_KEY] = {"cursor": cursor, "streams": covered}
            tables.checkpoint(self.keys)
            pages += 1
            tables.progress.page(written)
            if page.status == "upToDate" and selected == self.keys:
                logger.info("Data sync up to date: %d records in %d page(s).", records, pages)
                return
            selected, selection = self.keys, self.full

    def _start(self) -> tuple[str | None, list[Key]]:
        """The cursor to start from, and the streams of the first page's selection."""
        tables = self.tables
        saved = saved_cursor(self.state)
        cursor = None if saved is None else saved[0]
        bookmarks = tables.bookmarks
        if saved is not None:
            covered = saved[1]
            followed = [
                key
                for key in self.keys
                if isinstance(bookmarks[key], FollowingDataSync)
                and (covered is None or tables.streams[key].name in covered)
            ]
            if not followed:
                cursor = None
        else:
            followed = [k for k in self.keys if isinstance(bookmarks[k], Streaming)]
            if followed:
                cursor = self._converted(followed)
                if cursor is None:
                    followed = []
        fresh = [key for key in self.keys if key not in followed]
        for key in followed:
            mark = bookmarks[key]
            if isinstance(mark, Streaming):
                bookmarks[key] = FollowingDataSync(mark.component, mark.table, mark.table_version)
        for key in fresh:
            self._truncate(key)
        if cursor is None:
            logger.info("Data sync of %d table(s) from the start.", len(self.keys))
            return None, self.keys
        if fresh and saved is not None:
            # These tables may still be tracked by the cursor: one page without them drops
            # them from it, and the next selects them again, so the server re-reads them.
            logger.info("Re-syncing %s through the data-sync cursor.", tables.names(fresh))
            return cursor, followed
        return cursor, self.keys

    def _converted(self, followed: list[Key]) -> str | None:
        """The change-log position of a ``streaming_export`` state as a data-sync cursor."""
        tables = self.tables
        position = min(
            mark.cursor for key in followed if isinstance(mark := tables.bookmarks[key], Streaming)
        )
        try:
            cursor = tables.client.data_sync_cursor_from_deltas(
                position, tables.selection(followed)
            )
        except PositionExpiredError as error:
            self._expired(error)
            return None
        logger.info(
            "Moving %s from streaming_export to data_sync at change-log position %d (no "
            "re-snapshot).",
            tables.names(followed),
            position,
        )
        return cursor

    def _expired(self, error: PositionExpiredError) -> None:
        """Restart the sync from scratch, loudly; or stop, if so configured."""
        if not self.restart_expired:
            raise TapConvexError(
                f"The saved data-sync position has expired ({error}). Remove the state to "
                "start the sync over, or set on_expired_position to resnapshot."
            )
        logger.warning(
            "RE-SYNC: the saved data-sync position has expired (%s); restarting the sync of "
            "%s from scratch. Their ACTIVATE_VERSION will retire rows that no longer exist.",
            error.code,
            self.tables.names(self.keys),
        )
        self.state.pop(STATE_KEY, None)
        for key in self.keys:
            self._truncate(key)

    def _truncate(self, key: Key) -> None:
        mark = self.tables.bookmarks[key]
        if not isinstance(mark, FollowingDataSync):
            mark = FollowingDataSync(mark.component, mark.table, mark.table_version)
        self.tables.bookmarks[key] = mark.truncated(time.time_ns())

    def _activate(self, selected: list[Key]) -> None:
        """The sync is read to its end: activate the versions that began with a truncate."""
        for key in selected:
            mark = self.tables.bookmarks[key]
            if isinstance(mark, FollowingDataSync) and mark.activation_pending:
                if mark.table_version is not None:
                    self.tables.streams[key].activate_version(mark.table_version)
                self.tables.bookmarks[key] = mark.activated()
