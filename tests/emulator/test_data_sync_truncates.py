"""Data Sync truncates: when a table enters the sync, is newly selected, replaced or cleared."""

from __future__ import annotations

from typing import Any

import httpx

from convex_emulator import Store

from .sync_helpers import (
    Replica,
    ids_of,
    live_ids,
    next_cursor,
    pages_until_up_to_date,
    rows_with_page_size,
    sync_page,
    truncated,
    values_of,
)

ONLY_T = {"_other": "excluded", "": {"_other": "excluded", "t": {"_other": "included"}}}
T_AND_U = {
    "_other": "excluded",
    "": {"_other": "excluded", "t": {"_other": "included"}, "u": {"_other": "included"}},
}


def up_to_date(api: httpx.Client, **args: Any) -> str:
    return next_cursor(pages_until_up_to_date(api, **args)[-1])


def test_a_cold_start_truncates_every_table_once(api: httpx.Client, store: Store) -> None:
    for table in ("a", "b", "c"):
        store.insert(table, {"n": 1})
    store.insert("d", {"n": 1}, component="waitlist")
    pages = pages_until_up_to_date(api)
    assert sorted(truncated(pages)) == [("", "a"), ("", "b"), ("", "c"), ("waitlist", "d")]


def test_a_table_truncates_no_later_than_its_first_values(api: httpx.Client, store: Store) -> None:
    store.config.data_sync_page_size_limit = 2
    for n in range(5):
        store.insert(f"t{n % 2}", {"n": n})
    seen: set[str] = set()
    for page in pages_until_up_to_date(api):
        seen |= {t["table"] for t in page["truncates"]}
        assert {v["table"] for v in page["values"]} <= seen


def test_truncates_come_sorted_by_component_then_table(api: httpx.Client, store: Store) -> None:
    store.config.data_sync_page_size_limit = 1
    store.create_table("b")
    store.create_table("a", component="z")
    store.create_table("a")
    for page in pages_until_up_to_date(api):
        names = [(t["component"], t["table"]) for t in page["truncates"]]
        assert names == sorted(names)


