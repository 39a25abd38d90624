"""``POST /api/data_sync_cursor_from_deltas``: a document_deltas cursor as a data-sync one."""

from __future__ import annotations

import httpx

from convex_emulator import Store

from .helpers import assert_error, delta_pages
from .sync_helpers import (
    Replica,
    ids_of,
    live_ids,
    pages_until_up_to_date,
    sync_page,
    truncated,
    values_of,
)

CONVERT = "/api/data_sync_cursor_from_deltas"
DAY = 24 * 3600
BEFORE_ANY_COMMIT = 1_750_000_000_000_000_000 - 1  # the ``store`` fixture's frozen start, less 1


def caught_up_deltas_cursor(api: httpx.Client) -> int:
    """Where a legacy sync that read everything so far stands."""
    cursor: int = delta_pages(api, BEFORE_ANY_COMMIT)[-1]["cursor"]
    return cursor


def convert(api: httpx.Client, cursor: int, **args: object) -> str:
    response = api.post(CONVERT, json={"cursor": cursor, **args})
    assert response.status_code == 200, response.text
    body = response.json()
    assert list(body) == ["cursor"]
    token: str = body["cursor"]
    return token


def test_the_converted_cursor_resumes_after_the_deltas_cursor(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    deltas_cursor = caught_up_deltas_cursor(api)
    later = store.insert("t", {"n": 2})
    pages = pages_until_up_to_date(api, convert(api, deltas_cursor))
    assert ids_of(pages) == [later]


def test_the_first_page_is_a_ts_page_without_truncates(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    deltas_cursor = caught_up_deltas_cursor(api)
    store.insert("t", {"n": 2})
    page = sync_page(api, convert(api, deltas_cursor))
    assert page["truncates"] == []
    assert page["status"]["type"] == "upToDate"


def test_deletes_after_the_deltas_cursor_arrive_as_tombstones(
    api: httpx.Client, store: Store
) -> None:
    doc = store.insert("t", {"n": 1})
    deltas_cursor = caught_up_deltas_cursor(api)
    store.delete(doc)
    values = [
        v for p in pages_until_up_to_date(api, convert(api, deltas_cursor)) for v in p["values"]
    ]
    assert [(v["deleted"], v["value"]) for v in values] == [(True, {"_id": doc})]


def test_a_table_created_after_the_deltas_cursor_streams_as_inserts(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    deltas_cursor = caught_up_deltas_cursor(api)
    doc = store.insert("fresh", {"n": 1})
    pages = pages_until_up_to_date(api, convert(api, deltas_cursor))
    assert truncated(pages) == []
    assert ids_of(pages) == [doc]


def test_a_table_replaced_before_the_conversion_gets_no_truncate(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    deltas_cursor = caught_up_deltas_cursor(api)
    store.replace_table("t", [{"n": 2}])
    pages = pages_until_up_to_date(api, convert(api, deltas_cursor))
    assert truncated(pages) == []
    assert len(values_of(pages)) == 1


def test_a_table_replaced_after_the_conversion_truncates(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    replica = Replica(cursor=convert(api, caught_up_deltas_cursor(api)))
    store.replace_table("t", [{"n": 2}])
    pages = replica.catch_up(api)
    assert [t["table"] for p in pages for t in p["truncates"]] == ["t"]
    assert replica.ids() == live_ids(store.documents())


def test_the_selection_limits_the_converted_sync(api: httpx.Client, store: Store) -> None:
    store.create_table("t")
    store.create_table("u")
    deltas_cursor = caught_up_deltas_cursor(api)
    selection = {"_other": "excluded", "": {"_other": "excluded", "t": {"_other": "included"}}}
    token = convert(api, deltas_cursor, selection=selection)
    store.insert("t", {"n": 1})
    store.insert("u", {"n": 1})
    pages = pages_until_up_to_date(api, token, selection=selection)
    assert {v["table"] for p in pages for v in p["values"]} == {"t"}


def test_the_converted_sync_gets_a_new_sync_id_with_the_client_prefix(
    api: httpx.Client, store: Store
) -> None:
    headers = {"Convex-Client": "airbyte-export-1.0.0"}
    response = api.post(CONVERT, json={"cursor": store.now_for_reads()}, headers=headers)
    page = sync_page(api, response.json()["cursor"])
    assert page["syncId"].startswith("airbyte-")


def test_a_missing_cursor_is_a_bad_json_body(api: httpx.Client) -> None:
    assert_error(api.post(CONVERT, json={}), 400, "BadJsonBody")


def test_a_string_cursor_is_a_bad_json_body(api: httpx.Client) -> None:
    assert_error(api.post(CONVERT, json={"cursor": "17"}), 400, "BadJsonBody")


def test_a_negative_cursor_is_not_a_valid_timestamp(api: httpx.Client) -> None:
    body = assert_error(api.post(CONVERT, json={"cursor": -1}), 400, "InvalidDataSyncCursor")
    assert body["message"] == "The document_deltas cursor is not a valid timestamp"


def test_a_cursor_ahead_of_the_deployment_is_invalid(api: httpx.Client, store: Store) -> None:
    ahead = store.now_for_reads() + 10**12
    body = assert_error(api.post(CONVERT, json={"cursor": ahead}), 400, "InvalidDataSyncCursor")
    assert "ahead" in body["message"]


def test_a_cursor_outside_retention_has_expired_up_front(api: httpx.Client, store: Store) -> None:
    old = store.now_for_reads()
    store.clock.advance(15 * DAY)
    assert_error(api.post(CONVERT, json={"cursor": old}), 400, "DataSyncCursorExpired")


def test_a_bad_selection_is_invalid_data_sync_selection(api: httpx.Client, store: Store) -> None:
    selection = {"_other": "excluded", "": {"_other": "excluded", "t": {"_other": "excluded"}}}
    response = api.post(CONVERT, json={"cursor": 0, "selection": selection})
    assert_error(response, 400, "InvalidDataSyncSelection")


def test_conversion_takes_only_post(api: httpx.Client) -> None:
    assert_error(api.get(CONVERT), 405, "MethodNotAllowed")
