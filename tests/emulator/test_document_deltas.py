"""``document_deltas`` (§1.10, §3): every revision in ``(cursor, now]`` in ``(ts, id)`` order."""

from __future__ import annotations

import httpx
import pytest

from convex_emulator import EmulatorServer, Store

from .helpers import assert_error, delta_pages, delta_values, document_deltas, list_snapshot

DAY = 24 * 3600


@pytest.fixture
def start(store: Store) -> int:
    """A cursor taken before the test's writes (as the end of a snapshot would be).

    Table ``t`` already exists: creating a table writes a ``_tables`` row, which would
    otherwise count toward the rows-read limit.
    """
    store.create_table("t")
    return store.now_for_reads()


def _insert_in_one_transaction(store: Store, table: str, count: int) -> int:
    with store.transaction() as tx:
        for n in range(count):
            tx.insert(table, {"n": n})
    assert tx.ts is not None
    return tx.ts


# ---- window and order --------------------------------------------------------------------------


def test_returns_revisions_after_the_cursor_up_to_now(
    api: httpx.Client, store: Store, start: int
) -> None:
    a = store.insert("t", {"n": 1})
    b = store.insert("t", {"n": 2})
    page = document_deltas(api, start)
    assert [value["_id"] for value in page["values"]] == [a, b]
    assert page["cursor"] == store.now_for_reads()
    assert page["hasMore"] is False


def test_values_are_in_ts_then_id_order(api: httpx.Client, store: Store, start: int) -> None:
    _insert_in_one_transaction(store, "t", 5)
    _insert_in_one_transaction(store, "u", 5)
    values = delta_values(api, start)
    keys = [(value["_ts"], value["_id"]) for value in values]
    assert keys == sorted(keys)
    assert len(keys) == 10


def test_cursor_is_exclusive(api: httpx.Client, store: Store, start: int) -> None:
    ts1 = _insert_in_one_transaction(store, "t", 2)
    ts2 = _insert_in_one_transaction(store, "t", 1)
    values = document_deltas(api, ts1)["values"]
    assert [value["_ts"] for value in values] == [ts2]


def test_snapshot_handoff_has_no_gap_and_no_overlap(api: httpx.Client, store: Store) -> None:
    before = store.insert("t", {"n": 1})
    snapshot = list_snapshot(api)["snapshot"]
    after = store.insert("t", {"n": 2})
    assert [value["_id"] for value in delta_values(api, snapshot)] == [after]
    assert before != after


def test_snapshot_ts_is_at_most_the_snapshot_and_below_every_delta_ts(
    api: httpx.Client, store: Store
) -> None:
    doc = store.insert("t", {"n": 1})
    first = list_snapshot(api)
    store.patch(doc, {"n": 2})
    (old,) = first["values"]
    (new,) = delta_values(api, first["snapshot"])
    assert old["_ts"] <= first["snapshot"] < new["_ts"]


def test_empty_deployment_snapshot_is_a_valid_first_delta_cursor(
    api: httpx.Client, store: Store
) -> None:
    first = list_snapshot(api)
    assert first["values"] == []
    assert first["hasMore"] is False
    doc = store.insert("t", {"n": 1})
    assert [value["_id"] for value in delta_values(api, first["snapshot"])] == [doc]


def test_document_created_and_deleted_after_the_snapshot_gives_insert_then_tombstone(
    api: httpx.Client, store: Store
) -> None:
    snapshot = list_snapshot(api)["snapshot"]
    doc = store.insert("t", {"n": 1})
    store.delete(doc)
    values = delta_values(api, snapshot)
    assert [(value["_id"], value["_deleted"]) for value in values] == [(doc, False), (doc, True)]


def test_every_revision_of_a_document_is_emitted(
    api: httpx.Client, store: Store, start: int
) -> None:
    doc = store.insert("t", {"n": 1})
    store.patch(doc, {"n": 2})
    store.patch(doc, {"n": 3})
    assert [value["n"] for value in delta_values(api, start)] == ["1", "2", "3"]


def test_only_the_final_write_of_a_transaction_is_emitted(
    api: httpx.Client, store: Store, start: int
) -> None:
    doc = store.insert("t", {"n": 1})
    cursor = store.now_for_reads()
    with store.transaction() as tx:
        tx.patch(doc, {"n": 2})
        tx.patch(doc, {"n": 3})
    assert [value["n"] for value in delta_values(api, cursor)] == ["3"]


def test_insert_then_delete_in_one_transaction_emits_nothing(
    api: httpx.Client, store: Store, start: int
) -> None:
    with store.transaction() as tx:
        doc = tx.insert("t", {"n": 1})
        tx.delete(doc)
    assert delta_values(api, start) == []


# ---- content of entries ------------------------------------------------------------------------


def test_updates_carry_the_full_post_image(api: httpx.Client, store: Store) -> None:
    doc = store.insert("t", {"a": 1, "b": "x", "c": True})
    cursor = store.now_for_reads()
    store.patch(doc, {"b": "y"}, unset=("c",))
    (value,) = delta_values(api, cursor)
    assert {k: v for k, v in value.items() if not k.startswith("_")} == {"a": "1", "b": "y"}
    assert value["_deleted"] is False
    assert "_creationTime" in value


