"""``POST /api/v1/data/sync``: page shape, values, status, by_id and ts pages, page limits."""

from __future__ import annotations

import math

import httpx

from convex_emulator import Store

from .sync_helpers import (
    Replica,
    live_ids,
    next_cursor,
    pages_until_up_to_date,
    rows_with_page_size,
    sync_page,
    values_of,
)


def test_response_has_the_five_keys_in_upstream_order(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    page = sync_page(api)
    assert list(page) == ["status", "truncates", "values", "syncId", "pagination"]


def test_pagination_always_has_more_with_a_next_cursor(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    for page in pages_until_up_to_date(api):
        assert page["pagination"]["hasMore"] is True
        assert isinstance(page["pagination"]["nextCursor"], str)


def test_values_carry_component_table_ts_deleted_and_value(api: httpx.Client, store: Store) -> None:
    doc = store.insert("t", {"n": 1}, component="waitlist")
    written = store.last_commit_ts
    (value,) = values_of(pages_until_up_to_date(api))
    assert list(value) == ["component", "table", "ts", "deleted", "value"]
    assert (value["component"], value["table"], value["deleted"]) == ("waitlist", "t", False)
    assert value["ts"] == written
    assert value["value"]["_id"] == doc


def test_values_are_export_json_with_sorted_keys(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"z": 5, "f": 1.0, "big": 2**60, "b": b"\x00\x01", "nan": math.nan, "s": "x"})
    response = api.post("/api/v1/data/sync", json={})
    assert '"f":1.0' in response.text
    assert '"big":1152921504606846976' in response.text
    (value,) = response.json()["values"]
    document = value["value"]
    assert list(document) == sorted(document)
    assert document["b"] == {"$bytes": "AAE="}
    assert document["nan"] == {"$float": "AAAAAAAA+H8="}
    assert isinstance(document["_creationTime"], float)


def test_nested_object_keys_are_sorted_too(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"obj": {"b": 1, "a": {"z": 1, "y": 2}}})
    response = api.post("/api/v1/data/sync", json={})
    assert '"obj":{"a":{"y":2,"z":1},"b":1}' in response.text


def test_a_cold_start_is_snapshotting_until_every_table_is_read(
    api: httpx.Client, store: Store
) -> None:
    for table in ("a", "b", "c"):
        store.insert(table, {"n": 1})
    pages = pages_until_up_to_date(api)
    assert [p["status"]["type"] for p in pages[:2]] == ["snapshotting", "snapshotting"]
    assert pages[-1]["status"]["type"] == "upToDate"


def test_the_page_finishing_the_snapshot_is_stale_then_up_to_date(
    api: httpx.Client, store: Store
) -> None:
    store.config.data_sync_page_size_limit = 1
    store.insert("t", {"n": 1})
    store.insert("u", {"n": 2})
    first = sync_page(api)
    store.insert("t", {"n": 3})  # newer than the snapshot's pinned ts
    finishing = sync_page(api, next_cursor(first))
    while finishing["status"]["type"] == "snapshotting":
        finishing = sync_page(api, next_cursor(finishing))
    assert finishing["status"]["type"] == "stale"
    store.config.data_sync_page_size_limit = 100
    after = sync_page(api, next_cursor(finishing))
    assert after["status"]["type"] == "upToDate"
    assert after["status"]["snapshotTs"] > finishing["status"]["snapshotTs"]
    assert [v["value"]["n"] for v in after["values"]] == [3]


