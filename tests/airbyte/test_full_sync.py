"""A first sync: a pinned snapshot of each table, every Convex type exact."""

from __future__ import annotations

from convex_emulator import EmulatorServer, ServerOptions, Store, datasets
from tests.airbyte.harness import (
    POSITION,
    Replica,
    config_for,
    expected,
    last_states,
    positions,
    records_of,
    sync,
)

DEMO_TABLES = {
    "users": ("", "users"),
    "messages": ("", "messages"),
    "products": ("", "products"),
    "drafts": ("", "drafts"),
    "waitlist__users": ("waitlist", "users"),
}


def test_a_full_sync_of_every_convex_type_equals_the_source(
    store: Store, emulator: EmulatorServer
) -> None:
    datasets.load_demo(store)

    output = sync(config_for(emulator))

    assert not output.errors
    replica = Replica().apply(records_of(output))
    for stream, (component, table) in DEMO_TABLES.items():
        assert replica.documents(stream) == expected(emulator, component, table), stream
    created = {
        value["_id"]: value["_creationTime"] for value in store.documents()[("", "users")].values()
    }
    for stream, record in records_of(output):
        assert isinstance(record["_ts"], int)
        assert record["_deleted"] is False
        if stream == "users":
            micros = round(created[record["_id"]] * 1000)
            assert record["_creationTime"].endswith(f".{micros % 1_000_000:06d}+00:00")


def test_a_snapshot_is_pinned_and_its_position_is_the_state_of_its_stream(
    store: Store, emulator: EmulatorServer
) -> None:
    datasets.load_demo(store)

    output = sync(config_for(emulator))

    pages = [e["args"] for e in emulator.requests.entries("list_snapshot")]
    by_table: dict[str, set[int]] = {}
    for args in pages:
        if "snapshot" in args:  # a later page of a walk
            by_table.setdefault(str(args["selection"]), set()).add(args["snapshot"])
    assert by_table, "every table should span several pages"
    assert all(len(snapshots) == 1 for snapshots in by_table.values())
    saved = positions(last_states(output.state_messages))
    users = [r for stream, r in records_of(output) if stream == "users"]
    assert {r[POSITION] for r in users} == {saved["users"]}


def test_every_request_selects_exactly_one_component_and_table(
    store: Store, emulator: EmulatorServer
) -> None:
    datasets.load_demo(store)
    config = config_for(emulator)
    first = sync(config)
    store.insert("users", {"email": "late@example.com"}, "waitlist")
    sync(config, last_states(first.state_messages))

    reads = emulator.requests.entries("list_snapshot") + emulator.requests.entries(
        "document_deltas"
    )
    assert {e["endpoint"] for e in reads} == {"list_snapshot", "document_deltas"}
    for entry in reads:
        args = entry["args"]
        assert "tableName" not in args, args
        assert "table_name" not in args, args
        selection = args["selection"]
        components = [key for key in selection if key != "_other"]
        assert selection["_other"] == "excl"
        assert len(components) == 1, selection
        tables = selection[components[0]]
        chosen = [key for key in tables if key != "_other"]
        assert tables["_other"] == "excl"
        assert len(chosen) == 1, selection
        assert tables[chosen[0]] == {"_other": "incl"}
        assert args["format"] == "convex_encoded_json"


def test_a_server_that_ignores_the_selection_never_mixes_tables(store: Store) -> None:
    datasets.load_demo(store)
    with EmulatorServer(store, options=ServerOptions(ignore_selection=True)) as emulator:
        output = sync(config_for(emulator))

    assert not output.errors
    replica = Replica().apply(records_of(output))
    for stream, (component, table) in DEMO_TABLES.items():
        assert replica.documents(stream) == expected(emulator, component, table), stream