def test_a_newly_selected_table_is_truncated_then_read(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    u_doc = store.insert("u", {"n": 2})
    cursor = up_to_date(api, selection=ONLY_T)
    pages = pages_until_up_to_date(api, cursor, selection=T_AND_U)
    assert truncated(pages) == [("", "u")]
    assert ids_of(pages) == [u_doc]


def test_a_deselected_table_gets_no_truncate_and_no_values(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    store.insert("u", {"n": 2})
    cursor = up_to_date(api, selection=T_AND_U)
    store.insert("u", {"n": 3})
    pages = pages_until_up_to_date(api, cursor, selection=ONLY_T)
    assert truncated(pages) == []
    assert values_of(pages) == []


def test_a_reselected_table_is_truncated_again(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    store.insert("u", {"n": 2})
    cursor = up_to_date(api, selection=T_AND_U)
    cursor = up_to_date(api, cursor=cursor, selection=ONLY_T)
    pages = pages_until_up_to_date(api, cursor, selection=T_AND_U)
    assert truncated(pages) == [("", "u")]


def test_a_new_table_is_truncated_when_it_appears(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    cursor = up_to_date(api)
    doc = store.insert("fresh", {"n": 1})
    pages = pages_until_up_to_date(api, cursor)
    assert truncated(pages) == [("", "fresh")]
    assert ids_of(pages) == [doc]


def test_a_new_table_seen_after_the_freshness_window_sends_the_sync_back_to_snapshotting(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    cursor = up_to_date(api)
    doc = store.insert("fresh", {"n": 1})
    store.clock.advance(31)
    catch_up = sync_page(api, cursor)
    assert catch_up["status"]["type"] == "snapshotting"
    assert catch_up["values"] == []  # a ts page: the new table's ids are not captured yet
    rest = pages_until_up_to_date(api, next_cursor(catch_up))
    assert ids_of(rest) == [doc]


def test_a_new_table_seen_at_once_is_read_by_the_next_ts_page(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    cursor = up_to_date(api)
    doc = store.insert("fresh", {"n": 1})
    # The by_id page reads at the pinned ts, before the table existed: empty, table done.
    first = sync_page(api, cursor)
    assert (first["status"]["type"], first["values"]) == ("stale", [])
    second = sync_page(api, next_cursor(first))
    assert [v["value"]["_id"] for v in second["values"]] == [doc]


def test_a_replaced_table_is_truncated_then_holds_only_the_new_rows(
    api: httpx.Client, store: Store
) -> None:
    old = [store.insert("t", {"n": n}) for n in range(3)]
    replica = Replica()
    replica.catch_up(api)
    store.replace_table("t", [{"n": 10}, {"n": 11}])
    pages = replica.catch_up(api)
    assert truncated(pages) == [("", "t")]
    assert not set(old) & replica.ids()[("", "t")]
    assert replica.ids() == live_ids(store.documents())


def test_a_replaced_table_gets_no_tombstones_for_its_old_rows(
    api: httpx.Client, store: Store
) -> None:
    for n in range(3):
        store.insert("t", {"n": n})
    cursor = up_to_date(api)
    store.replace_table("t", [{"n": 10}])
    values = values_of(pages_until_up_to_date(api, cursor))
    assert [v["deleted"] for v in values] == [False]


def test_a_restore_reusing_the_old_ids_converges(api: httpx.Client, store: Store) -> None:
    docs = [store.insert("t", {"n": n}) for n in range(3)]
    replica = Replica()
    replica.catch_up(api)
    store.patch(docs[0], {"n": 99})
    store.replace_table("t", [{"_id": docs[1], "n": 1}, {"_id": docs[2], "n": 2}])
    pages = replica.catch_up(api)
    assert truncated(pages) == [("", "t")]
    assert replica.ids() == {("", "t"): {docs[1], docs[2]}}


def test_a_cleared_table_is_truncated_and_then_empty(api: httpx.Client, store: Store) -> None:
    for n in range(3):
        store.insert("t", {"n": n})
    store.insert("u", {"n": 1})
    replica = Replica()
    replica.catch_up(api)
    store.clear_table("t")
    pages = replica.catch_up(api)
    assert truncated(pages) == [("", "t")]
    assert values_of(pages) == []
    assert replica.ids() == live_ids(store.documents())


def test_rows_written_after_a_clear_arrive_after_its_truncate(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    replica = Replica()
    replica.catch_up(api)
    store.clear_table("t")
    doc = store.insert("t", {"n": 2})
    replica.catch_up(api)
    assert replica.ids() == {("", "t"): {doc}}


def test_a_table_replaced_mid_snapshot_restarts_with_a_truncate(
    api: httpx.Client, store: Store
) -> None:
    rows_with_page_size(store, 6, page_size=2)
    replica = Replica()
    first = sync_page(api)
    replica.apply(first)
    store.replace_table("t", [{"n": 100}])
    pages = replica.catch_up(api)
    assert truncated(pages) == [("", "t")]
    assert replica.ids() == live_ids(store.documents())


def test_a_deleted_table_gets_no_truncate_and_no_tombstones(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    store.insert("u", {"n": 1})
    cursor = up_to_date(api)
    store.delete_table("t")
    pages = pages_until_up_to_date(api, cursor)
    assert truncated(pages) == []
    assert values_of(pages) == []


def test_an_unmounted_components_tables_leave_silently(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1}, component="waitlist")
    store.insert("u", {"n": 1})
    cursor = up_to_date(api)
    store.unmount_component("waitlist")
    store.insert("u", {"n": 2})
    pages = pages_until_up_to_date(api, cursor)
    assert truncated(pages) == []
    assert {v["table"] for p in pages for v in p["values"]} == {"u"}
