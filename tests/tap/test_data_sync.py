"""``transport: data_sync``: the same records as streaming export, one cursor in STATE, and
tables replaced or cleared wholesale converge through ACTIVATE_VERSION."""

from __future__ import annotations

import random
from typing import Any

import pytest

from convex_emulator import Store
from tap_convex.sync_pages import data_sync_page
from tests.tap.harness import Output, discover, run_tap
from tests.tap.test_convergence import random_history
from tests.tap.test_selection import select

DATA_SYNC = {"transport": "data_sync"}


def by_stream(output: Output) -> dict[str, dict[tuple[str, int], dict[str, Any]]]:
    streams: dict[str, dict[tuple[str, int], dict[str, Any]]] = {}
    for message in output.of_type("RECORD"):
        record = message["record"]
        streams.setdefault(message["stream"], {})[(record["_id"], record["_ts"])] = record
    return streams


@pytest.fixture
def history(demo: Store) -> Store:
    for component in ("team", "team/sub"):
        demo.add_component(component)
    random_history(demo, random.Random(7), 60)
    return demo


def test_data_sync_gives_the_same_records_as_streaming_export(
    history: Store, config: dict[str, Any]
) -> None:
    default = run_tap(config)
    synced = run_tap({**config, **DATA_SYNC})
    assert by_stream(synced) == by_stream(default)
    assert sum(map(len, by_stream(synced).values())) > 100
    schemas = {m["stream"]: m["schema"] for m in default.of_type("SCHEMA")}
    assert {m["stream"]: m["schema"] for m in synced.of_type("SCHEMA")} == schemas


def test_deselected_columns_are_left_out_as_with_streaming_export(
    history: Store, config: dict[str, Any]
) -> None:
    catalog = discover(config)
    streams = {entry["tap_stream_id"] for entry in catalog["streams"]} - {"messages"}
    chosen = select(catalog, streams, {"users": {"email", "profile"}})
    default = run_tap(config, catalog=chosen)
    synced = run_tap({**config, **DATA_SYNC}, catalog=chosen)
    assert by_stream(synced) == by_stream(default)
    assert "messages" not in by_stream(synced)
    assert all("email" not in record for record in synced.records("users"))


def test_the_cursor_is_kept_next_to_the_bookmarks(history: Store, config: dict[str, Any]) -> None:
    output = run_tap({**config, **DATA_SYNC})
    state = output.last_state
    assert state is not None
    assert isinstance(state["data_sync"]["cursor"], str)
    for name, bookmark in state["bookmarks"].items():
        assert bookmark["phase"] == "data_sync", name
        assert bookmark["activation_pending"] is False
        assert isinstance(bookmark["table_version"], int)
    activated = {m["stream"]: m["version"] for m in output.of_type("ACTIVATE_VERSION")}
    assert activated == {n: b["table_version"] for n, b in state["bookmarks"].items()}


def test_plain_pages_give_the_same_records_as_streaming_export(
    store: Store, config: dict[str, Any]
) -> None:
    with store.transaction() as tx:  # nothing encoded: int64 bare, floats, nested values
        for number in range(300):
            tx.insert(
                "plain",
                {"n": 2**62 + number, "x": number / 7, "s": f"row {number}", "o": {"k": [number]}},
            )
    body = (
        b'{"status":{"type":"upToDate"},"pagination":{"nextCursor":"c"},"truncates":[],'
        b'"values":[{"component":"","table":"plain","ts":1,"deleted":false,'
        b'"value":{"_id":"a","_creationTime":1.5,"n":%d}}]}' % 2**62
    )
    assert data_sync_page(body).values.plain
    assert data_sync_page(body, keep_encoded=True).values.documents  # kept as JSON text
    assert not data_sync_page(body.replace(b'"n":', b'"b":{"$bytes":"AA=="},"n":')).values.plain
    default = run_tap(config)
    synced = run_tap({**config, **DATA_SYNC})
    assert by_stream(synced) == by_stream(default)
    assert len(by_stream(synced)["plain"]) == 300

    ids = sorted(store.documents()[("", "plain")])
    for doc_id in ids[:10]:
        store.patch(doc_id, {"s": "changed"})
    for doc_id in ids[10:15]:
        store.delete(doc_id)
    changes = run_tap(config, state=default.last_state)
    synced_changes = run_tap({**config, **DATA_SYNC}, state=synced.last_state)
    assert by_stream(synced_changes) == by_stream(changes)
    assert sum(r["_deleted"] for r in by_stream(changes)["plain"].values()) == 5
