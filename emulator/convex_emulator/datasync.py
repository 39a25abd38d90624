"""The Data Sync API: ``POST /api/v1/data/sync`` pages and ``data_sync_cursor_from_deltas``.

The algorithm is upstream's ``DataSyncIterator`` (``crates/table_iteration/src/data_sync.rs``)
and ``data_sync`` (``crates/streaming_export/src/lib.rs``):

* The targets, resolved on every page, are the existing tablets (a staged import's hidden
  one too) of mounted components that the selection keeps, in tablet-id order.
* A cold start pins ``synced_ts`` at "now" and starts the first target. Otherwise the cursor
  is reconciled: tablets that are no longer targets (dropped, replaced, deselected) leave it
  silently, and a synced cursor starts any target it does not track yet.
* One operation per page. While a table is in progress and ``synced_ts`` is fresher than
  ``data_sync_by_id_freshness_seconds``, a ``by_id`` page reads that table at ``synced_ts``
  after the last id; otherwise a ts page walks the log after ``synced_ts``, emitting only
  captured revisions (tombstones too) and never splitting a transaction.
* A truncate names every tracked table that the incoming cursor did not track.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from convex_emulator import active_syncs
from convex_emulator.clock import NANOS_PER_SECOND
from convex_emulator.failures import ConvexError
from convex_emulator.formats import EXPORT as EXPORT_JSON
from convex_emulator.formats import dumps, dumps_sorted, to_wire
from convex_emulator.sync_cursor import SyncState, encode_state, new_sync_id
from convex_emulator.table_filter import ALL_COLUMNS, Selection

if TYPE_CHECKING:
    from convex_emulator.store import Store
    from convex_emulator.tablets import Revision, Tablet

#: ``ServerOptions.data_sync_shape``: today's answers, or those of the first backend to serve
#: the API (2026-07-13 to 07-20: ``inProgress``/``synced`` status, top-level ``cursor``,
#: ``_``-prefixed value keys with the document flattened in).
SHAPES = ("current", "early")

EXPIRED_MESSAGE = (
    "The cursor is outside the deployment's data retention window and can no longer be "
    "resumed. Restart the sync from scratch by calling /data/sync without a cursor."
)


@dataclass
class SyncReply:
    """One page: the sync's state after it, what it truncates and the values' JSON text."""

    state: SyncState
    token: str
    status: dict[str, Any]
    truncates: list[tuple[str, str]]
    values: list[str]
    early_truncates: list[tuple[str, str]]

    def body(self, shape: str = "current") -> bytes:
        """The response body in ``shape`` (see :data:`SHAPES`)."""
        sync_id = json.dumps(self.state.sync_id)
        if shape == "early":
            status = _early_status(self.status)
            truncates = [{"_component": c, "_table": t} for c, t in self.early_truncates]
            values = [_early_value(value) for value in self.values]
            text = (
                '{"truncates":' + dumps(truncates) + ',"values":[' + ",".join(values) + "],"
                '"cursor":' + json.dumps(self.token) + ',"syncId":' + sync_id + ","
                '"status":' + dumps(status) + "}"
            )
        else:
            truncates = [{"component": c, "table": t} for c, t in self.truncates]
            pagination = {"hasMore": True, "nextCursor": self.token}
            text = (
                '{"status":' + dumps(self.status) + ',"truncates":' + dumps(truncates) + ","
                '"values":[' + ",".join(self.values) + '],"syncId":' + sync_id + ","
                '"pagination":' + dumps(pagination) + "}"
            )
        return text.encode("utf-8")


def data_sync(
    store: Store, incoming: SyncState | None, selection: Selection, client: str | None = None
) -> SyncReply:
    """One page of a data sync from the incoming cursor's state (``None``: a cold start)."""
    with store.lock:
        latest = store.now_for_reads()
        targets = _targets(store, selection)
        tracked_before = set() if incoming is None else incoming.tracked()
        if incoming is None:
            state = SyncState(latest, new_sync_id(client))
            state.current = _next_target(state, targets)
        else:
            state = incoming
            _reconcile(state, targets)
        if state.synced_ts > latest:
            raise ConvexError(
                400,
                "InvalidDataSyncCursor",
                "data sync cursor is ahead of the deployment's latest timestamp",
            )
        freshness = store.config.data_sync_by_id_freshness_seconds * NANOS_PER_SECOND
        if state.current is not None and latest - state.synced_ts < freshness:
            rows = _by_id_page(store, state, targets)
        else:
            rows = _ts_page(store, state, latest, targets)
        values = [_render(row, selection) for row in rows]
        truncates = sorted(
            {(targets[t].component, targets[t].name) for t in state.tracked() - tracked_before}
        )
        status = _status(state, latest)
        active_syncs.record_page(store, state, status, targets)
        token = encode_state(store.secret, state)
        early = _early_truncates(store, tracked_before, targets)
        return SyncReply(state, token, status, truncates, values, early)


