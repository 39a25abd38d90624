"""The two read paths of streaming export: ``list_snapshot`` pages and ``document_deltas`` pages.

Both answer exactly as the upstream server does (page limits, cursors, which tables count,
column filtering); the HTTP layer only parses arguments and sends the reply's text. Values
are rendered to JSON text here, once, so a page is assembled by joining strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

from convex_emulator import formats
from convex_emulator.clock import NANOS_PER_SECOND
from convex_emulator.failures import ConvexError, internal_error
from convex_emulator.table_filter import ALL_COLUMNS, EVERYTHING, Selection, TableSelection

if TYPE_CHECKING:
    from convex_emulator.store import Store
    from convex_emulator.tablets import Revision, Tablet


@dataclass
class SnapshotReply:
    """One ``list_snapshot`` answer; ``values`` are already JSON text."""

    values: list[str]
    snapshot: int
    cursor: str | None
    has_more: bool

    def body(self) -> bytes:
        """The response body, with the values spliced in as they are."""
        cursor = json.dumps(self.cursor)
        return _page_body(
            self.values,
            f'"snapshot":{self.snapshot},"cursor":{cursor},"hasMore":{_json_bool(self.has_more)}',
        )


@dataclass
class DeltasReply:
    """One ``document_deltas`` answer; ``values`` are already JSON text."""

    values: list[str]
    cursor: int
    has_more: bool

    def body(self) -> bytes:
        """The response body, with the values spliced in as they are."""
        return _page_body(
            self.values, f'"cursor":{self.cursor},"hasMore":{_json_bool(self.has_more)}'
        )


def list_snapshot(
    store: Store,
    snapshot: int | None,
    cursor: str | None,
    selection: Selection = EVERYTHING,
    fmt: str = formats.CLEAN,
) -> SnapshotReply:
    """One page of a point-in-time walk over every selected table.

    Tables go in ascending tablet-id order, one table per page; a table's end gives a page
    whose cursor points at the next table, so empty pages are normal.
    """
    with store.lock:
        now = store.now_for_reads()
        if snapshot is None:
            snapshot = now
        elif snapshot < 0:
            raise internal_error()
        elif snapshot > now:
            raise ConvexError(400, "SnapshotTooNew", f"Snapshot value {snapshot} is in the future.")
        elif now - snapshot > store.config.snapshot_max_age_seconds * NANOS_PER_SECOND:
            raise ConvexError(
                400, "SnapshotTooOld", f"Snapshot value {snapshot} is too far in the past."
            )
        start_tablet, after_id = _parse_snapshot_cursor(cursor)
        tablets = [
            (tablet, chosen)
            for tablet in store.tablets_by_id
            if tablet.tablet_id >= start_tablet
            and tablet.exists_at(snapshot)
            and store.is_mounted(tablet.component)
            and (chosen := selection.table(tablet.component, tablet.name)) is not None
        ]
        if not tablets:
            return SnapshotReply([], snapshot, None, has_more=False)
        tablet, chosen = tablets[0]
        after = after_id if tablet.tablet_id == start_tablet else ""
        limit = store.config.snapshot_page_limit
        rows = tablet.visible_after(after, snapshot, limit)
        if chosen is ALL_COLUMNS or chosen.is_all_columns:
            # ``_render`` inlined for the common case: every row is a live document.
            values = [row.snapshot_text(fmt) for row in rows]
        else:
            values = [_render(row, chosen, fmt, deleted=None) for row in rows]
        if len(rows) == limit:
            next_cursor = _snapshot_cursor(tablet, rows[-1].id)
        elif len(tablets) > 1:
            next_cursor = _snapshot_cursor(tablets[1][0], "")
        else:
            return SnapshotReply(values, snapshot, None, has_more=False)
        return SnapshotReply(values, snapshot, next_cursor, has_more=True)


def document_deltas(
    store: Store, cursor: int, selection: Selection = EVERYTHING, fmt: str = formats.CLEAN
) -> DeltasReply:
    """Revisions with ``cursor < _ts <= now`` in ``(ts, id)`` order.

    The rows-read limit counts every log row, of system and unselected tables too; once
    reached at timestamp T the page still takes every row of T, so a transaction is never
    split. A drained log returns "now" as the cursor, so quiet tables keep advancing.
    """
    with store.lock:
        if cursor < 0:
            raise internal_error()
        upper = store.now_for_reads()
        retention_ns = int(store.config.retention_seconds * NANOS_PER_SECOND)
        if cursor < upper - retention_ns:
            raise ConvexError(
                400,
                "InvalidWindowToReadDocuments",
                f"Trying to synchronize from timestamp {cursor}, which is older than the "
                "database's retention window. This may happen if you paused your Fivetran "
                "or Airbyte connector for a long period of time. Please perform a full sync "
                "of the data.",
            )
        limit = store.config.deltas_page_limit
        included: dict[Tablet, TableSelection | None] = {}
        values: list[str] = []
        rows_read = 0
        stop_at_ts: int | None = None
        log = store.log_rows
        position = store.log_position_after(cursor)
        end = store.log_position_after(upper)
        while position < end:
            row = log[position]
            if stop_at_ts is not None and row.ts != stop_at_ts:
                return DeltasReply(values, stop_at_ts, has_more=True)
            rows_read += 1
            tablet = row.tablet
            if tablet in included:
                chosen = included[tablet]
            else:
                chosen = _delta_selection(store, tablet, selection)
                included[tablet] = chosen
            if chosen is not None:
                values.append(_render(row, chosen, fmt, deleted=row.value is None))
            if stop_at_ts is None and (rows_read >= limit or len(values) >= limit):
                stop_at_ts = row.ts
            position += 1
        return DeltasReply(values, upper if stop_at_ts is None else stop_at_ts, has_more=False)


def _delta_selection(store: Store, tablet: Tablet, selection: Selection) -> TableSelection | None:
    """Deltas judge a table by the current mapping: dropped or orphaned tables are skipped,
    and an import's hidden tablet is read (upstream's ``include_hidden``).
    """
    if tablet.is_system or not tablet.exists or not store.is_mounted(tablet.component):
        return None
    return selection.table(tablet.component, tablet.name)


def _page_body(values: list[str], fields: str) -> bytes:
    """``{"values": [...], <fields>}`` from values that are JSON text already."""
    return ('{"values":[' + ",".join(values) + "]," + fields + "}").encode("utf-8")


def _json_bool(value: bool) -> str:
    return "true" if value else "false"


def _snapshot_cursor(tablet: Tablet, after_id: str) -> str:
    return json.dumps({"tablet": tablet.tablet_id, "id": after_id}, separators=(",", ":"))


def _parse_snapshot_cursor(cursor: str | None) -> tuple[str, str]:
    if cursor is None:
        return "", ""
    try:
        parsed = json.loads(cursor)
        tablet, after_id = parsed["tablet"], parsed["id"]
    except (ValueError, TypeError, KeyError):
        tablet = after_id = None
    if not isinstance(tablet, str) or not isinstance(after_id, str):
        raise ConvexError(
            400, "InvalidListSnapshotCursor", f"Invalid list_snapshot cursor: {cursor}"
        )
    return tablet, after_id


def _render(row: Revision, chosen: TableSelection, fmt: str, *, deleted: bool | None) -> str:
    """A value's JSON text: transport metadata first, then the (column-filtered) document."""
    tablet = row.tablet
    head = tablet.meta_prefix + '"_ts":' + str(row.ts) + ","
    if deleted is not None:
        head += '"_deleted":true,' if deleted else '"_deleted":false,'
    if row.value is None:
        return head + '"_id":' + json.dumps(row.id) + "}"
    if chosen is ALL_COLUMNS or chosen.is_all_columns:
        text = row.snapshot_text(fmt)
        if deleted is None:
            return text
        # The cached text is the head without ``_deleted``, then the document's fields.
        ts_end = len(tablet.meta_prefix) + len('"_ts":') + len(str(row.ts)) + 1
        return head + text[ts_end:]
    kept = {name: item for name, item in row.value.items() if chosen.includes_column(name)}
    return head + formats.dumps(formats.to_wire(kept, fmt))[1:]
