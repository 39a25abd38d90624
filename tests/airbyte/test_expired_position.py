"""A saved position the change log no longer reaches."""

from __future__ import annotations

import time

from convex_emulator import Clock, EmulatorClient, EmulatorServer, Store, StoreConfig, datasets
from tests.airbyte.harness import Replica, config_for, expected, last_states, records_of, sync

DAY_S = 24 * 3600


def test_a_position_older_than_retention_resnapshots_its_table_with_a_warning() -> None:
    # The deployment's clock starts 20 days ago: the first sync's positions are 20 days old
    # by the time the clock is advanced to now, for Convex and for the connector alike.
    clock = Clock(frozen_at_ns=time.time_ns() - 20 * DAY_S * 10**9)
    store = Store(seed=2, clock=clock, config=StoreConfig(snapshot_page_limit=7))
    datasets.load_demo(store)
    with EmulatorServer(store) as emulator:
        admin = EmulatorClient(emulator.url, emulator.admin_key)
        config = config_for(emulator)
        first = sync(config)
        gone = sorted(store.documents()[("", "products")])[:2]
        admin.transaction([{"op": "delete", "id": doc_id} for doc_id in gone])
        admin.insert("products", {"sku": "AFTER"})
        admin.advance_clock(20 * DAY_S)
        emulator.requests.clear()

        second = sync(config, last_states(first.state_messages))

        assert not second.errors
        warnings = [m.log.message for m in second.logs if "retention period" in m.log.message]
        assert len(warnings) == 5, warnings  # every table, each named
        assert not emulator.requests.entries("document_deltas")
        assert emulator.requests.entries("list_snapshot")
        fresh = Replica().apply(records_of(second))
        assert fresh.documents("products") == expected(emulator, "", "products")
        assert not set(gone) & set(fresh.documents("products"))


def test_a_position_the_deployment_no_longer_keeps_fails_with_what_to_do(
    store: Store, emulator: EmulatorServer, admin: EmulatorClient
) -> None:
    datasets.load_demo(store)
    config = config_for(emulator)
    first = sync(config)
    admin.configure(retention_seconds=60)
    admin.advance_clock(120)

    second = sync(config, last_states(first.state_messages), expecting_exception=True)

    failed = {
        error.trace.error.stream_descriptor.name: error.trace.error.message
        for error in second.errors
        if error.trace.error.stream_descriptor is not None
    }
    assert set(failed) == {"messages", "products", "users", "waitlist__users"}
    assert all("refresh this stream" in message for message in failed.values()), failed