def cursor_from_deltas(
    store: Store, cursor: int, selection: Selection, client: str | None = None
) -> str:
    """A data-sync token equivalent to a ``document_deltas`` cursor: every current target is
    taken as synced up to ``cursor``, so the first page is a ts page from there.
    """
    with store.lock:
        latest = store.now_for_reads()
        if cursor > latest:
            raise ConvexError(
                400,
                "InvalidDataSyncCursor",
                "document_deltas cursor is ahead of the deployment's latest timestamp",
            )
        _check_retention(store, cursor, latest)
        state = SyncState(cursor, new_sync_id(client), set(_targets(store, selection)))
        return encode_state(store.secret, state)


def _targets(store: Store, selection: Selection) -> dict[str, Tablet]:
    """Existing user tablets (an import's hidden one too) of mounted components that the
    selection keeps, by tablet id.
    """
    return {
        tablet.tablet_id: tablet
        for tablet in store.tablets_by_id
        if tablet.exists
        and store.is_mounted(tablet.component)
        and selection.table(tablet.component, tablet.name) is not None
    }


def _next_target(state: SyncState, targets: dict[str, Tablet]) -> str | None:
    return next((tablet_id for tablet_id in targets if tablet_id not in state.synced), None)


def _reconcile(state: SyncState, targets: dict[str, Tablet]) -> None:
    state.synced &= targets.keys()
    if state.current is None or state.current not in targets:
        if state.current is not None:
            state.current_id = None  # the in-progress tablet went away: cancel it
        state.current = _next_target(state, targets)
        state.current_docs = 0


def _by_id_page(store: Store, state: SyncState, targets: dict[str, Tablet]) -> list[Revision]:
    """Live documents of the in-progress table at ``synced_ts``, after its last id."""
    assert state.current is not None  # noqa: S101 - only called while a table is in progress
    config = store.config
    size_limit, bytes_limit = config.data_sync_page_size_limit, config.data_sync_page_bytes_limit
    tablet = targets[state.current]
    rows: list[Revision] = []
    page_bytes = 0
    limited = False
    for row in tablet.visible_after(state.current_id or "", state.synced_ts, size_limit):
        rows.append(row)
        state.current_id = row.id
        page_bytes += len(row.sync_text())
        if page_bytes >= bytes_limit or len(rows) >= size_limit:
            limited = True
            break
    state.num_docs += len(rows)
    state.current_docs += len(rows)
    if not limited:  # the table is exhausted (a full last page needs one more, empty page)
        state.synced.add(tablet.tablet_id)
        state.current, state.current_id, state.current_docs = None, None, 0
        state.current = _next_target(state, targets)
    return rows