def test_tombstone_carries_only_id_and_metadata(api: httpx.Client, store: Store) -> None:
    doc = store.insert("t", {"secret": "s"}, component="waitlist")
    cursor = store.now_for_reads()
    with store.transaction() as tx:
        tx.delete(doc)
    (value,) = delta_values(api, cursor)
    assert value == {
        "_component": "waitlist",
        "_table": "t",
        "_ts": tx.ts,
        "_deleted": True,
        "_id": doc,
    }


def test_tombstone_ignores_column_selection(api: httpx.Client, store: Store) -> None:
    doc = store.insert("t", {"a": 1})
    cursor = store.now_for_reads()
    store.delete(doc)
    selection = {"_other": "excl", "": {"_other": "excl", "t": {"_other": "excl", "_id": "incl"}}}
    (value,) = delta_values(api, cursor, selection=selection)
    assert value["_deleted"] is True
    assert value["_id"] == doc


def test_live_entries_have_deleted_false(api: httpx.Client, store: Store, start: int) -> None:
    store.insert("t", {"n": 1})
    (value,) = delta_values(api, start)
    assert list(value)[:4] == ["_component", "_table", "_ts", "_deleted"]
    assert value["_deleted"] is False


# ---- page size ---------------------------------------------------------------------------------


def test_default_rows_read_limit_is_128(api: httpx.Client, store: Store, start: int) -> None:
    for n in range(130):
        store.insert("t", {"n": n})
    page = document_deltas(api, start)
    assert len(page["values"]) == 128
    assert page["hasMore"] is True
    assert page["cursor"] == page["values"][-1]["_ts"]


def test_limit_is_configurable(
    emulator: EmulatorServer, api: httpx.Client, store: Store, start: int
) -> None:
    emulator.configure({"deltas_page_limit": 2})
    for n in range(5):
        store.insert("t", {"n": n})
    pages = delta_pages(api, start)
    assert [len(page["values"]) for page in pages] == [2, 2, 1]


def test_system_table_rows_count_toward_the_limit(
    emulator: EmulatorServer, api: httpx.Client, store: Store, start: int
) -> None:
    emulator.configure({"deltas_page_limit": 10})
    store.system_writes(25)
    doc = store.insert("t", {"n": 1})
    pages = delta_pages(api, start)
    assert [len(page["values"]) for page in pages] == [0, 0, 1]
    assert [page["hasMore"] for page in pages] == [True, True, False]
    assert pages[-1]["values"][0]["_id"] == doc


def test_rows_of_unselected_tables_count_toward_the_limit(
    emulator: EmulatorServer, api: httpx.Client, store: Store, start: int
) -> None:
    emulator.configure({"deltas_page_limit": 3})
    store.create_table("noise")
    store.create_table("wanted")
    cursor = store.now_for_reads()
    for n in range(4):
        store.insert("noise", {"n": n})
    store.insert("wanted", {"n": 1})
    pages = delta_pages(api, cursor, table_name="wanted")
    assert pages[0] == {"values": [], "cursor": pages[0]["cursor"], "hasMore": True}
    assert [len(page["values"]) for page in pages] == [0, 1]


def test_creating_a_table_writes_a_system_row_that_counts_toward_the_limit(
    emulator: EmulatorServer, api: httpx.Client, store: Store, start: int
) -> None:
    emulator.configure({"deltas_page_limit": 1})
    store.create_table("fresh")
    doc = store.insert("t", {"n": 1})
    pages = delta_pages(api, start)
    assert [[value["_id"] for value in page["values"]] for page in pages] == [[], [doc]]


def test_empty_page_with_has_more_still_advances_the_cursor(
    emulator: EmulatorServer, api: httpx.Client, store: Store, start: int
) -> None:
    emulator.configure({"deltas_page_limit": 5})
    store.system_writes(8)
    page = document_deltas(api, start)
    assert page["values"] == []
    assert page["hasMore"] is True
    assert start < page["cursor"] < store.now_for_reads()


def test_a_transaction_larger_than_the_limit_is_never_split(
    emulator: EmulatorServer, api: httpx.Client, store: Store, start: int
) -> None:
    emulator.configure({"deltas_page_limit": 1})
    ts1 = _insert_in_one_transaction(store, "t", 2)
    _insert_in_one_transaction(store, "t", 1)
    page = document_deltas(api, start)
    assert [value["_ts"] for value in page["values"]] == [ts1, ts1]
    assert page["cursor"] == ts1
    assert page["hasMore"] is True


def test_limit_reached_on_the_last_transaction_ends_with_its_ts_and_no_more(
    emulator: EmulatorServer, api: httpx.Client, store: Store, start: int
) -> None:
    emulator.configure({"deltas_page_limit": 3})
    _insert_in_one_transaction(store, "t", 2)
    ts2 = _insert_in_one_transaction(store, "t", 1)
    page = document_deltas(api, start)
    assert len(page["values"]) == 3
    assert page["cursor"] == ts2
    assert page["hasMore"] is False


