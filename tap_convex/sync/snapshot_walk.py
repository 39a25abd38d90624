"""One ``list_snapshot`` walk: a group of tables read at one pinned timestamp.

A new walk's snapshot is saved (in a STATE) before any of its records, so a run killed at any
point resumes that snapshot rather than starting another. The walk ends by activating each
table's version and returns where each table's change log starts: the snapshot timestamp
(as Debezium's ``SnapshotResult.completed(offset)`` hands its offset to streaming).
"""

from __future__ import annotations

import logging
from itertools import groupby
from typing import TYPE_CHECKING

from tap_convex.errors import PositionExpiredError, ProtocolError

if TYPE_CHECKING:
    from tap_convex.pages import Key
    from tap_convex.state import Streaming
    from tap_convex.sync.tables import SyncedTables

logger = logging.getLogger("tap_convex")


def snapshot_groups(tables: SyncedTables, pending: list[Key]) -> list[list[Key]]:
    """Tables to snapshot, grouped so each group can share one walk.

    Tables of an interrupted walk share its (snapshot, cursor) and resume it; tables without
    a position start one new walk together, after the resumed ones.
    """

    def position(key: Key) -> tuple[int, str]:
        snapshot_ts, cursor = tables.snapshotting(key).position
        return (-1 if snapshot_ts is None else snapshot_ts, cursor or "")

    groups = [list(keys) for _, keys in groupby(sorted(pending, key=position), key=position)]
    fresh = [g for g in groups if tables.snapshotting(g[0]).snapshot_ts is None]
    return [g for g in groups if g not in fresh] + fresh


def snapshot_walk(tables: SyncedTables, keys: list[Key]) -> dict[Key, Streaming]:
    """Read ``keys`` (all at one position) to the end of their snapshot; the handover."""
    snapshot, cursor = tables.snapshotting(keys[0]).position
    selection = tables.selection(keys)
    keep_encoded = tables.keep_encoded(keys)
    members = frozenset(keys)

    def wanted(key: Key, _ts: int) -> bool:
        return key in members  # servers that ignore the selection send other tables too

    if snapshot is not None:
        logger.info("Resuming the snapshot of %d table(s) at %d.", len(keys), snapshot)
    else:
        logger.info("Snapshotting %d table(s).", len(keys))
    counts = dict.fromkeys(keys, 0)
    tables.progress.start("snapshot")
    while True:
        try:
            page = tables.client.list_snapshot(
                snapshot, cursor, selection, keep_encoded=keep_encoded
            )
        except PositionExpiredError as error:
            tables.restart_expired(keys, error)
            snapshot, cursor = None, None
            continue
        if snapshot is None:
            for key in keys:
                tables.bookmarks[key] = tables.snapshotting(key).pinned(page.snapshot)
            tables.checkpoint(keys)
        elif page.snapshot != snapshot:
            raise ProtocolError(
                f"list_snapshot changed the snapshot from {snapshot} to {page.snapshot} "
                "in the middle of a walk; the deployment is not behaving as Convex does."
            )
        snapshot = page.snapshot
        versions = {key: tables.snapshotting(key).table_version for key in keys}
        written = tables.write_page(page.values, wanted, versions)
        for key, count in written.items():
            counts[key] += count
        tables.progress.page(sum(written.values()), table=tables.names(written) or None)
        if page.has_more and page.cursor is not None:
            cursor = page.cursor
            for key in keys:
                tables.bookmarks[key] = tables.snapshotting(key).page_emitted(cursor)
            tables.checkpoint(keys)
            continue
        return _completed(tables, keys, counts)


def _completed(
    tables: SyncedTables, keys: list[Key], counts: dict[Key, int]
) -> dict[Key, Streaming]:
    """Activate each table's version: from here on, its rows are those of this snapshot."""
    handover = {}
    for key in keys:
        done = tables.snapshotting(key).completed()
        if done.table_version is not None:
            tables.streams[key].activate_version(done.table_version)
        handover[key] = done
        logger.info(
            "Snapshot of %s complete: %d records at version %s.",
            tables.streams[key].name,
            counts[key],
            done.table_version,
        )
    return handover
