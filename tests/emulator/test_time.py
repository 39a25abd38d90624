"""Timestamps (§0, §10.2): int64 ns commit timestamps and float-millisecond ``_creationTime``."""

from __future__ import annotations

import httpx

from convex_emulator import Store
from tests.conftest import FROZEN_START_NS

from .helpers import delta_values, list_snapshot


def test_commit_timestamps_are_int64_nanoseconds(api: httpx.Client, store: Store) -> None:
    start = store.now_for_reads()
    store.insert("t", {"n": 1})
    (value,) = delta_values(api, start)
    assert type(value["_ts"]) is int
    assert 2**53 < value["_ts"] < 2**63
    assert value["_ts"] >= FROZEN_START_NS


def test_each_transaction_gets_a_strictly_greater_ts_even_with_a_frozen_clock(
    api: httpx.Client, store: Store
) -> None:
    start = store.now_for_reads()
    assert store.clock.now_ns() == FROZEN_START_NS
    for n in range(5):
        store.insert("t", {"n": n})
    stamps = [value["_ts"] for value in delta_values(api, start)]
    assert stamps == sorted(set(stamps))
    assert len(stamps) == 5
    assert store.clock.now_ns() == FROZEN_START_NS


def test_all_writes_of_one_transaction_share_ts(api: httpx.Client, store: Store) -> None:
    existing = store.insert("t", {"n": 0})
    start = store.now_for_reads()
    with store.transaction() as tx:
        tx.insert("t", {"n": 1})
        tx.insert("u", {"n": 2}, component="c")
        tx.patch(existing, {"n": 3})
    values = delta_values(api, start)
    assert len(values) == 3
    assert {value["_ts"] for value in values} == {tx.ts}


def test_commits_follow_a_moving_clock(store: Store) -> None:
    with store.transaction() as first:
        first.insert("t", {"n": 1})
    store.clock.advance(2.5)
    with store.transaction() as second:
        second.insert("t", {"n": 2})
    assert first.ts is not None
    assert second.ts == FROZEN_START_NS + 2_500_000_000 > first.ts


def test_now_is_at_least_the_last_commit_and_below_every_future_commit(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    snapshot = list_snapshot(api)["snapshot"]
    assert snapshot >= store.last_commit_ts
    with store.transaction() as tx:
        tx.insert("t", {"n": 2})
    assert tx.ts > snapshot


def test_creation_time_is_float_milliseconds_of_the_insert_commit(
    api: httpx.Client, store: Store
) -> None:
    store.clock.advance(1.5)
    with store.transaction() as tx:
        tx.insert("t", {"n": 1})
    (value,) = list_snapshot(api)["values"]
    assert type(value["_creationTime"]) is float
    assert tx.ts is not None
    assert value["_creationTime"] == tx.ts / 1e6
    assert value["_creationTime"] == (FROZEN_START_NS + 1_500_000_000) / 1e6


def test_creation_time_survives_updates(api: httpx.Client, store: Store) -> None:
    doc = store.insert("t", {"n": 1})
    created = list_snapshot(api)["values"][0]["_creationTime"]
    store.clock.advance(10)
    store.patch(doc, {"n": 2})
    (value,) = list_snapshot(api)["values"]
    assert value["_creationTime"] == created
    assert value["_ts"] > created * 1e6
