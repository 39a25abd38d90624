"""The sync's order of stages: schemas, snapshot walks, then the one change-log walk.

Streams of an interrupted snapshot resume it first, streams without a position are then
snapshotted together in one walk, and finally the change log is read once for all of them
(re-snapshotting any table whose saved position has expired, then going on).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from tap_convex.state import FollowingDataSync, Snapshotting
from tap_convex.sync.changelog_walk import changelog_walk
from tap_convex.sync.data_sync_walk import STATE_KEY, data_sync_walk
from tap_convex.sync.snapshot_walk import snapshot_groups, snapshot_walk
from tap_convex.sync.tables import SyncedTables

if TYPE_CHECKING:
    from collections.abc import Callable, MutableMapping

    from tap_convex.client import ConvexClient
    from tap_convex.progress import Progress
    from tap_convex.streams import ConvexTableStream

logger = logging.getLogger("tap_convex")


@dataclass(frozen=True)
class SyncOptions:
    """How to sync: what an expired position does, and which API reads the deployment.

    ``transport`` ``data_sync`` uses the Data Sync API, whose cursor is kept in ``state``
    (the tap's state) next to the bookmarks.
    """

    resnapshot_expired: bool = True
    transport: str = "streaming_export"
    state: MutableMapping[str, Any] = field(default_factory=dict)


def run_sync(
    client: ConvexClient,
    streams: list[ConvexTableStream],
    *,
    write_state: Callable[[], None],
    progress: Progress,
    options: SyncOptions,
) -> None:
    """Sync the selected streams: every table ends read up to the change log's end."""
    if not streams:
        logger.info("No stream is selected; nothing to sync.")
        return
    tables = SyncedTables(
        client,
        streams,
        write_state=write_state,
        resnapshot_expired=options.resnapshot_expired,
        progress=progress,
    )
    for stream in streams:
        stream.write_schema()
    if options.transport == "data_sync":
        data_sync_walk(tables, options.state, restart_expired=options.resnapshot_expired)
        return
    _leave_data_sync(tables, options.state)

    pending = [key for key, mark in tables.bookmarks.items() if isinstance(mark, Snapshotting)]
    for group in snapshot_groups(tables, pending):
        tables.bookmarks.update(snapshot_walk(tables, group))
        tables.checkpoint(group)
    # Expired tables are all restarted, hence at one position: one walk covers them.
    changelog_walk(tables, resnapshot=lambda keys: snapshot_walk(tables, keys))


def _leave_data_sync(tables: SyncedTables, state: MutableMapping[str, Any]) -> None:
    """Back on streaming export: tables followed by a data-sync cursor are re-snapshotted."""
    back = [key for key, mark in tables.bookmarks.items() if isinstance(mark, FollowingDataSync)]
    if back:
        state.pop(STATE_KEY, None)
        logger.warning(
            "RE-SNAPSHOT: %s followed the data_sync transport, whose position streaming "
            "export cannot continue; re-snapshotting them. Their ACTIVATE_VERSION will retire "
            "rows that no longer exist.",
            tables.names(back),
        )
    for key in back:
        tables.bookmarks[key] = tables.bookmarks[key].restarted()
