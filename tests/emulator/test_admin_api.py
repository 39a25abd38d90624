"""The HTTP admin API under ``/_emulator/``, driven through :class:`EmulatorClient`."""

from __future__ import annotations

import httpx
import pytest

from convex_emulator import EmulatorClient, EmulatorServer, Store

from .helpers import assert_error, delta_values, list_snapshot, snapshot_values


@pytest.fixture
def client(emulator: EmulatorServer) -> EmulatorClient:
    return EmulatorClient(emulator.url, emulator.admin_key, timeout=10)


def test_admin_api_requires_the_deploy_key(emulator: EmulatorServer) -> None:
    with pytest.raises(RuntimeError, match="401"):
        EmulatorClient(emulator.url, "prod:emulator|wrong", timeout=10).stats()


def test_admin_api_without_credentials_is_403(anonymous: httpx.Client) -> None:
    assert_error(anonymous.get("/_emulator/stats"), 403, "BadDeployKey")


def test_insert_takes_export_json_values(client: EmulatorClient, api: httpx.Client) -> None:
    doc = client.insert(
        "t",
        {"big": 2**60, "f": 1.0, "nan": {"$float": "AAAAAAAA+H8="}, "blob": {"$bytes": "aGVsbG8="}},
    )
    (value,) = list_snapshot(api, format="convex_encoded_json")["values"]
    assert value["_id"] == doc
    assert value["big"] == {"$integer": "AAAAAAAAABA="}
    assert value["f"] == 1.0
    assert value["nan"] == {"$float": "AAAAAAAA+H8="}
    assert value["blob"] == {"$bytes": "aGVsbG8="}


def test_transaction_applies_all_ops_under_one_ts(
    client: EmulatorClient, api: httpx.Client, store: Store
) -> None:
    keep = client.insert("t", {"n": 1})
    drop = client.insert("t", {"n": 2})
    cursor = store.now_for_reads()
    result = client.transaction(
        [
            {"op": "insert", "table": "t", "doc": {"n": 3}},
            {"op": "insert", "table": "users", "doc": {"n": 4}, "component": "waitlist"},
            {"op": "patch", "id": keep, "fields": {"n": 10}},
            {"op": "delete", "id": drop},
        ]
    )
    assert result["ids"][2:] == [keep, drop]
    values = delta_values(api, cursor)
    assert {value["_ts"] for value in values} == {result["ts"]}
    assert len(values) == 4


def test_failed_transaction_commits_nothing(client: EmulatorClient, store: Store) -> None:
    before = store.last_commit_ts
    with pytest.raises(RuntimeError, match="400"):
        client.transaction(
            [{"op": "insert", "table": "t", "doc": {"n": 1}}, {"op": "delete", "id": "missing"}]
        )
    assert store.last_commit_ts == before
    assert store.documents() == {}


def test_failed_transaction_leaves_no_new_component_behind(
    client: EmulatorClient, api: httpx.Client
) -> None:
    with pytest.raises(RuntimeError, match="400"):
        client.transaction(
            [
                {"op": "insert", "table": "t", "doc": {"n": 1}, "component": "ghost"},
                {"op": "delete", "id": "missing"},
            ]
        )
    assert api.get("/api/get_table_column_names").json() == {"byComponent": {"": []}}


def test_replace_keeps_system_fields(client: EmulatorClient, api: httpx.Client) -> None:
    doc = client.insert("t", {"a": 1})
    created = list_snapshot(api)["values"][0]["_creationTime"]
    client.transaction([{"op": "replace", "id": doc, "doc": {"b": 2}}])
    (value,) = list_snapshot(api)["values"]
    assert (value["_id"], value["_creationTime"], value["b"]) == (doc, created, "2")
    assert "a" not in value