def test_a_ten_thousand_row_transaction_arrives_in_one_page(
    api: httpx.Client, store: Store, start: int
) -> None:
    ts = _insert_in_one_transaction(store, "big", 10_000)
    page = document_deltas(api, start)
    assert len(page["values"]) == 10_000
    assert page["cursor"] == ts


# ---- returned cursor ---------------------------------------------------------------------------


def test_drained_log_returns_now_as_cursor_even_without_changes(
    api: httpx.Client, store: Store, start: int
) -> None:
    store.clock.advance(60)
    page = document_deltas(api, start)
    assert page == {"values": [], "cursor": store.clock.now_ns(), "hasMore": False}
    assert page["cursor"] > start


def test_drained_log_cursor_passes_writes_of_unselected_tables(
    api: httpx.Client, store: Store, start: int
) -> None:
    with store.transaction() as tx:
        tx.insert("other", {"n": 1})
    page = document_deltas(api, start, table_name="wanted")
    assert page == {"values": [], "cursor": tx.ts, "hasMore": False}


def test_every_ts_in_a_page_is_at_most_the_cursor_and_future_commits_are_after_it(
    api: httpx.Client, store: Store, start: int
) -> None:
    for n in range(3):
        store.insert("t", {"n": n})
    page = document_deltas(api, start)
    assert all(value["_ts"] <= page["cursor"] for value in page["values"])
    with store.transaction() as tx:
        tx.insert("t", {"n": 4})
    assert tx.ts > page["cursor"]


def test_cursor_in_the_future_returns_nothing_and_now(
    api: httpx.Client, store: Store, start: int
) -> None:
    store.insert("t", {"n": 1})
    now = store.now_for_reads()
    page = document_deltas(api, now + 10**12)
    assert page == {"values": [], "cursor": now, "hasMore": False}


# ---- errors ------------------------------------------------------------------------------------


def test_missing_cursor_is_400_document_deltas_cursor_required(api: httpx.Client) -> None:
    body = assert_error(
        api.post("/api/document_deltas", json={}), 400, "DocumentDeltasCursorRequired"
    )
    assert body["message"] == "/api/document_deltas requires a cursor"


def test_cursor_older_than_retention_is_400_invalid_window_to_read_documents(
    api: httpx.Client, store: Store, start: int
) -> None:
    store.clock.advance(14 * DAY + 1)
    response = api.post("/api/document_deltas", json={"cursor": start})
    body = assert_error(response, 400, "InvalidWindowToReadDocuments")
    assert str(start) in body["message"]


def test_cursor_just_inside_retention_is_accepted(
    api: httpx.Client, store: Store, start: int
) -> None:
    store.clock.advance(14 * DAY - 1)
    assert document_deltas(api, start)["hasMore"] is False


def test_retention_is_configurable(
    emulator: EmulatorServer, api: httpx.Client, store: Store, start: int
) -> None:
    emulator.configure({"retention_seconds": 3600})
    store.clock.advance(3601)
    response = api.post("/api/document_deltas", json={"cursor": start})
    assert_error(response, 400, "InvalidWindowToReadDocuments")


def test_negative_cursor_is_500(api: httpx.Client) -> None:
    assert_error(api.post("/api/document_deltas", json={"cursor": -5}), 500, "InternalServerError")


# ---- deleted tables and components ---------------------------------------------------------------


def test_rows_of_a_deleted_table_are_skipped_and_cursor_is_the_deletion_ts(
    api: httpx.Client, store: Store, start: int
) -> None:
    store.insert("doomed", {"n": 1})
    kept = store.insert("kept", {"n": 2})
    deleted_at = store.delete_table("doomed")
    page = document_deltas(api, start)
    assert [value["_id"] for value in page["values"]] == [kept]
    assert page["cursor"] == deleted_at


def test_deleting_a_table_emits_no_tombstones(api: httpx.Client, store: Store) -> None:
    store.insert("doomed", {"n": 1})
    cursor = store.now_for_reads()
    store.delete_table("doomed")
    assert delta_values(api, cursor) == []


def test_recreated_table_streams_only_the_new_tablets_rows(
    api: httpx.Client, store: Store, start: int
) -> None:
    store.insert("t", {"n": 1})
    store.delete_table("t")
    new = store.insert("t", {"n": 2})
    assert [value["_id"] for value in delta_values(api, start)] == [new]


def test_rows_of_an_unmounted_component_are_skipped(
    api: httpx.Client, store: Store, start: int
) -> None:
    store.insert("users", {"n": 1}, component="gone")
    root = store.insert("users", {"n": 2})
    store.unmount_component("gone")
    assert [value["_id"] for value in delta_values(api, start)] == [root]


def test_component_rows_carry_their_component_path(
    api: httpx.Client, store: Store, start: int
) -> None:
    store.insert("users", {"n": 1}, component="a/b")
    (value,) = delta_values(api, start)
    assert (value["_component"], value["_table"]) == ("a/b", "users")