def _ts_page(
    store: Store, state: SyncState, latest: int, targets: dict[str, Tablet]
) -> list[Revision]:
    """Captured revisions after ``synced_ts``, whole transactions only."""
    entries: list[Revision] = []
    new_synced_ts = latest
    if state.synced_ts + 1 <= latest:
        _check_retention(store, state.synced_ts + 1, latest)
        config = store.config
        size_limit = config.data_sync_page_size_limit
        bytes_limit = config.data_sync_page_bytes_limit
        max_rows = max(config.data_sync_max_rows_read, size_limit)
        # A single target is read through its own log, so other tables' rows cost nothing.
        only = next(iter(targets.values())) if len(targets) == 1 else None
        log = store.log_rows
        rows_read = page_bytes = batch_bytes = 0
        batch: list[Revision] = []
        current_ts: int | None = None
        committed_any = hit_limit = False
        for position in range(store.log_position_after(state.synced_ts), len(log)):
            row = log[position]
            if row.ts > latest:
                break
            if only is not None and row.tablet is not only:
                continue
            if row.ts != current_ts:
                if current_ts is not None:
                    entries += batch
                    page_bytes += batch_bytes
                    batch, batch_bytes = [], 0
                    new_synced_ts, committed_any = current_ts, True
                    over = rows_read >= max_rows or len(entries) >= size_limit
                    if over or page_bytes >= bytes_limit:
                        hit_limit = True
                        break
                current_ts = row.ts
            rows_read += 1
            if state.captures(row.tablet.tablet_id, row.id):
                batch.append(row)
                batch_bytes += len(row.sync_text()) if row.value is not None else 0
            if rows_read >= max_rows and committed_any:
                hit_limit = True  # the partial transaction is read again by the next page
                break
        if not hit_limit:
            entries += batch
            new_synced_ts = latest
    state.synced_ts = new_synced_ts
    state.num_docs += len(entries)
    return entries


def _check_retention(store: Store, ts: int, latest: int) -> None:
    """Reading the log from ``ts`` needs document retention: else ``DataSyncCursorExpired``."""
    if ts < latest - int(store.config.retention_seconds * NANOS_PER_SECOND):
        raise ConvexError(400, "DataSyncCursorExpired", EXPIRED_MESSAGE)


def _status(state: SyncState, latest: int) -> dict[str, Any]:
    if state.current is not None:
        return {"type": "snapshotting"}
    if state.synced_ts < latest:
        return {"type": "stale", "snapshotTs": state.synced_ts}
    return {"type": "upToDate", "snapshotTs": state.synced_ts}


def _early_truncates(
    store: Store, tracked_before: set[str], targets: dict[str, Tablet]
) -> list[tuple[str, str]]:
    """The first backend's rule: a tracked tablet gone while another tablet of its name is a
    target (a replaced table), in tablet-id order; nothing on a cold start or a new table.
    """
    current = {(tablet.component, tablet.name) for tablet in targets.values()}
    names = []
    for tablet_id in sorted(tracked_before - targets.keys()):
        old = store.tablet(tablet_id)
        if old is not None and (old.component, old.name) in current:
            names.append((old.component, old.name))
    return names


def _early_status(status: dict[str, Any]) -> dict[str, Any]:
    if status["type"] == "snapshotting":
        return {"type": "inProgress"}
    stale = status["type"] == "stale"
    return {"type": "synced", "syncedTs": status["snapshotTs"], "hasMore": stale}


def _render(row: Revision, selection: Selection) -> str:
    """``{"component", "table", "ts", "deleted", "value"}``; a tombstone's value is its id."""
    tablet = row.tablet
    head = '{"component":' + json.dumps(tablet.component) + ',"table":' + json.dumps(tablet.name)
    head += ',"ts":' + str(row.ts)
    if row.value is None:
        return head + ',"deleted":true,"value":{"_id":' + json.dumps(row.id) + "}}"
    chosen = selection.table(tablet.component, tablet.name) or ALL_COLUMNS
    if chosen is ALL_COLUMNS or chosen.is_all_columns:
        text = row.sync_text()
    else:
        kept = {k: v for k, v in row.value.items() if chosen.includes_column(k)}
        text = dumps_sorted(to_wire(kept, EXPORT_JSON))
    return head + ',"deleted":false,"value":' + text + "}"


def _early_value(text: str) -> str:
    """A current value's text as the early backend sent it: ``_`` keys, document flattened
    after them (serde writes a struct's named fields before a flattened map's).
    """
    value = json.loads(text)
    head = {
        "_component": value["component"],
        "_table": value["table"],
        "_ts": value["ts"],
        "_deleted": value["deleted"],
    }
    return dumps({**head, **value["value"]})
