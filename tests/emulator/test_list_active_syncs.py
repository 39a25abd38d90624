"""``GET /api/v1/data/list_active_syncs``: the progress of each data sync."""

from __future__ import annotations

import httpx

from convex_emulator import Store

from .helpers import assert_error
from .sync_helpers import next_cursor, pages_until_up_to_date, rows_with_page_size, sync_page

LIST = "/api/v1/data/list_active_syncs"
DAY = 24 * 3600


def listing(api: httpx.Client, **params: object) -> dict[str, object]:
    response = api.get(LIST, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_no_syncs_lists_nothing(api: httpx.Client) -> None:
    assert listing(api) == {"syncs": [], "pagination": {"hasMore": False}}


def test_a_snapshotting_sync_reports_its_progress(api: httpx.Client, store: Store) -> None:
    rows_with_page_size(store, 5, page_size=2)
    page = sync_page(api)
    (entry,) = listing(api)["syncs"]  # type: ignore[misc]
    assert entry["syncId"] == page["syncId"]
    assert entry["lastUpdated"] == store.clock.now_ns() // 1_000_000
    assert entry["status"] == {
        "type": "snapshotting",
        "numTablesSynced": 0,
        "totalTables": 1,
        "currentComponent": "",
        "currentTable": "t",
        "numDocumentsInCurrentTable": 2,
        "totalDocumentsInCurrentTable": 5,
        "numDocumentsSynced": 2,
        "totalDocuments": 5,
    }


def test_an_up_to_date_sync_reports_tables_documents_and_ts(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    store.insert("u", {"n": 1})
    last = pages_until_up_to_date(api)[-1]
    (entry,) = listing(api)["syncs"]  # type: ignore[misc]
    assert entry["status"] == {
        "type": "upToDate",
        "totalTables": 2,
        "numDocumentsSynced": 2,
        "syncedTs": last["status"]["snapshotTs"],
    }


def test_progress_writes_are_throttled_within_a_status(api: httpx.Client, store: Store) -> None:
    rows_with_page_size(store, 4, page_size=1)
    page = sync_page(api)
    page = sync_page(api, next_cursor(page))
    (entry,) = listing(api)["syncs"]  # type: ignore[misc]
    assert entry["status"]["numDocumentsSynced"] == 1
    store.clock.advance(5)
    sync_page(api, next_cursor(page))
    (entry,) = listing(api)["syncs"]  # type: ignore[misc]
    assert entry["status"]["numDocumentsSynced"] == 3


def test_syncs_are_listed_most_recently_updated_first(api: httpx.Client, store: Store) -> None:
    ids = []
    for _ in range(3):
        ids.append(sync_page(api)["syncId"])
        store.clock.advance(1)
    assert [s["syncId"] for s in listing(api)["syncs"]] == ids[::-1]  # type: ignore[attr-defined]


def test_syncs_idle_for_three_days_are_no_longer_listed(api: httpx.Client, store: Store) -> None:
    old = sync_page(api)["syncId"]
    store.clock.advance(3 * DAY + 1)
    fresh = sync_page(api)["syncId"]
    assert [s["syncId"] for s in listing(api)["syncs"]] == [fresh]  # type: ignore[attr-defined]
    assert old != fresh


def test_a_full_page_has_more_and_the_cursor_continues(api: httpx.Client, store: Store) -> None:
    ids = []
    for _ in range(3):
        ids.append(sync_page(api)["syncId"])
        store.clock.advance(1)
    first = listing(api, limit=2)
    assert first["pagination"]["hasMore"] is True  # type: ignore[index]
    second = listing(api, limit=2, cursor=first["pagination"]["nextCursor"])  # type: ignore[index]
    assert second["pagination"] == {"hasMore": False}
    listed = [s["syncId"] for s in first["syncs"] + second["syncs"]]  # type: ignore[operator]
    assert listed == ids[::-1]


def test_a_page_filled_exactly_has_more_then_an_empty_page(api: httpx.Client, store: Store) -> None:
    sync_page(api)
    first = listing(api, limit=1)
    assert first["pagination"]["hasMore"] is True  # type: ignore[index]
    second = listing(api, limit=1, cursor=first["pagination"]["nextCursor"])  # type: ignore[index]
    assert second == {"syncs": [], "pagination": {"hasMore": False}}


def test_a_limit_out_of_range_is_rejected(api: httpx.Client) -> None:
    for limit in ("0", "101"):
        assert_error(api.get(LIST, params={"limit": limit}), 400, "LimitOutOfRange")


def test_a_limit_that_is_not_an_integer_is_bad_query_args(api: httpx.Client) -> None:
    for limit in ("-1", "ten", "1.5"):
        assert_error(api.get(LIST, params={"limit": limit}), 400, "BadQueryArgs")


def test_a_bad_listing_cursor_is_invalid_cursor(api: httpx.Client, store: Store) -> None:
    token = next_cursor(sync_page(api))  # a data-sync cursor is no listing cursor
    for cursor in ("zz", token):
        body = assert_error(api.get(LIST, params={"cursor": cursor}), 400, "InvalidCursor")
        assert body["message"] == "Failed to parse cursor"
