"""Fault injection: planned misbehaviour of chosen endpoints, a bounded number of times."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from convex_emulator import EmulatorServer, Fault, Store

from .helpers import assert_error

SNAPSHOT = "/api/list_snapshot"
CONNECTION = "/api/test_streaming_export_connection"


@pytest.fixture
def data(store: Store) -> Store:
    for n in range(20):
        store.insert("t", {"n": n, "text": "x" * 50})
    return store


def test_429_with_retry_after(emulator: EmulatorServer, api: httpx.Client, data: Store) -> None:
    emulator.faults.add(Fault("list_snapshot", status=429, retry_after=2))
    response = api.post(SNAPSHOT, json={})
    assert_error(response, 429, "RateLimited")
    assert response.headers["Retry-After"] == "2"
    assert api.post(SNAPSHOT, json={}).status_code == 200


def test_500_is_an_internal_server_error(
    emulator: EmulatorServer, api: httpx.Client, data: Store
) -> None:
    emulator.faults.add(Fault("list_snapshot"))
    response = api.post(SNAPSHOT, json={})
    assert_error(response, 500, "InternalServerError")
    assert "Retry-After" not in response.headers


def test_503_is_overloaded(emulator: EmulatorServer, api: httpx.Client, data: Store) -> None:
    emulator.faults.add(Fault("document_deltas", status=503))
    response = api.post("/api/document_deltas", json={"cursor": data.now_for_reads()})
    assert_error(response, 503, "Overloaded")


def test_custom_code_and_message(emulator: EmulatorServer, api: httpx.Client) -> None:
    emulator.faults.add(
        Fault("*", status=503, code="TableSummariesUnavailable", message="Bootstrapping")
    )
    response = api.get("/api/get_table_column_names")
    assert response.json() == {"code": "TableSummariesUnavailable", "message": "Bootstrapping"}


def test_drop_closes_the_connection_mid_body(
    emulator: EmulatorServer, api: httpx.Client, data: Store
) -> None:
    emulator.faults.add(Fault("list_snapshot", kind="drop"))
    with pytest.raises(httpx.RemoteProtocolError):
        api.post(SNAPSHOT, json={})
    assert api.post(SNAPSHOT, json={}).status_code == 200


def test_slow_answers_normally_after_the_delay(
    emulator: EmulatorServer, api: httpx.Client, data: Store
) -> None:
    expected = api.post(SNAPSHOT, json={}).json()
    emulator.faults.add(Fault("list_snapshot", kind="slow", delay=0.2))
    began = time.perf_counter()
    response = api.post(SNAPSHOT, json={"snapshot": expected["snapshot"]})
    assert time.perf_counter() - began >= 0.2
    assert response.json() == expected


def test_slow_trips_a_short_client_timeout(
    emulator: EmulatorServer, api: httpx.Client, data: Store
) -> None:
    emulator.faults.add(Fault("list_snapshot", kind="slow", delay=0.3))
    with pytest.raises(httpx.ReadTimeout):
        api.post(SNAPSHOT, json={}, timeout=0.05)


def test_truncate_sends_200_with_half_a_json_body(
    emulator: EmulatorServer, api: httpx.Client, data: Store
) -> None:
    full = api.post(SNAPSHOT, json={}).content
    emulator.faults.add(Fault("list_snapshot", kind="truncate"))
    response = api.post(SNAPSHOT, json={})
    assert response.status_code == 200
    assert full.startswith(response.content)
    assert len(response.content) == len(full) // 2
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_html_answers_a_proxy_error_page(emulator: EmulatorServer, api: httpx.Client) -> None:
    emulator.faults.add(Fault("*", kind="html"))
    response = api.get(CONNECTION)
    assert response.status_code == 502
    assert response.headers["content-type"] == "text/html"
    assert response.text.startswith("<html>")


def test_html_can_use_another_status(emulator: EmulatorServer, api: httpx.Client) -> None:
    emulator.faults.add(Fault("*", kind="html", status=504))
    assert api.get(CONNECTION).status_code == 504


def test_fault_only_hits_its_endpoint(emulator: EmulatorServer, api: httpx.Client) -> None:
    emulator.faults.add(Fault("document_deltas"))
    assert api.get(CONNECTION).status_code == 200
    cursor = api.post(SNAPSHOT, json={}).json()["snapshot"]
    assert api.post("/api/document_deltas", json={"cursor": cursor}).status_code == 500


def test_a_real_error_wins_over_a_pending_fault(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.faults.add(Fault("document_deltas", status=503))
    assert_error(api.post("/api/document_deltas", json={}), 400, "DocumentDeltasCursorRequired")
    assert len(emulator.faults.pending()) == 1


def test_wildcard_fault_hits_any_endpoint(emulator: EmulatorServer, api: httpx.Client) -> None:
    emulator.faults.add(Fault("*", count=2))
    assert api.get(CONNECTION).status_code == 500
    assert api.post(SNAPSHOT, json={}).status_code == 500
    assert api.get(CONNECTION).status_code == 200


def test_fault_fires_count_times_then_disappears(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.faults.add(Fault("test_streaming_export_connection", count=3))
    statuses = [api.get(CONNECTION).status_code for _ in range(5)]
    assert statuses == [500, 500, 500, 200, 200]
    assert emulator.faults.pending() == []


def test_skip_lets_requests_through_before_firing(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.faults.add(Fault("test_streaming_export_connection", skip=2, count=1))
    statuses = [api.get(CONNECTION).status_code for _ in range(4)]
    assert statuses == [200, 200, 500, 200]


def test_faults_fire_only_after_authentication_succeeds(
    emulator: EmulatorServer, anonymous: httpx.Client
) -> None:
    emulator.faults.add(Fault("*"))
    assert_error(anonymous.get(CONNECTION), 403, "BadDeployKey")
    assert len(emulator.faults.pending()) == 1


def test_clear_removes_pending_faults(emulator: EmulatorServer, api: httpx.Client) -> None:
    emulator.faults.add(Fault("*", count=5))
    emulator.faults.clear()
    assert api.get(CONNECTION).status_code == 200


def test_fault_is_recorded_in_the_request_log_with_its_status(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    emulator.faults.add(Fault("*", status=429))
    api.get(CONNECTION)
    assert emulator.requests.entries()[-1]["status"] == 429


def test_unknown_fault_kind_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown fault kind 'explode'"):
        Fault("*", kind="explode")


def test_fault_count_must_be_positive() -> None:
    with pytest.raises(ValueError, match="count must be at least 1"):
        Fault("*", count=0)


def test_fault_from_dict_rejects_unknown_fields() -> None:
    with pytest.raises(ValueError, match=r"unknown fault fields: \['colour'\]"):
        Fault.from_dict({"endpoint": "*", "colour": "red"})


def test_null_cursor_fault_keeps_has_more_but_drops_the_cursor(
    store: Store, emulator: EmulatorServer, api: httpx.Client
) -> None:
    store.create_table("a")
    store.create_table("b")
    emulator.faults.add(Fault("list_snapshot", "null_cursor"))
    body = api.post("/api/list_snapshot", json={}).json()
    assert body["hasMore"] is True
    assert body["cursor"] is None


def test_shift_snapshot_fault_answers_another_snapshot(
    store: Store, emulator: EmulatorServer, api: httpx.Client
) -> None:
    snapshot = store.now_for_reads()
    emulator.faults.add(Fault("list_snapshot", "shift_snapshot"))
    assert (
        api.post("/api/list_snapshot", json={"snapshot": snapshot}).json()["snapshot"]
        == snapshot + 1
    )


def test_rewind_cursor_fault_moves_the_deltas_cursor_backwards(
    store: Store, emulator: EmulatorServer, api: httpx.Client
) -> None:
    cursor = store.now_for_reads()
    emulator.faults.add(Fault("document_deltas", "rewind_cursor"))
    assert api.post("/api/document_deltas", json={"cursor": cursor}).json()["cursor"] < cursor


def test_drop_and_mistype_field_faults_alter_one_top_level_key(
    store: Store, emulator: EmulatorServer, api: httpx.Client
) -> None:
    cursor = store.now_for_reads()
    emulator.faults.add(Fault("document_deltas", "drop_field", field="hasMore"))
    emulator.faults.add(Fault("document_deltas", "mistype_field", field="cursor"))
    assert "hasMore" not in api.post("/api/document_deltas", json={"cursor": cursor}).json()
    assert (
        api.post("/api/document_deltas", json={"cursor": cursor}).json()["cursor"] == "unexpected"
    )


def test_value_field_faults_alter_one_key_of_every_value(
    store: Store, emulator: EmulatorServer, api: httpx.Client
) -> None:
    for number in range(3):
        store.insert("t", {"n": number})
    emulator.faults.add(Fault("list_snapshot", "drop_value_field", field="_ts"))
    emulator.faults.add(Fault("list_snapshot", "mistype_value_field", field="_table"))
    dropped = api.post("/api/list_snapshot", json={}).json()["values"]
    assert len(dropped) == 3
    assert not any("_ts" in value for value in dropped)
    mistyped = api.post("/api/list_snapshot", json={}).json()["values"]
    assert [value["_table"] for value in mistyped] == [["unexpected"]] * 3
    assert all(
        type(value["_ts"]) is int
        for value in api.post("/api/list_snapshot", json={}).json()["values"]
    )


def test_trickle_fault_delivers_the_whole_body_slowly(
    store: Store, emulator: EmulatorServer, api: httpx.Client
) -> None:
    for number in range(50):
        store.insert("t", {"text": "x" * 100, "n": number})
    emulator.faults.add(Fault("list_snapshot", "trickle", delay=0.01))
    assert len(api.post("/api/list_snapshot", json={}).json()["values"]) == 50
