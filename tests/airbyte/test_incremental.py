"""Later syncs: the change log from each stream's saved position, deletes included."""

from __future__ import annotations

from convex_emulator import EmulatorClient, EmulatorServer, Store, datasets
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


def test_inserts_updates_deletes_and_a_transaction_larger_than_a_page_arrive_as_changes(
    store: Store, emulator: EmulatorServer, admin: EmulatorClient
) -> None:
    datasets.load_demo(store)
    config = config_for(emulator)
    first = sync(config)
    products = sorted(store.documents()[("", "products")])
    admin.patch(products[0], {"price": 9.75, "stock": 2**62})
    admin.delete(products[1])
    big = [{"op": "insert", "table": "products", "doc": {"sku": f"N{n}"}} for n in range(17)]
    admin.transaction([*big, {"op": "delete", "id": products[2]}])
    admin.insert("users", {"email": "late@example.com", "position": 99}, "waitlist")
    emulator.requests.clear()

    second = sync(config, last_states(first.state_messages))

    assert not second.errors
    changes = records_of(second)
    assert len([r for s, r in changes if s == "products"]) == 1 + 1 + 17 + 1
    assert all(
        e["args"]["selection"].get("", {}).get("drafts")  # the empty table: see the limits
        for e in emulator.requests.entries("list_snapshot")
    )
    deletes = [r for _, r in changes if r["_deleted"]]
    assert {r["_id"] for r in deletes} == {products[1], products[2]}
    for record in deletes:
        micros = record["_ts"] // 1000
        assert record["_ab_cdc_deleted_at"].endswith(f".{micros % 1_000_000:06d}+00:00")
        assert record[POSITION] == micros
    replica = Replica().apply(records_of(first)).apply(changes)
    assert replica.documents("products") == expected(emulator, "", "products")
    assert replica.documents("waitlist__users") == expected(emulator, "waitlist", "users")
    assert replica.documents("users") == expected(emulator, "", "users")


def test_the_change_log_starts_at_the_snapshot_and_a_quiet_table_keeps_its_position(
    store: Store, emulator: EmulatorServer, admin: EmulatorClient
) -> None:
    datasets.load_demo(store)
    config = config_for(emulator)
    first = sync(config)
    before = positions(last_states(first.state_messages))
    admin.insert("products", {"sku": "NEW"})
    emulator.requests.clear()

    second = sync(config, last_states(first.state_messages))

    # One walk of the change log per table (Airbyte reads each stream on its own), each
    # starting at that table's snapshot.
    starts = {
        str(e["args"]["selection"]): e["args"]["cursor"]
        for e in reversed(emulator.requests.entries("document_deltas"))
    }
    assert sorted(starts.values()) == sorted(
        position * 1000 for name, position in before.items() if name != "drafts"
    )
    after = positions(last_states(second.state_messages))
    assert after["messages"] == before["messages"]  # no change: no record to move it
    assert after["products"] > before["products"]
