"""The sync: snapshot walks, then one change-log walk, for all selected streams together.

Cost does not grow with the number of tables: a snapshot reads every table that needs one in
a single ``list_snapshot`` walk at one pinned timestamp, and the change log is read once, by
one ``document_deltas`` walk whose exact selection covers every selected stream. Values are
routed to streams by (``_component``, ``_table``). After each page, the records of that page
are written first (grouped by stream, in page order within a stream) and the bookmarks that
cover them second. A new snapshot's timestamp is saved before any of its records, so a run
killed at any point resumes that snapshot rather than starting another.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timezone
from itertools import groupby
from typing import Any

from tap_convex import state
from tap_convex.client import ConvexClient
from tap_convex.errors import PositionExpiredError, ProtocolError, TapConvexError
from tap_convex.selection import build_selection
from tap_convex.state import Bookmark
from tap_convex.streams import ConvexTableStream

logger = logging.getLogger("tap_convex")
Key = tuple[str, str]


class SyncEngine:
    def __init__(
        self,
        client: ConvexClient,
        streams: list[ConvexTableStream],
        *,
        write_state: Callable[[], None],
        resnapshot_expired: bool,
    ) -> None:
        self._client = client
        self._streams = {stream.key: stream for stream in streams}
        self._write_state = write_state
        self._resnapshot_expired = resnapshot_expired
        self._bookmarks: dict[Key, Bookmark] = {
            key: s.read_bookmark() for key, s in self._streams.items()
        }
        self._selection_columns = {key: s.excluded_columns() for key, s in self._streams.items()}

    def run(self) -> None:
        if not self._streams:
            logger.info("No stream is selected; nothing to sync.")
            return
        for stream in self._streams.values():
            stream.write_schema()
        for keys in self._snapshot_groups():
            self._snapshot_walk(keys)
        self._deltas_walk()

    # ---- snapshot ----------------------------------------------------------------------------

    def _snapshot_groups(self) -> list[list[Key]]:
        """Streams to snapshot, grouped so each group can share one walk.

        Streams of an interrupted walk share its (snapshot, cursor) and resume it; streams
        without a position start one new walk together, after the resumed ones.
        """
        pending = [key for key, mark in self._bookmarks.items() if mark.phase == state.SNAPSHOT]

        def position(key: Key) -> tuple[int, str]:
            mark = self._bookmarks[key]
            return (mark.snapshot_ts or -1, mark.snapshot_cursor or "")

        groups = [list(keys) for _, keys in groupby(sorted(pending, key=position), key=position)]
        fresh = [g for g in groups if self._bookmarks[g[0]].snapshot_ts is None]
        resumed = [g for g in groups if self._bookmarks[g[0]].snapshot_ts is not None]
        return resumed + fresh

    def _snapshot_walk(self, keys: list[Key]) -> None:
        first = self._bookmarks[keys[0]]
        snapshot, cursor = first.snapshot_ts, first.snapshot_cursor
        selection = self._selection(keys)
        versions = {key: self._bookmarks[key].table_version for key in keys}
        if snapshot is not None:
            logger.info("Resuming the snapshot of %d table(s) at %d.", len(keys), snapshot)
        else:
            logger.info("Snapshotting %d table(s).", len(keys))
        counts = dict.fromkeys(keys, 0)
        converters = {key: self._streams[key].converter for key in keys}
        keep_encoded = all(self._streams[key].plain_output for key in keys)
        while True:
            try:
                page = self._client.list_snapshot(
                    snapshot, cursor, selection, keep_encoded=keep_encoded
                )
            except PositionExpiredError as error:
                self._expired(keys, error)
                snapshot, cursor = None, None
                continue
            if snapshot is None:
                versions = {
                    key: state.next_table_version(self._bookmarks[key].table_version, page.snapshot)
                    for key in keys
                }
                for key in keys:
                    self._bookmarks[key] = state.snapshot_pinned(
                        self._bookmarks[key], page.snapshot, versions[key]
                    )
                self._checkpoint(keys)
            elif page.snapshot != snapshot:
                raise ProtocolError(
                    f"list_snapshot changed the snapshot from {snapshot} to {page.snapshot} "
                    "in the middle of a walk; the deployment is not behaving as Convex does."
                )
            snapshot = page.snapshot
            extracted_at = datetime.now(timezone.utc)
            batches: dict[Key, list[Any]] = {key: [] for key in keys}
            if page.documents is not None:
                for head, document in page.documents:
                    key = (head.component, head.table)
                    if key in batches:
                        batches[key].append(converters[key].encoded(head, document))
            else:
                for value in page.values:
                    key = (value["_component"], value["_table"])
                    if key in batches:
                        batches[key].append(converters[key].document(value, False, page.plain))
            for key, count in self._write(batches, versions, extracted_at).items():
                counts[key] += count
            if page.has_more:
                cursor = page.cursor
                for key in keys:
                    self._bookmarks[key] = state.snapshot_page_emitted(
                        self._bookmarks[key], snapshot, cursor, versions[key]
                    )
                self._checkpoint(keys)
                continue
            for key in keys:
                self._streams[key].activate_version(versions[key])
                self._bookmarks[key] = state.snapshot_completed(
                    self._bookmarks[key], snapshot, versions[key]
                )
                logger.info(
                    "Snapshot of %s complete: %d records at version %d.",
                    self._streams[key].name,
                    counts[key],
                    versions[key],
                )
            self._checkpoint(keys)
            return

    # ---- deltas ------------------------------------------------------------------------------

    def _deltas_walk(self) -> None:
        """Read the change log once, from the oldest position, for every stream at once."""
        keys = list(self._streams)
        selection = self._selection(keys)
        cursor = min(self._bookmarks[key].deltas_cursor for key in keys)
        keep_encoded = all(self._streams[key].plain_output for key in keys)
        pages = records = 0
        while True:
            try:
                page = self._client.document_deltas(cursor, selection, keep_encoded=keep_encoded)
            except PositionExpiredError as error:
                expired = [k for k in keys if self._bookmarks[k].deltas_cursor <= cursor]
                self._expired(expired, error)
                self._snapshot_walk(expired)
                cursor = min(self._bookmarks[key].deltas_cursor for key in keys)
                continue
            if page.cursor < cursor:
                raise ProtocolError(
                    f"document_deltas moved the cursor backwards, from {cursor} to {page.cursor}."
                )
            extracted_at = datetime.now(timezone.utc)
            batches: dict[Key, list[Any]] = {key: [] for key in keys}
            if page.documents is not None:
                for head, document in page.documents:
                    key = (head.component, head.table)
                    if self._is_new_change(key, head.ts):
                        converter = self._streams[key].converter
                        batches[key].append(converter.encoded(head, document))
            else:
                for value in page.values:
                    key = (value["_component"], value["_table"])
                    if self._is_new_change(key, value["_ts"]):
                        converter = self._streams[key].converter
                        deleted = value.get("_deleted") is True
                        batches[key].append(converter.document(value, deleted, page.plain))
            versions = {key: self._bookmarks[key].table_version for key in keys}
            records += sum(self._write(batches, versions, extracted_at).values())
            cursor = page.cursor
            for key in keys:
                self._bookmarks[key] = state.deltas_page_emitted(self._bookmarks[key], cursor)
            self._checkpoint(keys)
            pages += 1
            if not page.has_more:
                logger.info(
                    "Change log read to %d: %d records in %d page(s).", cursor, records, pages
                )
                return

    # ---- helpers -----------------------------------------------------------------------------

    def _is_new_change(self, key: Key, ts: int) -> bool:
        """A change for a selected stream that its bookmark does not cover yet."""
        if key not in self._streams:
            return False  # servers that ignore the selection send other tables too
        return ts > self._bookmarks[key].deltas_cursor  # else it was snapshotted later

    def _write(
        self,
        batches: dict[Key, list[Any]],
        versions: dict[Key, int | None],
        extracted_at: datetime,
    ) -> dict[Key, int]:
        """Write a page's records, stream by stream; records are either all encoded JSON
        (pages that kept their values encoded) or all dicts. Returns counts per stream."""
        written = {}
        for key, records in batches.items():
            if records:
                stream = self._streams[key]
                if type(records[0]) is bytes:
                    stream.write_encoded_records(records, versions[key], extracted_at)
                else:
                    stream.write_records(records, versions[key], extracted_at)
                written[key] = len(records)
        return written

    def _selection(self, keys: list[Key]) -> dict[str, Any]:
        return build_selection((*key, self._selection_columns[key]) for key in keys)

    def _checkpoint(self, keys: list[Key]) -> None:
        for key in keys:
            self._streams[key].write_bookmark(self._bookmarks[key])
        self._write_state()

    def _expired(self, keys: list[Key], error: PositionExpiredError) -> None:
        names = ", ".join(sorted(self._streams[key].name for key in keys))
        if not self._resnapshot_expired:
            raise TapConvexError(
                f"The saved position of {names} has expired ({error}). Remove those streams' "
                "bookmarks to re-snapshot them, or set on_expired_position to resnapshot."
            )
        logger.warning(
            "RE-SNAPSHOT: the saved position of %s has expired (%s); re-snapshotting them. "
            "Their ACTIVATE_VERSION will retire rows that no longer exist.",
            names,
            error.code,
        )
        for key in keys:
            self._bookmarks[key] = state.restart_snapshot(self._bookmarks[key])
