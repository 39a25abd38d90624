"""The data-sync cursor: opaque, sealed to its deployment, replayable, and expiring."""

from __future__ import annotations

import re

import httpx

from convex_emulator import EmulatorServer, Store
from convex_emulator.sync_cursor import SYNC_PURPOSE, SyncState, encode_state, seal

from .helpers import assert_error
from .sync_helpers import SYNC, next_cursor, pages_until_up_to_date, sync_page, values_of

DAY = 24 * 3600


def test_the_cursor_is_lowercase_hex_with_version_nonce_and_tag(
    api: httpx.Client, store: Store
) -> None:
    cursor = next_cursor(sync_page(api))
    assert re.fullmatch(r"01[0-9a-f]{56,}", cursor)
    assert "ts" not in bytes.fromhex(cursor).decode("latin-1")


def test_the_same_position_gives_a_different_cursor_each_time(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    cursor = next_cursor(pages_until_up_to_date(api)[-1])
    assert next_cursor(sync_page(api, cursor)) != next_cursor(sync_page(api, cursor))


def test_replaying_a_cursor_serves_the_same_values_again(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    cursor = next_cursor(pages_until_up_to_date(api)[-1])
    store.insert("t", {"n": 2})
    assert sync_page(api, cursor)["values"] == sync_page(api, cursor)["values"]


def test_a_malformed_cursor_is_invalid(api: httpx.Client) -> None:
    for cursor in ("", "zz", "01", "not a cursor", "00" * 40):
        response = api.post(SYNC, json={"cursor": cursor})
        body = assert_error(response, 400, "InvalidDataSyncCursor")
        assert body["message"] == "Could not parse the data sync cursor"


def test_a_tampered_cursor_is_invalid(api: httpx.Client, store: Store) -> None:
    cursor = next_cursor(sync_page(api))
    flipped = cursor[:40] + ("0" if cursor[40] != "0" else "1") + cursor[41:]
    assert_error(api.post(SYNC, json={"cursor": flipped}), 400, "InvalidDataSyncCursor")


def test_another_deployments_cursor_is_invalid(api: httpx.Client) -> None:
    with EmulatorServer(Store(seed=1)) as other:
        foreign = httpx.post(
            f"{other.url}{SYNC}", json={}, headers={"Authorization": f"Convex {other.admin_key}"}
        ).json()["pagination"]["nextCursor"]
    assert_error(api.post(SYNC, json={"cursor": foreign}), 400, "InvalidDataSyncCursor")


def test_a_cursor_that_is_not_a_string_is_a_bad_json_body(api: httpx.Client) -> None:
    assert_error(api.post(SYNC, json={"cursor": 17}), 400, "BadJsonBody")


def test_a_null_cursor_is_a_cold_start(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    response = api.post(SYNC, json={"cursor": None})
    assert response.status_code == 200
    assert response.json()["truncates"] == [{"component": "", "table": "t"}]


def test_a_cursor_ahead_of_the_deployment_is_invalid(api: httpx.Client, store: Store) -> None:
    ahead = encode_state(store.secret, SyncState(store.now_for_reads() + 10**12, "x"))
    body = assert_error(api.post(SYNC, json={"cursor": ahead}), 400, "InvalidDataSyncCursor")
    assert "ahead" in body["message"]


def test_a_cursor_outside_document_retention_has_expired(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    cursor = next_cursor(pages_until_up_to_date(api)[-1])
    store.clock.advance(15 * DAY)
    body = assert_error(api.post(SYNC, json={"cursor": cursor}), 400, "DataSyncCursorExpired")
    assert "without a cursor" in body["message"]


def test_expiry_follows_the_retention_knob(api: httpx.Client, store: Store) -> None:
    store.config.retention_seconds = 3 * DAY
    cursor = next_cursor(pages_until_up_to_date(api)[-1])
    store.clock.advance(2 * DAY)
    cursor = next_cursor(sync_page(api, cursor))
    store.clock.advance(3 * DAY + 1)
    assert_error(api.post(SYNC, json={"cursor": cursor}), 400, "DataSyncCursorExpired")


def test_polling_keeps_an_idle_cursor_alive(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    cursor = next_cursor(pages_until_up_to_date(api)[-1])
    for _ in range(5):
        store.clock.advance(10 * DAY)
        page = sync_page(api, cursor)
        assert page["status"]["type"] == "upToDate"
        cursor = next_cursor(page)


def test_an_expired_sync_restarts_from_scratch_without_a_cursor(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    cursor = next_cursor(pages_until_up_to_date(api)[-1])
    store.clock.advance(15 * DAY)
    assert api.post(SYNC, json={"cursor": cursor}).status_code == 400
    pages = pages_until_up_to_date(api)
    assert pages[0]["truncates"] == [{"component": "", "table": "t"}]
    assert len(values_of(pages)) == 1


def test_a_sealed_payload_of_the_wrong_shape_is_invalid(api: httpx.Client, store: Store) -> None:
    for payload in ({"ts": 1}, {"ts": 1, "synced": [], "current": 5, "docs": [0, 0], "syncId": ""}):
        token = seal(store.secret, SYNC_PURPOSE, payload)
        assert_error(api.post(SYNC, json={"cursor": token}), 400, "InvalidDataSyncCursor")
