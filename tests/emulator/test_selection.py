"""The flattened ``selection`` arguments (§1.11), parsed as upstream's untagged enum."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from convex_emulator import EmulatorServer, Store
from convex_emulator.table_filter import EVERYTHING, parse_selection_args

from .helpers import assert_error, delta_values, document_deltas, snapshot_values, tables_of

ROOT_MESSAGES = ("", "messages")
ROOT_USERS = ("", "users")
WAITLIST_USERS = ("waitlist", "users")
ALL_TABLES = {ROOT_MESSAGES, ROOT_USERS, WAITLIST_USERS}


@pytest.fixture
def deployment(store: Store) -> Store:
    """Two root tables and a component with a table named like a root one."""
    store.insert("messages", {"body": "hi", "secret": "s", "meta": {"secret": "nested"}})
    store.insert("users", {"name": "ada", "password": "hunter2"})
    store.insert("users", {"email": "w@example.com"}, component="waitlist")
    return store


def _snapshot_tables(api: httpx.Client, **args: Any) -> set[tuple[str, str]]:
    return tables_of(snapshot_values(api, **args))


# ---- exact selection ---------------------------------------------------------------------------


def test_exact_selection_exports_only_the_listed_table(
    api: httpx.Client, deployment: Store
) -> None:
    selection = {"_other": "excluded", "": {"_other": "excluded", "users": {"_other": "included"}}}
    assert _snapshot_tables(api, selection=selection) == {ROOT_USERS}


def test_top_level_other_decides_unlisted_components(api: httpx.Client, deployment: Store) -> None:
    selection = {"_other": "included", "": "excluded"}
    assert _snapshot_tables(api, selection=selection) == {WAITLIST_USERS}


def test_component_other_decides_unlisted_tables(api: httpx.Client, deployment: Store) -> None:
    selection = {"_other": "excluded", "": {"_other": "included", "users": "excluded"}}
    assert _snapshot_tables(api, selection=selection) == {ROOT_MESSAGES}


def test_listed_excluded_table_wins_over_included_other(
    api: httpx.Client, deployment: Store
) -> None:
    selection = {"_other": "included", "": {"_other": "included", "messages": "excluded"}}
    assert _snapshot_tables(api, selection=selection) == {ROOT_USERS, WAITLIST_USERS}


def test_short_literals_incl_and_excl_are_accepted(api: httpx.Client, deployment: Store) -> None:
    selection = {"_other": "excl", "waitlist": {"_other": "incl"}}
    assert _snapshot_tables(api, selection=selection) == {WAITLIST_USERS}


def test_legacy_server_accepts_incl_and_excl(
    emulator: EmulatorServer, api: httpx.Client, deployment: Store
) -> None:
    emulator.configure({"legacy_selection_literals": True})
    selection = {"_other": "excl", "waitlist": {"_other": "incl"}}
    assert _snapshot_tables(api, selection=selection) == {WAITLIST_USERS}


def test_legacy_server_treats_included_literal_as_malformed_so_exports_everything(
    emulator: EmulatorServer, api: httpx.Client, deployment: Store
) -> None:
    emulator.configure({"legacy_selection_literals": True})
    selection = {"_other": "excluded", "waitlist": {"_other": "included"}}
    assert _snapshot_tables(api, selection=selection) == ALL_TABLES


def test_selection_applies_to_document_deltas(api: httpx.Client, store: Store) -> None:
    cursor = store.now_for_reads()
    store.insert("messages", {"body": "hi"})
    store.insert("users", {"name": "ada"})
    selection = {"_other": "excl", "": {"_other": "excl", "users": {"_other": "incl"}}}
    assert tables_of(delta_values(api, cursor, selection=selection)) == {ROOT_USERS}


# ---- single table, single component, everything ------------------------------------------------


def test_table_name_selects_one_root_table(api: httpx.Client, deployment: Store) -> None:
    assert _snapshot_tables(api, table_name="users") == {ROOT_USERS}


def test_table_name_alias_with_component_selects_a_component_table(
    api: httpx.Client, deployment: Store
) -> None:
    assert _snapshot_tables(api, tableName="users", component="waitlist") == {WAITLIST_USERS}


def test_server_that_ignores_the_table_name_alias_exports_everything(
    emulator: EmulatorServer, api: httpx.Client, deployment: Store
) -> None:
    emulator.configure({"ignore_table_name_alias": True})
    assert _snapshot_tables(api, tableName="users") == ALL_TABLES


def test_server_that_ignores_the_alias_still_honours_table_name(
    emulator: EmulatorServer, api: httpx.Client, deployment: Store
) -> None:
    emulator.configure({"ignore_table_name_alias": True})
    assert _snapshot_tables(api, table_name="users") == {ROOT_USERS}


def test_component_alone_selects_all_tables_of_that_component(
    api: httpx.Client, deployment: Store
) -> None:
    assert _snapshot_tables(api, component="") == {ROOT_MESSAGES, ROOT_USERS}
    assert _snapshot_tables(api, component="waitlist") == {WAITLIST_USERS}


def test_no_selection_arguments_export_everything(api: httpx.Client, deployment: Store) -> None:
    assert _snapshot_tables(api) == ALL_TABLES


def test_get_query_form_selects_by_table_name_and_component(
    api: httpx.Client, deployment: Store
) -> None:
    response = api.get("/api/list_snapshot", params={"tableName": "users", "component": "waitlist"})
    assert tables_of(response.json()["values"]) == {WAITLIST_USERS}


def test_get_query_form_selects_deltas_by_table_name(api: httpx.Client, store: Store) -> None:
    cursor = store.now_for_reads()
    store.insert("messages", {"body": "hi"})
    store.insert("users", {"name": "ada"})
    response = api.get("/api/document_deltas", params={"cursor": cursor, "tableName": "messages"})
    assert tables_of(response.json()["values"]) == {ROOT_MESSAGES}


def test_table_filter_on_deltas_still_advances_the_cursor_to_now(
    api: httpx.Client, store: Store
) -> None:
    cursor = store.now_for_reads()
    store.insert("messages", {"body": "hi"})
    with store.transaction() as tx:
        tx.insert("users", {"name": "ada"})
    page = document_deltas(api, cursor, table_name="messages")
    assert [value["_table"] for value in page["values"]] == ["messages"]
    assert page["cursor"] == tx.ts > page["values"][0]["_ts"]


# ---- malformed selections silently mean "everything" -------------------------------------------


def test_selection_missing_top_level_other_exports_everything(
    api: httpx.Client, deployment: Store
) -> None:
    selection = {"": {"_other": "excluded", "users": {"_other": "included"}}}
    assert _snapshot_tables(api, selection=selection) == ALL_TABLES


def test_selection_missing_nested_other_exports_everything(
    api: httpx.Client, deployment: Store
) -> None:
    selection = {"_other": "excluded", "": {"users": {"_other": "included"}}}
    assert _snapshot_tables(api, selection=selection) == ALL_TABLES


def test_selection_with_unknown_literal_include_exports_everything(
    api: httpx.Client, deployment: Store
) -> None:
    selection = {"_other": "exclude", "": {"_other": "exclude", "users": {"_other": "include"}}}
    assert _snapshot_tables(api, selection=selection) == ALL_TABLES


def test_component_given_as_included_string_is_malformed() -> None:
    assert parse_selection_args({"selection": {"_other": "excl", "": "included"}}) is EVERYTHING


def test_malformed_selection_falls_back_to_table_name_when_present() -> None:
    parsed = parse_selection_args({"selection": {"": "nope"}, "table_name": "users"})
    assert parsed.kind == "single_table"
    assert parsed.table("", "users") is not None
    assert parsed.table("", "messages") is None


# ---- columns -----------------------------------------------------------------------------------

USERS_WITHOUT_PASSWORD = {
    "_other": "excl",
    "": {
        "_other": "excl",
        "users": {"_other": "incl", "password": "excl", "_creationTime": "excl"},
    },
}


def test_column_exclusion_in_list_snapshot(api: httpx.Client, deployment: Store) -> None:
    (value,) = snapshot_values(api, selection=USERS_WITHOUT_PASSWORD)
    assert set(value) == {"_component", "_table", "_ts", "_id", "name"}


def test_column_exclusion_in_document_deltas(api: httpx.Client, store: Store) -> None:
    cursor = store.now_for_reads()
    store.insert("users", {"name": "ada", "password": "hunter2"})
    (value,) = delta_values(api, cursor, selection=USERS_WITHOUT_PASSWORD)
    assert set(value) == {"_component", "_table", "_ts", "_deleted", "_id", "name"}


def test_column_allow_list_needs_only_id_and_the_wanted_columns(
    api: httpx.Client, deployment: Store
) -> None:
    selection = {
        "_other": "excl",
        "": {"_other": "excl", "users": {"_other": "excl", "_id": "incl", "name": "incl"}},
    }
    (value,) = snapshot_values(api, selection=selection)
    assert set(value) == {"_component", "_table", "_ts", "_id", "name"}


def test_column_filtering_is_top_level_only(api: httpx.Client, deployment: Store) -> None:
    selection = {
        "_other": "excl",
        "": {"_other": "excl", "messages": {"_other": "incl", "secret": "excl"}},
    }
    (value,) = snapshot_values(api, selection=selection)
    assert "secret" not in value
    assert value["meta"] == {"secret": "nested"}


def test_excluding_id_is_500_internal_server_error(api: httpx.Client, deployment: Store) -> None:
    users = {"_other": "incl", "_id": "excl"}
    selection = {"_other": "excl", "": {"_other": "excl", "users": users}}
    response = api.post("/api/list_snapshot", json={"selection": selection})
    body = assert_error(response, 500, "InternalServerError")
    assert body["message"] == "Your request couldn't be completed. Try again later."


def test_column_allow_list_without_id_is_500_in_document_deltas(
    api: httpx.Client, store: Store
) -> None:
    selection = {"_other": "excl", "": {"_other": "excl", "users": {"_other": "excl", "a": "incl"}}}
    response = api.post(
        "/api/document_deltas", json={"cursor": store.now_for_reads(), "selection": selection}
    )
    assert_error(response, 500, "InternalServerError")


def test_invalid_table_name_in_selection_is_500(api: httpx.Client, deployment: Store) -> None:
    selection = {"_other": "excl", "": {"_other": "excl", "no-dashes": {"_other": "incl"}}}
    assert_error(
        api.post("/api/list_snapshot", json={"selection": selection}), 500, "InternalServerError"
    )
