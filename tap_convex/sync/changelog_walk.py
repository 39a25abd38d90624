"""One ``document_deltas`` walk for every selected table, from the oldest saved position.

Cost does not grow with the number of tables: the change log is read once, with one exact
selection. A change is emitted for a table only past that table's own position (a table
snapshotted later already holds the earlier ones). A table whose position expired is
re-snapshotted (or the sync stops, as configured) and the walk goes on.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tap_convex.errors import PositionExpiredError, ProtocolError
from tap_convex.state import Streaming

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_convex.pages import Key
    from tap_convex.sync.tables import SyncedTables

logger = logging.getLogger("tap_convex")


def changelog_walk(
    tables: SyncedTables, resnapshot: Callable[[list[Key]], dict[Key, Streaming]]
) -> None:
    """Read the change log to its end; ``resnapshot`` snapshots tables whose position expired."""
    keys = list(tables.streams)
    selection = tables.selection(keys)
    keep_encoded = tables.keep_encoded(keys)
    positions = {key: _streaming(tables, key).cursor for key in keys}

    def wanted(key: Key, ts: int) -> bool:
        position = positions.get(key)  # None: a table the selection did not ask for
        return position is not None and ts > position

    cursor = min(positions.values())
    pages = records = 0
    tables.progress.start("change log")
    while True:
        try:
            page = tables.client.document_deltas(cursor, selection, keep_encoded=keep_encoded)
        except PositionExpiredError as error:
            expired = [key for key in keys if positions[key] <= cursor]
            tables.restart_expired(expired, error)
            tables.bookmarks.update(resnapshot(expired))
            tables.checkpoint(expired)
            positions = {key: _streaming(tables, key).cursor for key in keys}
            cursor = min(positions.values())
            continue
        if page.cursor < cursor:
            raise ProtocolError(
                f"document_deltas moved the cursor backwards, from {cursor} to {page.cursor}."
            )
        versions = {key: tables.bookmarks[key].table_version for key in keys}
        written = sum(tables.write_page(page.values, wanted, versions).values())
        records += written
        cursor = page.cursor
        for key in keys:
            tables.bookmarks[key] = _streaming(tables, key).page_emitted(cursor)
            positions[key] = max(positions[key], cursor)
        tables.checkpoint(keys)
        pages += 1
        tables.progress.page(written, position_ns=cursor)
        if not page.has_more:
            logger.info("Change log read to %d: %d records in %d page(s).", cursor, records, pages)
            return


def _streaming(tables: SyncedTables, key: Key) -> Streaming:
    bookmark = tables.bookmarks[key]
    if not isinstance(bookmark, Streaming):
        raise TypeError(f"{tables.streams[key].name} is not following the change log")
    return bookmark