def test_up_to_date_pages_keep_coming_with_no_values(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    last = pages_until_up_to_date(api)[-1]
    again = sync_page(api, next_cursor(last))
    assert again["status"]["type"] == "upToDate"
    assert again["values"] == []
    assert again["truncates"] == []


def test_the_sync_id_stays_the_same_for_a_whole_sync(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    pages = pages_until_up_to_date(api)
    assert len({page["syncId"] for page in pages}) == 1
    assert sync_page(api)["syncId"] != pages[0]["syncId"]


def test_sync_id_prefix_follows_the_convex_client_header(api: httpx.Client, store: Store) -> None:
    expected = {
        "fivetran-export-1.2.3": "fivetran-",
        "fivetran-import-0.1.0": "fivetran-",
        "airbyte-export-2.0.0": "airbyte-",
        "tap-convex-0.4.0": "",
    }
    for client, prefix in expected.items():
        response = api.post("/api/v1/data/sync", json={}, headers={"Convex-Client": client})
        sync_id = response.json()["syncId"]
        assert sync_id.startswith(prefix)
        assert len(sync_id) - len(prefix) == 36


def test_the_by_id_page_reads_the_table_as_of_the_pinned_ts(
    api: httpx.Client, store: Store
) -> None:
    ids = rows_with_page_size(store, 4, page_size=2)
    first = sync_page(api)
    store.patch(max(ids), {"n": 99})
    rest = pages_until_up_to_date(api, next_cursor(first))
    snapshot_values = first["values"] + rest[0]["values"]
    assert all(v["value"]["n"] != 99 for v in snapshot_values)
    later = [v for p in rest[1:] for v in p["values"]]
    assert [v["value"]["n"] for v in later] == [99]


def test_a_stale_in_progress_cursor_catches_up_through_a_ts_page(
    api: httpx.Client, store: Store
) -> None:
    store.config.data_sync_page_size_limit = 2
    ids = sorted(store.insert("t", {"n": n}) for n in range(4))
    first = sync_page(api)
    store.patch(ids[0], {"n": 10})  # already emitted: captured
    store.patch(ids[3], {"n": 30})  # not reached yet: left to the by_id pages
    store.clock.advance(31)
    catch_up = sync_page(api, next_cursor(first))
    assert catch_up["status"]["type"] == "snapshotting"
    assert [(v["value"]["_id"], v["value"]["n"]) for v in catch_up["values"]] == [(ids[0], 10)]
    rest = pages_until_up_to_date(api, next_cursor(catch_up))
    assert {v["value"]["_id"]: v["value"]["n"] for p in rest for v in p["values"]}[ids[3]] == 30


def test_by_id_pages_stop_at_the_page_size_limit(api: httpx.Client, store: Store) -> None:
    rows_with_page_size(store, 7, page_size=3)
    pages = pages_until_up_to_date(api)
    assert [len(p["values"]) for p in pages[:3]] == [3, 3, 1]


def test_a_table_of_exactly_the_page_size_needs_an_extra_empty_page(
    api: httpx.Client, store: Store
) -> None:
    rows_with_page_size(store, 3, page_size=3)
    first = sync_page(api)
    assert (len(first["values"]), first["status"]["type"]) == (3, "snapshotting")
    second = sync_page(api, next_cursor(first))
    assert second["values"] == []
    assert second["status"]["type"] != "snapshotting"


def test_by_id_pages_stop_at_the_bytes_limit(api: httpx.Client, store: Store) -> None:
    store.config.data_sync_page_bytes_limit = 200
    for _ in range(3):
        store.insert("t", {"text": "x" * 80})
    assert len(sync_page(api)["values"]) == 2  # the document crossing the limit is kept


def test_ts_pages_never_split_a_transaction(api: httpx.Client, store: Store) -> None:
    store.config.data_sync_page_size_limit = 4
    store.config.data_sync_max_rows_read = 4
    store.create_table("t")
    last = pages_until_up_to_date(api)[-1]
    for size in (3, 5, 2, 6):
        with store.transaction() as tx:
            for n in range(size):
                tx.insert("t", {"n": n})
    pages = pages_until_up_to_date(api, next_cursor(last))
    for page in pages:
        sizes: dict[int, int] = {}
        for value in page["values"]:
            sizes[value["ts"]] = sizes.get(value["ts"], 0) + 1
        assert sorted(sizes.values()) == sorted(sizes.values())
        for ts, count in sizes.items():
            total = sum(1 for p in pages for v in p["values"] if v["ts"] == ts)
            assert count == total, f"transaction {ts} was split"
    assert sum(len(p["values"]) for p in pages) == 16


def test_a_transaction_larger_than_the_page_is_read_whole(api: httpx.Client, store: Store) -> None:
    store.config.data_sync_page_size_limit = 2
    store.config.data_sync_max_rows_read = 2
    store.create_table("t")
    last = pages_until_up_to_date(api)[-1]
    with store.transaction() as tx:
        for n in range(7):
            tx.insert("t", {"n": n})
    page = sync_page(api, next_cursor(last))
    assert len(page["values"]) == 7


def test_a_stale_page_reports_the_last_complete_transaction(
    api: httpx.Client, store: Store
) -> None:
    store.config.data_sync_page_size_limit = 2
    store.create_table("t")
    last = pages_until_up_to_date(api)[-1]
    stamps = [store.insert("t", {"n": n}) and store.last_commit_ts for n in range(5)]
    page = sync_page(api, next_cursor(last))
    assert page["status"] == {"type": "stale", "snapshotTs": stamps[1]}
    assert [v["ts"] for v in page["values"]] == stamps[:2]


def test_reaching_max_rows_read_leaves_the_open_transaction_to_the_next_page(
    api: httpx.Client, store: Store
) -> None:
    store.config.data_sync_page_size_limit = 2
    store.config.data_sync_max_rows_read = 2
    store.create_table("t")
    last = pages_until_up_to_date(api)[-1]
    stamps = [store.insert("t", {"n": n}) and store.last_commit_ts for n in range(3)]
    page = sync_page(api, next_cursor(last))
    # The second row reaches the limit before its transaction is known to be complete.
    assert [v["ts"] for v in page["values"]] == stamps[:1]
    assert page["status"] == {"type": "stale", "snapshotTs": stamps[0]}
    rest = pages_until_up_to_date(api, next_cursor(page))
    assert [v["ts"] for p in rest for v in p["values"]] == stamps[1:]


def test_a_delete_is_a_tombstone_holding_only_the_id(api: httpx.Client, store: Store) -> None:
    doc = store.insert("t", {"n": 1, "secret": "x"})
    last = pages_until_up_to_date(api)[-1]
    store.delete(doc)
    deleted_at = store.last_commit_ts
    (value,) = values_of(pages_until_up_to_date(api, next_cursor(last)))
    assert value["deleted"] is True
    assert value["value"] == {"_id": doc}
    assert value["ts"] == deleted_at


def test_a_snapshot_read_by_id_has_no_tombstones(api: httpx.Client, store: Store) -> None:
    keep = store.insert("t", {"n": 1})
    store.delete(store.insert("t", {"n": 2}))
    values = values_of(pages_until_up_to_date(api))
    assert [(v["value"]["_id"], v["deleted"]) for v in values] == [(keep, False)]


def test_a_replica_converges_through_updates_during_the_snapshot(
    api: httpx.Client, store: Store
) -> None:
    store.config.data_sync_page_size_limit = 3
    ids = [store.insert(f"t{n % 3}", {"n": n}) for n in range(20)]
    replica = Replica()
    replica.apply(sync_page(api))
    for step, doc in enumerate(ids[:8]):
        if step % 2:
            store.delete(doc)
        else:
            store.patch(doc, {"n": -step})
        store.insert("t1", {"n": 100 + step})
        store.clock.advance(20)
        replica.apply(sync_page(api, replica.cursor))
    replica.catch_up(api)
    assert replica.ids() == live_ids(store.documents())
    for key, rows in store.documents().items():
        for doc_id, value in rows.items():
            assert replica.tables[key][doc_id]["n"] == value["n"]


def test_system_and_unselected_tables_rows_count_as_rows_read(
    api: httpx.Client, store: Store
) -> None:
    store.config.data_sync_page_size_limit = 2
    store.config.data_sync_max_rows_read = 2
    for table in ("t", "u", "other"):
        store.insert(table, {"n": 0})
    selection = {
        "_other": "excluded",
        "": {"_other": "excluded", "t": {"_other": "included"}, "u": {"_other": "included"}},
    }
    last = pages_until_up_to_date(api, selection=selection)[-1]
    progress_write = store.last_commit_ts  # the sync's progress row, a system table
    first_other = store.insert("other", {"n": 1}) and store.last_commit_ts
    store.insert("other", {"n": 2})
    store.insert("t", {"n": 3})
    page = sync_page(api, next_cursor(last), selection=selection)
    assert page["values"] == []
    # Two rows read end the page after the first transaction, whatever its table.
    first_row = min(ts for ts in (progress_write, first_other) if ts > last["status"]["snapshotTs"])
    assert page["status"] == {"type": "stale", "snapshotTs": first_row}


def test_a_single_target_table_reads_only_its_own_rows(api: httpx.Client, store: Store) -> None:
    store.config.data_sync_page_size_limit = 2
    store.config.data_sync_max_rows_read = 2
    store.insert("t", {"n": 0})
    store.insert("other", {"n": 0})
    selection = {"_other": "excluded", "": {"_other": "excluded", "t": {"_other": "included"}}}
    last = pages_until_up_to_date(api, selection=selection)[-1]
    store.insert("other", {"n": 1})
    store.insert("other", {"n": 2})
    store.insert("t", {"n": 3})
    page = sync_page(api, next_cursor(last), selection=selection)
    assert [v["value"]["n"] for v in page["values"]] == [3]
    assert page["status"]["type"] == "upToDate"
