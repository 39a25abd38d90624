"""``transport: data_sync``: tables replaced or cleared wholesale, re-synced and newly selected
converge through the tap (records of a new version, then ACTIVATE_VERSION once consistent)."""

from __future__ import annotations

from typing import Any

import pytest

from convex_emulator import EmulatorServer, Store
from tests.tap.harness import Output, Replica, discover, run_tap, source_documents
from tests.tap.test_convergence import stream_name, without_non_finite_text
from tests.tap.test_selection import select

DATA_SYNC = {"transport": "data_sync"}


def assert_converged(emulator: EmulatorServer, *outputs: Output) -> None:
    replica = Replica()
    for output in outputs:
        replica.apply(output)
    for tablet in emulator.store.active_tablets():
        name = stream_name(tablet.component, tablet.name)
        landed = without_non_finite_text(
            replica.documents(name), emulator.store, tablet.component, tablet.name
        )
        assert landed == source_documents(emulator, tablet.component, tablet.name), name


@pytest.fixture
def ds_config(config: dict[str, Any]) -> dict[str, Any]:
    return {**config, **DATA_SYNC}


@pytest.mark.parametrize("shape", ["current", "early"])
def test_a_table_replaced_wholesale_converges(
    shape: str, demo: Store, emulator: EmulatorServer, ds_config: dict[str, Any]
) -> None:
    emulator.configure({"data_sync_shape": shape, "data_sync_page_size_limit": 3})
    first = run_tap(ds_config)
    users = demo.documents()[("", "users")]
    kept = sorted(users)[:2]
    demo.replace_table(
        "users", [{"_id": doc_id, "name": "restored"} for doc_id in kept] + [{"name": "new"}]
    )
    demo.clear_table("messages")
    second = run_tap(ds_config, state=first.last_state)
    assert_converged(emulator, first, second)
    activated = {m["stream"] for m in second.of_type("ACTIVATE_VERSION")}
    assert {"users", "messages"} <= activated
    # Rows never vanish before their replacement has landed: the activation follows the
    # new version's records.
    kinds = [(m["type"], m.get("stream")) for m in second.messages]
    last_user_record = max(i for i, k in enumerate(kinds) if k == ("RECORD", "users"))
    assert kinds.index(("ACTIVATE_VERSION", "users")) > last_user_record
    versions = {m["record"]["_id"]: m["version"] for m in second.of_type("RECORD")}
    users_version = next(
        m["version"] for m in second.of_type("ACTIVATE_VERSION") if m["stream"] == "users"
    )
    assert all(
        versions[doc_id] == users_version for doc_id in source_documents(emulator, "", "users")
    )
    assert second.last_state["bookmarks"]["users"]["table_version"] == users_version


def test_a_stream_whose_bookmark_was_removed_is_synced_again_alone(
    demo: Store, emulator: EmulatorServer, ds_config: dict[str, Any]
) -> None:
    first = run_tap(ds_config)
    state = first.last_state
    assert state is not None
    del state["bookmarks"]["users"]
    again = run_tap(ds_config, state=state)
    assert {m["stream"] for m in again.of_type("ACTIVATE_VERSION")} == {"users"}
    assert Replica().apply(again).documents("users") == source_documents(emulator, "", "users")
    assert not again.records("messages")
    assert_converged(emulator, first, again)


def test_a_newly_selected_stream_gets_its_truncate(
    demo: Store, emulator: EmulatorServer, ds_config: dict[str, Any]
) -> None:
    catalog = discover(ds_config)
    others = {entry["tap_stream_id"] for entry in catalog["streams"]} - {"users"}
    first = run_tap(ds_config, catalog=select(catalog, others))
    assert first.records("messages")
    assert not first.records("users")
    demo.insert("users", {"name": "late"})
    second = run_tap(ds_config, state=first.last_state)
    assert {m["stream"] for m in second.of_type("ACTIVATE_VERSION")} == {"users"}
    assert_converged(emulator, first, second)


def test_the_walk_stops_at_up_to_date(
    demo: Store, emulator: EmulatorServer, ds_config: dict[str, Any]
) -> None:
    first = run_tap(ds_config)
    emulator.requests.clear()
    idle = run_tap(ds_config, state=first.last_state)
    assert len(emulator.requests.entries("v1/data/sync")) == 1
    assert not idle.records()
    assert not idle.of_type("ACTIVATE_VERSION")


@pytest.mark.parametrize("shape", ["current", "early"])
def test_a_stream_selected_again_retires_what_was_deleted_meanwhile(
    shape: str, demo: Store, emulator: EmulatorServer, ds_config: dict[str, Any]
) -> None:
    emulator.configure({"data_sync_shape": shape})
    first = run_tap(ds_config)
    catalog = discover(ds_config)
    others = {entry["tap_stream_id"] for entry in catalog["streams"]} - {"users"}
    without = run_tap(ds_config, state=first.last_state, catalog=select(catalog, others))
    assert without.last_state is not None
    assert "users" not in without.last_state["data_sync"]["streams"]
    demo.delete(min(demo.documents()[("", "users")]))
    again = run_tap(ds_config, state=without.last_state)
    assert {m["stream"] for m in again.of_type("ACTIVATE_VERSION")} == {"users"}
    assert_converged(emulator, first, without, again)