def test_patch_and_delete_helpers(client: EmulatorClient, api: httpx.Client) -> None:
    a = client.insert("t", {"n": 1})
    b = client.insert("t", {"n": 2})
    client.patch(a, {"n": 5})
    client.delete(b)
    assert [(value["_id"], value["n"]) for value in list_snapshot(api)["values"]] == [(a, "5")]


def test_documents_is_ground_truth_in_export_json(client: EmulatorClient) -> None:
    doc = client.insert("t", {"big": 2**60}, component="c")
    (document,) = client.documents()
    assert document["_component"] == "c"
    assert document["_table"] == "t"
    assert document["_id"] == doc
    assert document["big"] == 2**60


def test_create_and_delete_table(client: EmulatorClient, api: httpx.Client, store: Store) -> None:
    client.create_table("empty")
    tables = api.get("/api/get_table_column_names").json()["byComponent"][""]
    assert [table["name"] for table in tables] == ["empty"]
    ts = client.delete_table("empty")
    assert ts == store.last_commit_ts
    assert snapshot_values(api) == []


def test_system_writes_advance_the_log(client: EmulatorClient, store: Store) -> None:
    before = client.stats()["log_rows"]
    client.system_writes(5)
    assert client.stats()["log_rows"] == before + 5


def test_advance_clock_returns_the_new_now(client: EmulatorClient, store: Store) -> None:
    start = store.clock.now_ns()
    assert client.advance_clock(2.0) == start + 2_000_000_000 == store.now_for_reads()


def test_configure_changes_knobs_and_switches(
    client: EmulatorClient, emulator: EmulatorServer
) -> None:
    settings = client.configure(deltas_page_limit=7, streaming_export_enabled=False)
    assert settings["deltas_page_limit"] == 7
    assert settings["streaming_export_enabled"] is False
    assert emulator.store.config.deltas_page_limit == 7
    assert emulator.options.streaming_export_enabled is False


def test_configure_rejects_unknown_settings(client: EmulatorClient) -> None:
    with pytest.raises(RuntimeError, match="BadAdminRequest"):
        client.configure(page_size=5)


def test_add_fault_then_clear(client: EmulatorClient, api: httpx.Client) -> None:
    client.add_fault("list_snapshot", status=503, count=2)
    assert api.post("/api/list_snapshot", json={}).status_code == 503
    client.clear_faults()
    assert api.post("/api/list_snapshot", json={}).status_code == 200


def test_requests_lists_and_filters_the_request_log(
    client: EmulatorClient, api: httpx.Client
) -> None:
    api.get("/api/test_streaming_export_connection")
    api.post("/api/list_snapshot", json={})
    assert [entry["endpoint"] for entry in client.requests()] == [
        "test_streaming_export_connection",
        "list_snapshot",
    ]
    assert [entry["endpoint"] for entry in client.requests("list_snapshot")] == ["list_snapshot"]
    client.clear_requests()
    assert client.requests() == []


def test_admin_calls_are_not_in_the_request_log(client: EmulatorClient) -> None:
    client.stats()
    client.insert("t", {"n": 1})
    assert client.requests() == []


def test_load_demo_seeds_the_deployment(client: EmulatorClient) -> None:
    stats = client.load(demo=True)
    assert {(t["component"], t["table"]) for t in stats["tables"]} >= {
        ("", "users"),
        ("waitlist", "users"),
    }


def test_load_generate_adds_that_many_documents(client: EmulatorClient) -> None:
    stats = client.load(generate=100)
    assert sum(table["documents"] for table in stats["tables"]) == 100


def test_stats_reports_now_and_tables(client: EmulatorClient, store: Store) -> None:
    client.insert("t", {"n": 1})
    stats = client.stats()
    assert stats["now"] == store.now_for_reads()
    assert stats["last_commit_ts"] == store.last_commit_ts
    assert [(t["table"], t["documents"]) for t in stats["tables"]] == [("t", 1)]


def test_unknown_admin_action_is_400(api: httpx.Client) -> None:
    assert_error(api.get("/_emulator/nothing"), 400, "BadAdminRequest")
