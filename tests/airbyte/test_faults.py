"""Transient failures: 429 and 5xx are retried with backoff, honouring Retry-After."""

from __future__ import annotations

from convex_emulator import EmulatorClient, EmulatorServer, Store, datasets
from tests.airbyte.harness import Replica, config_for, expected, last_states, records_of, sync

RETRY_AFTER_S = 0.4


def test_rate_limits_and_overload_are_retried_after_retry_after(
    store: Store, emulator: EmulatorServer, admin: EmulatorClient
) -> None:
    datasets.load_demo(store)
    admin.add_fault("json_schemas", status=503, retry_after=0.05)
    admin.add_fault("list_snapshot", status=429, retry_after=RETRY_AFTER_S, skip=3, count=2)

    output = sync(config_for(emulator))

    assert not output.errors
    replica = Replica().apply(records_of(output))
    assert replica.documents("messages") == expected(emulator, "", "messages")
    pages = emulator.requests.entries("list_snapshot")
    limited = [n for n, entry in enumerate(pages) if entry["status"] == 429]
    assert len(limited) == 2
    for n in limited:
        retry = next(e for e in pages[n + 1 :] if e["args"] == pages[n]["args"])
        assert retry["time"] - pages[n]["time"] >= RETRY_AFTER_S
    assert [e["status"] for e in emulator.requests.entries("json_schemas")][:2] == [503, 200]


def test_a_dropped_answer_and_a_server_error_on_the_change_log_are_retried(
    store: Store, emulator: EmulatorServer, admin: EmulatorClient
) -> None:
    datasets.load_demo(store)
    config = config_for(emulator)
    first = sync(config)
    ids = sorted(store.documents()[("", "users")])
    admin.transaction([{"op": "delete", "id": doc_id} for doc_id in ids[:3]])
    admin.add_fault("document_deltas", kind="drop")
    admin.add_fault("document_deltas", status=500, retry_after=0.05, skip=1)

    second = sync(config, last_states(first.state_messages))

    assert not second.errors
    statuses = [e["status"] for e in emulator.requests.entries("document_deltas")]
    assert statuses.count(500) == 1
    assert statuses.count(200) >= 5
    replica = Replica().apply(records_of(first)).apply(records_of(second))
    assert replica.documents("users") == expected(emulator, "", "users")
