"""The sync's order of stages: schemas, snapshot walks, then the one change-log walk.

Streams of an interrupted snapshot resume it first, streams without a position are then
snapshotted together in one walk, and finally the change log is read once for all of them
(re-snapshotting any table whose saved position has expired, then going on).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from tap_convex.state import Snapshotting
from tap_convex.sync.changelog_walk import changelog_walk
from tap_convex.sync.snapshot_walk import snapshot_groups, snapshot_walk
from tap_convex.sync.tables import SyncedTables

if TYPE_CHECKING:
    from collections.abc import Callable

    from tap_convex.client import ConvexClient
    from tap_convex.progress import Progress
    from tap_convex.streams import ConvexTableStream

logger = logging.getLogger("tap_convex")


def run_sync(
    client: ConvexClient,
    streams: list[ConvexTableStream],
    *,
    write_state: Callable[[], None],
    resnapshot_expired: bool,
    progress: Progress,
) -> None:
    """Sync the selected streams: every table ends read up to the change log's end."""
    if not streams:
        logger.info("No stream is selected; nothing to sync.")
        return
    tables = SyncedTables(
        client,
        streams,
        write_state=write_state,
        resnapshot_expired=resnapshot_expired,
        progress=progress,
    )
    for stream in streams:
        stream.write_schema()

    pending = [key for key, mark in tables.bookmarks.items() if isinstance(mark, Snapshotting)]
    for group in snapshot_groups(tables, pending):
        tables.bookmarks.update(snapshot_walk(tables, group))
        tables.checkpoint(group)
    # Expired tables are all restarted, hence at one position: one walk covers them.
    changelog_walk(tables, resnapshot=lambda keys: snapshot_walk(tables, keys))
