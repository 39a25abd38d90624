"""Snapshot, handoff and change-log sync: what a replay of the output holds."""

from __future__ import annotations

from typing import Any

from convex_emulator import EmulatorServer, Store
from tap_convex import __version__
from tests.tap.harness import Replica, discover, run_tap, source_documents

DEMO_STREAMS = {
    "users": ("", "users"),
    "messages": ("", "messages"),
    "products": ("", "products"),
    "drafts": ("", "drafts"),
    "waitlist__users": ("waitlist", "users"),
}


def assert_replica_matches_source(replica: Replica, emulator: EmulatorServer) -> None:
    for stream, (component, table) in DEMO_STREAMS.items():
        assert replica.documents(stream) == source_documents(emulator, component, table), stream


def test_full_sync_reproduces_every_table_of_every_component(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    output = run_tap(config)
    replica = Replica().apply(output)
    assert_replica_matches_source(replica, emulator)
    assert len(replica.rows["messages"]) == 200
    assert len(replica.rows["waitlist__users"]) == 15


def test_incremental_run_applies_inserts_updates_and_deletes(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    first = run_tap(config)
    some_user = next(iter(demo.documents()[("", "users")]))
    some_message = next(iter(demo.documents()[("", "messages")]))
    demo.patch(some_user, {"name": "renamed", "karma": -(2**62)})
    demo.delete(some_message)
    new_id = demo.insert("products", {"sku": "NEW", "stock": 2**60})
    second = run_tap(config, state=first.last_state)
    assert {r["_id"] for r in second.records()} == {some_user, some_message, new_id}
    tombstone = next(r for r in second.records() if r["_id"] == some_message)
    assert tombstone["_deleted"] is True
    assert tombstone["body"] is None
    assert tombstone["_sdc_deleted_at"] is not None
    replica = Replica().apply(first).apply(second)
    assert_replica_matches_source(replica, emulator)


def test_transaction_larger_than_a_page_arrives_whole(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    emulator.configure({"deltas_page_limit": 4})
    first = run_tap(config)
    with demo.transaction() as tx:
        for number in range(50):
            tx.insert("messages", {"body": f"bulk {number}", "likes": number})
    second = run_tap(config, state=first.last_state)
    timestamps = {r["_ts"] for r in second.records("messages")}
    assert len(second.records("messages")) == 50
    assert len(timestamps) == 1
    assert_replica_matches_source(Replica().apply(first).apply(second), emulator)


def test_snapshot_follows_empty_pages_at_table_boundaries(
    store: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    emulator.configure({"snapshot_page_limit": 5})
    store.create_table("empty")
    for number in range(10):  # an exact multiple of the page: the table ends with an empty page
        store.insert("tens", {"n": number})
    store.insert("single", {"n": 1})
    output = run_tap(config)
    assert len(output.records("tens")) == 10
    assert len(output.records("single")) == 1
    pages = emulator.requests.entries("list_snapshot")
    assert any(entry["values"] == 0 for entry in pages[:-1])


def test_empty_deployment_syncs_nothing_and_succeeds(
    emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    output = run_tap(config)
    assert output.records() == []


def test_every_record_carries_the_version_activated_by_its_snapshot(
    demo: Store, config: dict[str, Any]
) -> None:
    first = run_tap(config)
    versions = {m["stream"]: m["version"] for m in first.of_type("ACTIVATE_VERSION")}
    assert set(versions) == set(DEMO_STREAMS)
    assert all(m["version"] == versions[m["stream"]] for m in first.of_type("RECORD"))
    demo.insert("users", {"name": "late"})
    second = run_tap(config, state=first.last_state)
    assert [m["version"] for m in second.of_type("RECORD")] == [versions["users"]]


def test_activate_version_follows_the_snapshot_records_of_its_stream(
    demo: Store, config: dict[str, Any]
) -> None:
    output = run_tap(config)
    kinds = [(m["type"], m.get("stream")) for m in output.messages]
    last_record = max(i for i, k in enumerate(kinds) if k == ("RECORD", "messages"))
    assert kinds.index(("ACTIVATE_VERSION", "messages")) > last_record


def test_records_of_a_key_go_out_in_ts_order(demo: Store, config: dict[str, Any]) -> None:
    first = run_tap(config)
    user = next(iter(demo.documents()[("", "users")]))
    for number in range(5):
        demo.patch(user, {"age": number})
    demo.delete(user)
    second = run_tap(config, state=first.last_state)
    timestamps = [r["_ts"] for r in second.records("users") if r["_id"] == user]
    assert timestamps == sorted(timestamps)
    assert len(timestamps) == 6


def test_removing_one_bookmark_resnapshots_that_table_alone(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    first = run_tap(config)
    state = first.last_state
    del state["bookmarks"]["products"]
    demo.insert("users", {"name": "after"})
    emulator.requests.clear()
    second = run_tap(config, state=state)
    assert {m["stream"] for m in second.of_type("ACTIVATE_VERSION")} == {"products"}
    assert len(second.records("products")) == 25
    assert [r["name"] for r in second.records("users")] == ["after"]
    snapshot_selection = emulator.requests.entries("list_snapshot")[0]["args"]["selection"]
    assert snapshot_selection == {
        "_other": "excl",
        "": {"_other": "excl", "products": {"_other": "incl"}},
    }
    assert_replica_matches_source(Replica().apply(first).apply(second), emulator)


def test_delta_cursor_advances_on_a_quiet_deployment(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    first = run_tap(config)
    before = first.last_state["bookmarks"]["drafts"]["deltas_cursor"]
    demo.clock.advance(3600)
    demo.system_writes(300)  # log rows no stream selects: empty pages that still move the cursor
    emulator.configure({"deltas_page_limit": 50})
    second = run_tap(config, state=first.last_state)
    assert second.records() == []
    after = second.last_state["bookmarks"]["drafts"]["deltas_cursor"]
    assert after >= before + 3600 * 10**9
    assert len(second.states) >= 6  # a checkpoint after every page, empty ones included


def test_state_bookmarks_carry_phase_positions_and_format(
    demo: Store, config: dict[str, Any]
) -> None:
    bookmark = run_tap(config).last_state["bookmarks"]["waitlist__users"]
    assert bookmark["state_format"] == 1
    assert (bookmark["component"], bookmark["table"], bookmark["phase"]) == (
        "waitlist",
        "users",
        "deltas",
    )
    assert isinstance(bookmark["deltas_cursor"], int)
    assert isinstance(bookmark["table_version"], int)


def test_state_never_moves_backwards(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    emulator.configure({"snapshot_page_limit": 7, "deltas_page_limit": 5})
    first = run_tap(config)
    for number in range(40):
        demo.insert("messages", {"body": str(number)})
    second = run_tap(config, state=first.last_state)
    cursors = [s["bookmarks"]["messages"]["deltas_cursor"] for s in second.states]
    assert cursors == sorted(cursors)


def test_requests_identify_the_client_as_tap_convex(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    run_tap(config)
    clients = {entry["client"] for entry in emulator.requests.entries()}
    assert clients == {f"tap-convex-{__version__}"}


def test_selected_stream_whose_table_was_deleted_is_skipped_with_a_warning(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any], caplog: Any
) -> None:
    catalog = discover(config)
    first = run_tap(config, catalog=catalog)
    demo.delete_table("products")
    demo.insert("users", {"name": "still syncing"})
    second = run_tap(config, state=first.last_state, catalog=catalog)
    assert "'products' is selected but its table no longer exists" in caplog.text
    assert [r["name"] for r in second.records("users")] == ["still syncing"]
