"""A read killed mid-sync, resumed from the last STATE it emitted, converges."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from airbyte_cdk.models import AirbyteMessage, AirbyteMessageSerializer

from convex_emulator import EmulatorClient, EmulatorServer, Store, StoreConfig, datasets
from tests.airbyte.harness import (
    Replica,
    catalog_of,
    committed_records,
    config_for,
    discovered,
    expected,
    last_states,
    records_of,
    start_read,
    sync,
    write_catalog,
    write_state,
)

RECORDS_BEFORE_KILL = 300


def read_until_killed(config_path: Path, catalog_path: Path) -> list[AirbyteMessage]:
    """Messages of a read SIGKILLed once a stream has finished and more records came."""
    process = start_read(config_path, catalog_path)
    assert process.stdout is not None
    received: list[AirbyteMessage] = []
    records_after_first_state = 0
    for line in process.stdout:
        message = AirbyteMessageSerializer.load(json.loads(line))
        received.append(message)
        finished = any(m.state is not None and m.state.stream for m in received)
        if finished and message.record is not None:
            records_after_first_state += 1
            if records_after_first_state == RECORDS_BEFORE_KILL:
                process.send_signal(signal.SIGKILL)
                break
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the read ended before it could be killed"
    return received


def test_a_read_killed_mid_sync_resumes_from_its_last_state_and_converges(
    tmp_path: Path,
) -> None:
    store = Store(seed=3, config=StoreConfig(snapshot_page_limit=50, deltas_page_limit=5))
    datasets.generate(store, 3000, tables=3)
    with EmulatorServer(store) as emulator:
        admin = EmulatorClient(emulator.url, emulator.admin_key)
        config = config_for(emulator)
        (tmp_path / "config.json").write_text(json.dumps(config))
        catalog = write_catalog(tmp_path / "catalog.json", catalog_of(discovered(config)))

        killed = read_until_killed(tmp_path / "config.json", catalog)
        saved = last_states(killed)
        write_state(tmp_path / "state.json", saved)  # what Airbyte would have kept
        events = sorted(store.documents()[("", "events")])
        admin.transaction([{"op": "delete", "id": doc_id} for doc_id in events[:4]])
        admin.patch(events[5], {"note": "changed after the kill"})
        admin.insert("table1", {"note": "inserted after the kill"})
        emulator.requests.clear()

        resumed = sync(config, saved)

        assert not resumed.errors
        finished = {state.stream.stream_descriptor.name for state in saved if state.stream}
        assert finished
        assert "events" not in finished  # killed mid-table: no resume inside a table
        snapshotted = {
            table
            for e in emulator.requests.entries("list_snapshot")
            for table in e["args"]["selection"][""]
            if table != "_other"
        }
        assert "events" in snapshotted
        assert not finished & snapshotted
        replica = Replica().apply(committed_records(killed)).apply(records_of(resumed))
        for table in ("events", "table1", "table2"):
            assert replica.documents(table) == expected(emulator, "", table), table
