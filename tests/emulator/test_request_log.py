"""The request log: what the server was asked, for tests and benchmarks."""

from __future__ import annotations

import httpx

from convex_emulator import EmulatorServer

SELECTION = {"_other": "excl", "": {"_other": "excl", "t": {"_other": "incl"}}}


def test_log_records_endpoint_method_args_and_status(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    api.post("/api/list_snapshot", json={"selection": SELECTION, "format": "json"})
    (entry,) = emulator.requests.entries()
    assert entry["endpoint"] == "list_snapshot"
    assert entry["method"] == "POST"
    assert entry["args"] == {"selection": SELECTION, "format": "json"}
    assert entry["status"] == 200
    assert entry["values"] == 0


def test_log_records_get_query_args(emulator: EmulatorServer, api: httpx.Client) -> None:
    api.get("/api/list_snapshot", params={"tableName": "t", "component": "c"})
    assert emulator.requests.entries()[-1]["args"] == {"tableName": "t", "component": "c"}


def test_log_records_error_statuses(emulator: EmulatorServer, api: httpx.Client) -> None:
    api.post("/api/document_deltas", json={})
    assert emulator.requests.entries("document_deltas")[-1]["status"] == 400


def test_log_never_records_the_authorization_header(
    emulator: EmulatorServer, api: httpx.Client
) -> None:
    api.post("/api/list_snapshot", json={"selection": SELECTION})
    api.get("/api/test_streaming_export_connection", headers={"Authorization": "Convex wrong"})
    secret = emulator.admin_key.split("|")[1]
    assert emulator.requests.entries()
    for entry in emulator.requests.entries():
        assert "Authorization" not in repr(entry)
        assert secret not in repr(entry)
        assert "wrong" not in repr(entry)


def test_log_counts_values_returned(emulator: EmulatorServer, api: httpx.Client) -> None:
    for n in range(3):
        emulator.store.insert("t", {"n": n})
    api.post("/api/list_snapshot", json={})
    assert emulator.requests.entries("list_snapshot")[-1]["values"] == 3


def test_log_entries_are_numbered_in_order(emulator: EmulatorServer, api: httpx.Client) -> None:
    for _ in range(3):
        api.get("/api/test_streaming_export_connection")
    sequence = [entry["seq"] for entry in emulator.requests.entries()]
    assert sequence == sorted(sequence)
    assert len(set(sequence)) == 3


def test_log_filters_by_endpoint_and_clears(emulator: EmulatorServer, api: httpx.Client) -> None:
    api.get("/api/test_streaming_export_connection")
    api.get("/api/get_table_column_names")
    assert len(emulator.requests.entries("get_table_column_names")) == 1
    emulator.requests.clear()
    assert emulator.requests.entries() == []
