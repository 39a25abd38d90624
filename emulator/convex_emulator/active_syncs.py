"""Data-sync progress rows and ``GET /api/v1/data/list_active_syncs``.

Upstream keeps one ``_data_sync_progress`` row per sync id, written after each page
(``crates/application/src/streaming_export.rs``): the first page inserts it, later pages
refresh it at most every 5 s unless the status type changes or an ``upToDate`` page's
document count moved. Each write is a commit to that system table, so it shows in the
document log as any system write does. The listing is most recently updated first, and
only syncs updated within the last 3 days are active.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from convex_emulator.failures import ConvexError
from convex_emulator.sync_cursor import LIST_PURPOSE, seal, unseal

if TYPE_CHECKING:
    from convex_emulator.store import Store
    from convex_emulator.sync_cursor import SyncState
    from convex_emulator.tablets import Tablet

PROGRESS_TABLE = "_data_sync_progress"
WRITE_INTERVAL_MS = 5000
ACTIVE_WINDOW_MS = 3 * 24 * 3600 * 1000
DEFAULT_LIMIT = 50
MAX_LIMIT = 100


def _now_ms(store: Store) -> int:
    return store.clock.now_ns() // 1_000_000


def record_page(
    store: Store, state: SyncState, status: dict[str, Any], targets: dict[str, Tablet]
) -> None:
    """Upsert the sync's progress row after a page (throttled as upstream does)."""
    now = _now_ms(store)
    row = store.sync_progress.get(state.sync_id)
    if row is not None:
        previous = row["status"]
        changed = previous["type"] != status["type"] or (
            status["type"] == "upToDate" and previous["numDocumentsSynced"] != state.num_docs
        )
        if not changed and now - row["lastUpdated"] < WRITE_INTERVAL_MS:
            return
    if row is None:
        row = {"syncId": state.sync_id, "created": len(store.sync_progress)}
        store.sync_progress[state.sync_id] = row
    row["lastUpdated"] = now
    row["status"] = _progress(state, status, targets)
    store.system_writes(1, PROGRESS_TABLE)


def _progress(
    state: SyncState, status: dict[str, Any], targets: dict[str, Tablet]
) -> dict[str, Any]:
    if state.current is None:
        return {
            "type": status["type"],
            "totalTables": len(state.synced),
            "numDocumentsSynced": state.num_docs,
            "syncedTs": state.synced_ts,
        }
    current = targets[state.current]
    counts = {tablet_id: _live_count(tablet) for tablet_id, tablet in targets.items()}
    return {
        "type": "snapshotting",
        "numTablesSynced": len(state.synced),
        "totalTables": len(targets),
        "currentComponent": current.component,
        "currentTable": current.name,
        "numDocumentsInCurrentTable": state.current_docs,
        "totalDocumentsInCurrentTable": counts[state.current],
        "numDocumentsSynced": state.num_docs,
        "totalDocuments": sum(counts.values()),
    }


def _live_count(tablet: Tablet) -> int:
    return sum(1 for _ in tablet.live_values())


def list_active_syncs(store: Store, args: dict[str, Any]) -> dict[str, Any]:
    """One page of active syncs, most recently updated first."""
    limit = _limit(args.get("limit"))
    after: tuple[int, int] | None = None
    cursor = args.get("cursor")
    if cursor is not None:
        try:
            position = unseal(store.secret, LIST_PURPOSE, str(cursor))
            after = (int(position[0]), int(position[1]))
        except (ValueError, TypeError, IndexError):
            raise ConvexError(400, "InvalidCursor", "Failed to parse cursor") from None
    with store.lock:
        horizon = _now_ms(store) - ACTIVE_WINDOW_MS
        rows = sorted(
            store.sync_progress.values(),
            key=lambda row: (row["lastUpdated"], row["created"]),
            reverse=True,
        )
        page: list[dict[str, Any]] = []
        for row in rows:
            key = (row["lastUpdated"], row["created"])
            if after is not None and key >= after:
                continue
            if row["lastUpdated"] < horizon or len(page) == limit:
                break
            page.append(row)
    syncs = [
        {"syncId": row["syncId"], "lastUpdated": row["lastUpdated"], "status": row["status"]}
        for row in page
    ]
    pagination: dict[str, Any] = {"hasMore": False}
    if len(page) == limit:
        last = page[-1]
        token = seal(store.secret, LIST_PURPOSE, [last["lastUpdated"], last["created"]])
        pagination = {"hasMore": True, "nextCursor": token}
    return {"syncs": syncs, "pagination": pagination}


def _limit(raw: Any) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not str(raw).isdigit():
        raise ConvexError(400, "BadQueryArgs", "limit must be a non-negative integer")
    limit = int(raw)
    if limit == 0 or limit > MAX_LIMIT:
        raise ConvexError(
            400,
            "LimitOutOfRange",
            f"The limit for listing active syncs must be between 1 and {MAX_LIMIT}",
        )
    return limit
