"""``list_snapshot`` (§1.9, §2): a consistent point-in-time walk, one table per page."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from convex_emulator import EmulatorServer, Store

from .helpers import assert_error, list_snapshot, snapshot_pages, snapshot_values

DAY = 24 * 3600
TABLE_NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]


@pytest.fixture
def small_pages(emulator: EmulatorServer) -> int:
    emulator.configure({"snapshot_page_limit": 3})
    return 3


@pytest.fixture
def many_tables(store: Store) -> list[str]:
    for name in TABLE_NAMES:
        store.insert(name, {"name": name})
    return TABLE_NAMES


def _table_order(pages: list[dict[str, Any]]) -> list[str]:
    order: list[str] = []
    for page in pages:
        for value in page["values"]:
            if not order or order[-1] != value["_table"]:
                order.append(value["_table"])
    return order


# ---- point in time -----------------------------------------------------------------------------


def test_first_page_pins_snapshot_to_now(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    page = list_snapshot(api)
    assert page["snapshot"] == store.now_for_reads() == store.last_commit_ts


def test_snapshot_returns_the_old_version_of_a_document_updated_later(
    api: httpx.Client, store: Store
) -> None:
    doc = store.insert("t", {"f": 2})
    first = list_snapshot(api)
    (old,) = first["values"]
    store.patch(doc, {"f": 4})
    (again,) = list_snapshot(api, snapshot=first["snapshot"])["values"]
    assert again == old
    assert again["f"] == "2"
    assert again["_ts"] <= first["snapshot"]


def test_snapshot_at_latest_ts_returns_patched_document_with_the_patch_ts(
    api: httpx.Client, store: Store
) -> None:
    doc = store.insert("t", {"f": 2})
    with store.transaction() as tx:
        tx.patch(doc, {"f": 4})
    (value,) = list_snapshot(api)["values"]
    assert (value["f"], value["_ts"]) == ("4", tx.ts)


def test_document_inserted_after_the_snapshot_is_absent(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    snapshot = list_snapshot(api)["snapshot"]
    store.insert("t", {"n": 2})
    values = snapshot_values(api, snapshot=snapshot)
    assert [value["n"] for value in values] == ["1"]


def test_document_deleted_after_the_snapshot_is_still_present(
    api: httpx.Client, store: Store
) -> None:
    doc = store.insert("t", {"n": 1})
    snapshot = list_snapshot(api)["snapshot"]
    store.delete(doc)
    assert [value["_id"] for value in snapshot_values(api, snapshot=snapshot)] == [doc]
    assert list_snapshot(api)["values"] == []


def test_documents_deleted_mid_walk_are_still_returned(
    api: httpx.Client, store: Store, small_pages: int
) -> None:
    ids = [store.insert("t", {"n": n}) for n in range(7)]
    first = list_snapshot(api)
    for doc in ids:
        store.delete(doc)
    rest = snapshot_values(api, snapshot=first["snapshot"], cursor=first["cursor"])
    assert len(first["values"]) + len(rest) == 7


def test_table_created_after_the_snapshot_is_absent(api: httpx.Client, store: Store) -> None:
    store.insert("old", {"n": 1})
    snapshot = list_snapshot(api)["snapshot"]
    store.insert("new", {"n": 2})
    assert {value["_table"] for value in snapshot_values(api, snapshot=snapshot)} == {"old"}


def test_snapshot_values_carry_component_table_and_ts_but_no_deleted(
    api: httpx.Client, store: Store
) -> None:
    with store.transaction() as tx:
        doc = tx.insert("t", {"n": 1})
    (value,) = list_snapshot(api)["values"]
    assert list(value)[:3] == ["_component", "_table", "_ts"]
    assert (value["_component"], value["_table"], value["_id"]) == ("", "t", doc)
    assert value["_ts"] == tx.ts
    assert "_deleted" not in value


def test_snapshot_ts_is_the_documents_commit_ts_not_the_snapshot(
    api: httpx.Client, store: Store
) -> None:
    with store.transaction() as tx:
        tx.insert("t", {"n": 1})
    store.insert("other", {"n": 2})
    page = list_snapshot(api, table_name="t")
    assert page["values"][0]["_ts"] == tx.ts < page["snapshot"]


# ---- paging ------------------------------------------------------------------------------------


def test_a_page_never_spans_two_tables(
    api: httpx.Client, many_tables: list[str], small_pages: int
) -> None:
    for page in snapshot_pages(api):
        assert len({value["_table"] for value in page["values"]}) <= 1


def test_tables_come_in_a_stable_order_that_is_not_alphabetical(
    api: httpx.Client, many_tables: list[str]
) -> None:
    order = _table_order(snapshot_pages(api))
    assert sorted(order) == sorted(many_tables)
    assert order != sorted(order)
    assert _table_order(snapshot_pages(api)) == order


def test_tables_come_in_ascending_tablet_id_order(
    api: httpx.Client, many_tables: list[str]
) -> None:
    """The cursor is opaque to clients; today it is ``{"tablet", "id"}`` JSON."""
    pages = snapshot_pages(api)
    tablets = [json.loads(page["cursor"])["tablet"] for page in pages[:-1]]
    assert tablets == sorted(tablets)
    assert len(set(tablets)) == len(many_tables) - 1


def test_documents_within_a_table_come_in_id_order(
    api: httpx.Client, store: Store, small_pages: int
) -> None:
    for n in range(10):
        store.insert("t", {"n": n})
    ids = [value["_id"] for value in snapshot_values(api)]
    assert ids == sorted(ids)
    assert len(ids) == 10


def test_page_limit_bounds_page_size(api: httpx.Client, store: Store, small_pages: int) -> None:
    for n in range(7):
        store.insert("t", {"n": n})
    assert [len(page["values"]) for page in snapshot_pages(api)] == [3, 3, 1]


def test_empty_table_yields_an_empty_page_with_has_more(api: httpx.Client, store: Store) -> None:
    store.create_table("empty1")
    store.create_table("empty2")
    store.insert("full", {"n": 1})
    pages = snapshot_pages(api)
    assert len(pages) == 3, "one page per table"
    assert any(page["values"] == [] and page["hasMore"] for page in pages[:2])
    assert sum(len(page["values"]) for page in pages) == 1


def test_only_table_empty_gives_one_final_empty_page(api: httpx.Client, store: Store) -> None:
    store.create_table("empty")
    assert snapshot_pages(api) == [
        {"values": [], "snapshot": store.now_for_reads(), "cursor": None, "hasMore": False}
    ]


def test_table_of_exact_multiple_of_limit_ends_with_an_extra_empty_page(
    api: httpx.Client, store: Store, small_pages: int
) -> None:
    for n in range(6):
        store.insert("t", {"n": n})
    pages = snapshot_pages(api)
    assert [len(page["values"]) for page in pages] == [3, 3, 0]
    assert [page["hasMore"] for page in pages] == [True, True, False]


def test_full_page_then_table_change_gives_an_empty_transition_page(
    api: httpx.Client, store: Store, small_pages: int
) -> None:
    for table in ("a", "b"):
        for n in range(3):
            store.insert(table, {"n": n})
    pages = snapshot_pages(api)
    assert [len(page["values"]) for page in pages] == [3, 0, 3, 0]


def test_cursor_is_a_string_while_has_more_and_null_at_the_end(
    api: httpx.Client, many_tables: list[str]
) -> None:
    pages = snapshot_pages(api)
    assert all(isinstance(page["cursor"], str) and page["hasMore"] for page in pages[:-1])
    assert pages[-1]["cursor"] is None
    assert pages[-1]["hasMore"] is False


def test_every_page_echoes_the_pinned_snapshot(
    api: httpx.Client, many_tables: list[str], store: Store
) -> None:
    pages = snapshot_pages(api)
    store.insert("later", {"n": 1})
    assert {page["snapshot"] for page in pages} == {pages[0]["snapshot"]}


def test_walk_returns_every_document_exactly_once(
    api: httpx.Client, store: Store, small_pages: int
) -> None:
    expected = {store.insert(name, {"n": n}) for name in ("a", "b", "c") for n in range(5)}
    ids = [value["_id"] for value in snapshot_values(api)]
    assert len(ids) == len(expected)
    assert set(ids) == expected


def test_empty_deployment_returns_one_final_page_at_now(api: httpx.Client, store: Store) -> None:
    page = list_snapshot(api)
    now = store.clock.now_ns()
    assert page == {"values": [], "snapshot": now, "cursor": None, "hasMore": False}


def test_resuming_with_an_old_snapshot_and_cursor_continues_the_walk(
    api: httpx.Client, store: Store, small_pages: int
) -> None:
    ids = sorted(store.insert("t", {"n": n}) for n in range(5))
    first = list_snapshot(api)
    store.clock.advance(4 * DAY)
    store.insert("t", {"n": 99})
    rest = snapshot_values(api, snapshot=first["snapshot"], cursor=first["cursor"])
    assert [value["_id"] for value in first["values"] + rest] == ids


def test_cursor_is_exclusive(api: httpx.Client, store: Store, small_pages: int) -> None:
    ids = sorted(store.insert("t", {"n": n}) for n in range(5))
    first = list_snapshot(api)
    second = list_snapshot(api, snapshot=first["snapshot"], cursor=first["cursor"])
    assert [value["_id"] for value in second["values"]] == ids[3:]


def test_unparseable_cursor_is_400_invalid_list_snapshot_cursor(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    snapshot = list_snapshot(api)["snapshot"]
    response = api.post("/api/list_snapshot", json={"snapshot": snapshot, "cursor": "garbage"})
    assert_error(response, 400, "InvalidListSnapshotCursor")


# ---- snapshot age ------------------------------------------------------------------------------


def test_snapshot_older_than_five_days_is_400_snapshot_too_old(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    first = list_snapshot(api)
    store.clock.advance(5 * DAY + 1)
    response = api.post("/api/list_snapshot", json={"snapshot": first["snapshot"]})
    assert_error(response, 400, "SnapshotTooOld")


def test_snapshot_just_under_five_days_old_is_accepted(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    first = list_snapshot(api)
    store.clock.advance(5 * DAY - 1)
    assert list_snapshot(api, snapshot=first["snapshot"])["values"] == first["values"]


def test_snapshot_max_age_is_configurable(
    emulator: EmulatorServer, api: httpx.Client, store: Store
) -> None:
    emulator.configure({"snapshot_max_age_seconds": 60})
    first = list_snapshot(api)
    store.clock.advance(61)
    response = api.post("/api/list_snapshot", json={"snapshot": first["snapshot"]})
    assert_error(response, 400, "SnapshotTooOld")


def test_future_snapshot_is_400_snapshot_too_new(api: httpx.Client, store: Store) -> None:
    future = store.now_for_reads() + 1_000_000_000
    assert_error(api.post("/api/list_snapshot", json={"snapshot": future}), 400, "SnapshotTooNew")


def test_negative_snapshot_is_500(api: httpx.Client) -> None:
    assert_error(api.post("/api/list_snapshot", json={"snapshot": -1}), 500, "InternalServerError")


# ---- components --------------------------------------------------------------------------------


def test_component_table_with_the_same_name_as_a_root_table_is_separate(
    api: httpx.Client, store: Store
) -> None:
    root = store.insert("users", {"name": "root"})
    child = store.insert("users", {"name": "child"}, component="waitlist")
    found = {(v["_component"], v["_table"], v["_id"]) for v in snapshot_values(api)}
    assert found == {("", "users", root), ("waitlist", "users", child)}


def test_nested_component_path_is_reported_verbatim(api: httpx.Client, store: Store) -> None:
    store.insert("items", {"n": 1}, component="a/b")
    (value,) = snapshot_values(api)
    assert (value["_component"], value["_table"]) == ("a/b", "items")


def test_component_table_pages_across_the_limit(
    api: httpx.Client, store: Store, small_pages: int
) -> None:
    for n in range(10):
        store.insert("users", {"n": n}, component="waitlist")
    assert len(snapshot_values(api, component="waitlist")) == 10


def test_tables_of_an_unmounted_component_are_skipped(api: httpx.Client, store: Store) -> None:
    store.insert("users", {"n": 1})
    store.insert("users", {"n": 2}, component="gone")
    store.unmount_component("gone")
    assert {value["_component"] for value in snapshot_values(api)} == {""}


def test_deleted_table_is_absent_from_a_later_snapshot(api: httpx.Client, store: Store) -> None:
    store.insert("keep", {"n": 1})
    store.insert("drop", {"n": 2})
    store.delete_table("drop")
    assert {value["_table"] for value in snapshot_values(api)} == {"keep"}


def test_table_deleted_after_the_snapshot_is_still_in_it(api: httpx.Client, store: Store) -> None:
    store.insert("drop", {"n": 2})
    snapshot = list_snapshot(api)["snapshot"]
    store.delete_table("drop")
    assert [value["_table"] for value in snapshot_values(api, snapshot=snapshot)] == ["drop"]
