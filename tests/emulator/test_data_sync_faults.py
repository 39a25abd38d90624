"""Fault injection and the request log on the Data Sync routes."""

from __future__ import annotations

import json

import httpx
import pytest

from convex_emulator import EmulatorClient, EmulatorServer, Fault, Store

from .helpers import assert_error
from .sync_helpers import SYNC, next_cursor, pages_until_up_to_date, sync_page

LIST = "/api/v1/data/list_active_syncs"
CONVERT = "/api/data_sync_cursor_from_deltas"


def test_a_status_fault_fails_one_data_sync_page(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.faults.add(Fault("v1/data/sync", status=503))
    assert_error(api.post(SYNC, json={}), 503, "Overloaded")
    assert api.post(SYNC, json={}).status_code == 200


def test_a_fault_can_land_mid_sync(emulator: EmulatorServer, api: httpx.Client) -> None:
    emulator.faults.add(Fault("v1/data/sync", status=429, skip=2, retry_after=1))
    page = sync_page(api)
    page = sync_page(api, next_cursor(page))
    response = api.post(SYNC, json={"cursor": next_cursor(page)})
    assert_error(response, 429, "RateLimited")
    assert response.headers["Retry-After"] == "1"


def test_faults_reach_list_active_syncs_and_the_conversion(
    emulator: EmulatorServer, api: httpx.Client, store: Store
) -> None:
    emulator.faults.add(Fault("v1/data/list_active_syncs"))
    emulator.faults.add(Fault("data_sync_cursor_from_deltas", status=503))
    assert_error(api.get(LIST), 500, "InternalServerError")
    assert_error(api.post(CONVERT, json={"cursor": store.now_for_reads()}), 503, "Overloaded")


def test_a_wildcard_fault_hits_data_sync_too(emulator: EmulatorServer, api: httpx.Client) -> None:
    emulator.faults.add(Fault("*", kind="html"))
    response = api.post(SYNC, json={})
    assert response.status_code == 502
    assert response.headers["Content-Type"] == "text/html"


def test_a_truncated_data_sync_body_is_invalid_json(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.faults.add(Fault("v1/data/sync", kind="truncate"))
    response = api.post(SYNC, json={})
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_a_dropped_pagination_is_a_hostile_answer(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.faults.add(Fault("v1/data/sync", kind="drop_field", field="pagination"))
    assert "pagination" not in api.post(SYNC, json={}).json()


def test_null_cursor_nulls_the_next_cursor(emulator: EmulatorServer, api: httpx.Client) -> None:
    emulator.faults.add(Fault("v1/data/sync", kind="null_cursor"))
    assert api.post(SYNC, json={}).json()["pagination"] == {"hasMore": True, "nextCursor": None}


def test_an_unknown_status_is_a_hostile_answer(emulator: EmulatorServer, api: httpx.Client) -> None:
    emulator.faults.add(Fault("v1/data/sync", kind="unknown_status"))
    assert api.post(SYNC, json={}).json()["status"] == {"type": "paused"}


@pytest.mark.parametrize("kind", ["repeat_cursor", "rewind_cursor"])
def test_repeat_and_rewind_answer_the_opaque_cursor_that_was_sent(
    emulator: EmulatorServer, api: httpx.Client, store: Store, kind: str
) -> None:
    store.insert("t", {"n": 1})
    sent = next_cursor(sync_page(api))
    emulator.faults.add(Fault("v1/data/sync", kind=kind))
    assert next_cursor(sync_page(api, sent)) == sent


def test_repeat_cursor_repeats_a_document_deltas_cursor_too(
    emulator: EmulatorServer, api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    emulator.faults.add(Fault("document_deltas", kind="repeat_cursor"))
    cursor = store.now_for_reads() - 10
    assert api.post("/api/document_deltas", json={"cursor": cursor}).json()["cursor"] == cursor


def test_shift_snapshot_moves_the_status_ts(
    emulator: EmulatorServer, api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    cursor = next_cursor(pages_until_up_to_date(api)[-1])
    cursor = next_cursor(sync_page(api, cursor))  # settled: no more progress writes
    emulator.faults.add(Fault("v1/data/sync", kind="shift_snapshot"))
    shifted = sync_page(api, cursor)["status"]["snapshotTs"]
    real = sync_page(api, cursor)["status"]["snapshotTs"]
    assert shifted == real + 1


def test_value_field_faults_reach_into_the_document(
    emulator: EmulatorServer, api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    emulator.faults.add(Fault("v1/data/sync", kind="drop_value_field"))
    emulator.faults.add(Fault("v1/data/sync", kind="mistype_value_field", field="deleted"))
    (dropped,) = sync_page(api)["values"]
    assert "_id" not in dropped["value"]
    (mistyped,) = sync_page(api)["values"]
    assert mistyped["deleted"] == ["unexpected"]


def test_faults_on_data_sync_are_planned_through_the_admin_api(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    client = EmulatorClient(emulator.url, emulator.admin_key, timeout=10)
    client.add_fault("v1/data/sync", "unknown_status")
    assert api.post(SYNC, json={}).json()["status"]["type"] == "paused"


def test_the_log_records_data_sync_requests_with_values_and_client(
    emulator: EmulatorServer, api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    selection = {"_other": "included"}
    api.post(SYNC, json={"selection": selection}, headers={"Convex-Client": "tap-convex-1.0.0"})
    (entry,) = emulator.requests.entries("v1/data/sync")
    assert (entry["method"], entry["status"], entry["values"]) == ("POST", 200, 1)
    assert entry["args"] == {"selection": selection}
    assert entry["client"] == "tap-convex-1.0.0"


def test_the_log_records_data_sync_errors(emulator: EmulatorServer, api: httpx.Client) -> None:
    api.post(SYNC, json={"cursor": "zz"})
    assert emulator.requests.entries("v1/data/sync")[-1]["status"] == 400


def test_the_log_records_faulted_data_sync_requests(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.faults.add(Fault("v1/data/sync", status=503))
    api.post(SYNC, json={})
    assert emulator.requests.entries("v1/data/sync")[-1]["status"] == 503


def test_the_log_names_each_data_sync_route(emulator: EmulatorServer, api: httpx.Client) -> None:
    api.get(LIST)
    api.post(CONVERT, json={"cursor": emulator.store.now_for_reads()})
    assert [e["endpoint"] for e in emulator.requests.entries()] == [
        "v1/data/list_active_syncs",
        "data_sync_cursor_from_deltas",
    ]
