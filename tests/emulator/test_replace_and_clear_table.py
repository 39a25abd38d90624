"""Replacing and clearing a table (``npx convex import --replace``, ``clear_tables``).

Each is one commit making a new tablet under the same name. The legacy streaming-export
endpoints give no signal for it, as upstream's do not: the old rows get no tombstones.
"""

from __future__ import annotations

import httpx
import pytest

from convex_emulator import EmulatorClient, EmulatorServer, Store

from .helpers import delta_values, snapshot_values


@pytest.fixture
def client(emulator: EmulatorServer) -> EmulatorClient:
    return EmulatorClient(emulator.url, emulator.admin_key, timeout=10)


def tablet_of(store: Store, table: str) -> str:
    (found,) = [t["tablet"] for t in store.stats()["tables"] if t["table"] == table]
    tablet: str = found
    return tablet


def test_replace_makes_a_new_tablet_holding_only_the_new_documents(store: Store) -> None:
    store.insert("t", {"n": 1})
    before = tablet_of(store, "t")
    store.replace_table("t", [{"n": 2}, {"n": 3}])
    assert tablet_of(store, "t") != before
    assert sorted(v["n"] for v in store.documents()[("", "t")].values()) == [2, 3]


def test_replace_commits_every_document_under_one_ts(store: Store) -> None:
    ts = store.replace_table("t", [{"n": n} for n in range(5)])
    assert {row.ts for row in store.log_rows if row.tablet.name == "t"} == {ts}


def test_replace_keeps_given_ids_and_creation_times(store: Store) -> None:
    doc = store.insert("t", {"n": 1})
    created = store.documents()[("", "t")][doc]["_creationTime"]
    store.replace_table("t", [{"_id": doc, "_creationTime": created, "n": 2}])
    assert store.documents()[("", "t")][doc] == {"_id": doc, "_creationTime": created, "n": 2}


def test_replace_rejects_an_id_of_another_table(store: Store) -> None:
    other = store.insert("u", {"n": 1})
    with pytest.raises(ValueError, match="already exists"):
        store.replace_table("t", [{"_id": other, "n": 2}])


def test_replace_creates_a_missing_table(store: Store) -> None:
    store.replace_table("t", [{"n": 1}], component="waitlist")
    assert len(store.documents()[("waitlist", "t")]) == 1


def test_replaced_documents_can_be_patched_and_deleted(store: Store) -> None:
    store.insert("t", {"n": 1})
    store.replace_table("t", [{"n": 2}])
    (doc,) = store.documents()[("", "t")]
    store.patch(doc, {"n": 3})
    assert store.documents()[("", "t")][doc]["n"] == 3
    store.delete(doc)
    assert store.documents()[("", "t")] == {}


def test_clear_leaves_an_empty_table_with_a_new_tablet(store: Store) -> None:
    store.insert("t", {"n": 1})
    before = tablet_of(store, "t")
    store.clear_table("t")
    assert store.documents()[("", "t")] == {}
    assert tablet_of(store, "t") != before


def test_clear_of_a_missing_table_is_an_error(store: Store) -> None:
    with pytest.raises(KeyError):
        store.clear_table("nope")


def test_document_deltas_see_a_replacement_as_inserts_without_tombstones(
    api: httpx.Client, store: Store
) -> None:
    old = store.insert("t", {"n": 1})
    cursor = store.now_for_reads()
    store.replace_table("t", [{"n": 2}])
    values = delta_values(api, cursor)
    assert [(v["_deleted"], v["n"]) for v in values] == [(False, "2")]
    assert old not in {v["_id"] for v in values}


def test_document_deltas_give_no_signal_for_a_clear(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    cursor = store.now_for_reads()
    store.clear_table("t")
    assert delta_values(api, cursor) == []


def test_list_snapshot_reads_the_replaced_table(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    store.replace_table("t", [{"n": 2}])
    assert [v["n"] for v in snapshot_values(api)] == ["2"]


def test_a_snapshot_pinned_before_the_replacement_reads_the_old_rows(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"n": 1})
    pinned = store.now_for_reads()
    store.replace_table("t", [{"n": 2}])
    assert [v["n"] for v in snapshot_values(api, snapshot=pinned)] == ["1"]


def test_the_admin_api_replaces_a_table_with_export_json_documents(
    client: EmulatorClient, store: Store
) -> None:
    store.insert("t", {"n": 1})
    ts = client.replace_table("t", [{"big": 2**60, "blob": {"$bytes": "aGk="}}])
    assert ts == store.last_commit_ts
    (value,) = store.documents()[("", "t")].values()
    assert (value["big"], value["blob"]) == (2**60, b"hi")


def test_the_admin_api_clears_a_table(client: EmulatorClient, store: Store) -> None:
    store.insert("t", {"n": 1}, component="waitlist")
    client.clear_table("t", component="waitlist")
    assert store.documents()[("waitlist", "t")] == {}


def test_the_admin_api_rejects_clearing_a_missing_table(client: EmulatorClient) -> None:
    with pytest.raises(RuntimeError, match="400"):
        client.clear_table("nope")
