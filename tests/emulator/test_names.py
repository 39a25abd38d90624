"""Convex's name rules, on every write path and in every selection form.

Upstream: ``check_valid_identifier`` and ``check_valid_field_name`` in
``crates/convex/sync_types/src/identifier.rs`` of get-convex/convex-backend. A write that
breaks a rule is a 400 naming it; a selection that breaks one is the 500 upstream's
``list_snapshot``/``document_deltas`` answer (they attach no error code to the conversion).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from convex_emulator import EmulatorServer, Store, datasets
from convex_emulator.names import (
    InvalidNameError,
    component_path_problem,
    field_name_problem,
    identifier_problem,
    is_field_name,
    is_identifier,
)

from .helpers import assert_error, delta_values, snapshot_values

LONG_73 = "a field name of seventy-three characters, longer than any identifier: ok!"
LONG_70 = "x" * 70
PUNCTUATION = "price (USD) / unit: 50% off! #1 @home ~ok? [a]{b}<c>|d\\e^f`g'h\"i&j*k+l=m,n.o;p"

IDENTIFIERS = ["a", "Z", "_a", "_1", "a_1", "__x__", "users", "x" * 64]
NOT_IDENTIFIERS = ["", "1a", "a-b", "a b", "a.b", "a/b", "é", "_", "___", "x" * 65]
FIELD_NAMES = ["", " ", "a", "_a", "a$", "~", LONG_73, PUNCTUATION, "y" * 1024]
NOT_FIELD_NAMES = ["$", "$a", "tab\there", "new\nline", "nul\x00", "del\x7f", "é", "🚀", "y" * 1025]
# Top level of a stored document: a field name that is not a reserved `_` name.
TOP_LEVEL_OK = [name for name in FIELD_NAMES if not name.startswith("_")]
TOP_LEVEL_BAD = [*NOT_FIELD_NAMES, "_a", "_ts", "_"]
USER_TABLES = [name for name in IDENTIFIERS if not name.startswith("_")]
NOT_USER_TABLES = [*NOT_IDENTIFIERS, "_a", "_storage"]
COMPONENT_PATHS = ["", "a", "waitlist", "a/b", "_x/y1", "x" * 64]
NOT_COMPONENT_PATHS = ["1a", "a-b", "a//b", "a/", "/a", "_", "a/__", "x" * 65]


# ---- the rules ---------------------------------------------------------------------------------


def test_the_long_names_are_as_long_as_they_say() -> None:
    assert (len(LONG_73), len(LONG_70)) == (73, 70)


@pytest.mark.parametrize(
    ("name", "valid"), [(n, True) for n in IDENTIFIERS] + [(n, False) for n in NOT_IDENTIFIERS]
)
def test_identifier_rule(name: str, valid: bool) -> None:
    assert is_identifier(name) is valid


@pytest.mark.parametrize(
    ("name", "valid"), [(n, True) for n in FIELD_NAMES] + [(n, False) for n in NOT_FIELD_NAMES]
)
def test_field_name_rule(name: str, valid: bool) -> None:
    assert is_field_name(name) is valid


@pytest.mark.parametrize(
    ("problem", "message"),
    [
        (identifier_problem(""), "Identifier cannot be empty"),
        (
            identifier_problem("1a"),
            "Invalid first character '1' in 1a: Identifiers must start with an alphabetic "
            "character or underscore",
        ),
        (
            identifier_problem("a-b"),
            "Identifier a-b has invalid character '-': Identifiers can only contain "
            "alphanumeric characters or underscores",
        ),
        (identifier_problem("x" * 65), "Identifier is too long (65 > maximum 64)"),
        (identifier_problem("__"), "Identifier __ cannot have exclusively underscores"),
        (field_name_problem("$a"), "Field name $a starts with '$', which is reserved."),
        (
            field_name_problem("a\tb"),
            "Field name a\tb has invalid character '\\t': Field names can only contain "
            "non-control ASCII characters",
        ),
        (field_name_problem("y" * 1025), "Field name is too long (1025 > maximum 1024)"),
        (
            component_path_problem("a//b"),
            "Invalid component path 'a//b': Identifier cannot be empty",
        ),
    ],
)
def test_messages_are_upstreams(problem: str | None, message: str) -> None:
    assert problem == message


# ---- writes: Python API, admin API, datasets ---------------------------------------------------


@pytest.mark.parametrize("name", TOP_LEVEL_OK)
def test_top_level_field_accepted(store: Store, name: str) -> None:
    doc_id = store.insert("t", {name: 1})
    assert store.documents()[("", "t")][doc_id][name] == 1


@pytest.mark.parametrize("name", TOP_LEVEL_BAD)
def test_top_level_field_rejected(store: Store, name: str) -> None:
    with pytest.raises(InvalidNameError) as raised:
        store.insert("t", {name: 1})
    assert (raised.value.status, raised.value.code) == (400, "InvalidConvexValue")
    assert store.documents() == {}


@pytest.mark.parametrize("name", FIELD_NAMES)
def test_nested_field_accepted_even_with_underscore(store: Store, name: str) -> None:
    doc_id = store.insert("t", {"outer": {"list": [{name: True}]}})
    assert store.documents()[("", "t")][doc_id]["outer"] == {"list": [{name: True}]}


@pytest.mark.parametrize("name", NOT_FIELD_NAMES)
def test_nested_field_rejected(store: Store, name: str) -> None:
    with pytest.raises(InvalidNameError, match="Field name"):
        store.insert("t", {"outer": {"list": [{name: True}]}})


@pytest.mark.parametrize("name", ["_id", "_creationTime", "_other"])
def test_patch_and_replace_take_no_system_fields(store: Store, name: str) -> None:
    doc_id = store.insert("t", {"a": 1})
    with pytest.raises(ValueError, match="starts with an underscore"):
        store.patch(doc_id, {name: 1.0})
    with pytest.raises(ValueError, match="starts with an underscore"):
        store.replace(doc_id, {name: 1.0})


def test_patch_unsets_no_system_field(store: Store) -> None:
    doc_id = store.insert("t", {"a": 1, LONG_73: 2})
    with pytest.raises(InvalidNameError, match="starts with an underscore"):
        store.patch(doc_id, {}, unset=("_creationTime",))
    store.patch(doc_id, {}, unset=(LONG_73,))
    assert LONG_73 not in store.documents()[("", "t")][doc_id]


def test_patch_takes_long_and_punctuated_names(store: Store) -> None:
    doc_id = store.insert("t", {"a": 1})
    store.patch(doc_id, {LONG_73: 2, PUNCTUATION: 3})
    assert store.documents()[("", "t")][doc_id][LONG_73] == 2


@pytest.mark.parametrize("table", USER_TABLES)
def test_table_name_accepted(store: Store, table: str) -> None:
    store.insert(table, {"a": 1})
    empty = Store()
    empty.create_table(table)
    assert ("", table) in store.documents()
    assert ("", table) in empty.documents()


@pytest.mark.parametrize("table", NOT_USER_TABLES)
def test_table_name_rejected(store: Store, table: str) -> None:
    with pytest.raises(InvalidNameError) as raised:
        store.insert(table, {"a": 1})
    assert raised.value.code == "InvalidTableName"
    with pytest.raises(InvalidNameError):
        store.create_table(table)


@pytest.mark.parametrize("path", COMPONENT_PATHS)
def test_component_path_accepted(store: Store, path: str) -> None:
    store.insert("t", {"a": 1}, component=path)
    store.add_component(path)
    assert path in store.components()


@pytest.mark.parametrize("path", NOT_COMPONENT_PATHS)
def test_component_path_rejected(store: Store, path: str) -> None:
    with pytest.raises(InvalidNameError) as raised:
        store.insert("t", {"a": 1}, component=path)
    assert raised.value.code == "InvalidComponentName"
    with pytest.raises(InvalidNameError):
        store.add_component(path)


@pytest.mark.parametrize(
    ("op", "code"),
    [
        ({"table": "t", "doc": {"$a": 1}}, "InvalidConvexValue"),
        ({"table": "t", "doc": {"a": {"b\n": 1}}}, "InvalidConvexValue"),
        ({"table": "t", "doc": {"_a": 1}}, "InvalidConvexValue"),
        ({"table": "t", "doc": {"y" * 1025: 1}}, "InvalidConvexValue"),
        ({"table": "_t", "doc": {"a": 1}}, "InvalidTableName"),
        ({"table": "x" * 65, "doc": {"a": 1}}, "InvalidTableName"),
        ({"table": "t", "doc": {"a": 1}, "component": "1a"}, "InvalidComponentName"),
    ],
)
def test_admin_api_rejects_a_name_with_a_400_naming_the_rule(
    api: httpx.Client, store: Store, op: dict[str, Any], code: str
) -> None:
    ops = [{"op": "insert", "table": "ok", "doc": {"a": 1}}, {"op": "insert", **op}]
    assert_error(api.post("/_emulator/transaction", json={"ops": ops}), 400, code)
    assert store.documents() == {}


def test_admin_api_takes_every_valid_name(api: httpx.Client, store: Store) -> None:
    doc = {LONG_73: 1, PUNCTUATION: 2, "": 3, "y" * 1024: {"_nested": 4}}
    op = {"op": "insert", "table": "x" * 64, "doc": doc, "component": "a/_b"}
    response = api.post("/_emulator/transaction", json={"ops": [op]})
    assert response.status_code == 200, response.text
    (stored,) = store.documents()[("a/_b", "x" * 64)].values()
    assert {name: stored[name] for name in doc} == doc
    response = api.post("/_emulator/create_table", json={"table": "1a"})
    assert_error(response, 400, "InvalidTableName")


def test_loading_takes_valid_names(store: Store, tmp_path: Path) -> None:
    line = {"_table": "t", "_component": "c/d", LONG_73: 1, "": {"_x": 2}}
    (tmp_path / "ok.jsonl").write_text(json.dumps(line) + "\n")
    assert datasets.load_jsonl(store, tmp_path) == 1
    (stored,) = store.documents()[("c/d", "t")].values()
    assert stored[LONG_73] == 1
    assert stored[""] == {"_x": 2}


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ({"_table": "t", "a": {"$b": 1}}, "InvalidConvexValue"),
        ({"_table": "t", "_x": 1}, "InvalidConvexValue"),
        ({"_table": "no-dash", "a": 1}, "InvalidTableName"),
        ({"_table": "t", "_component": "a//b", "a": 1}, "InvalidComponentName"),
    ],
)
def test_loading_rejects_a_bad_name_and_says_where(
    emulator: EmulatorServer, api: httpx.Client, tmp_path: Path, line: dict[str, Any], code: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"_table": "t", "a": 1}\n' + json.dumps(line) + "\n")
    with pytest.raises(InvalidNameError, match=r"bad\.jsonl:2: ") as raised:
        datasets.load_jsonl(Store(), path)
    assert raised.value.code == code
    body = assert_error(api.post("/_emulator/load", json={"jsonl": str(path)}), 400, code)
    assert "bad.jsonl:2" in body["message"]


# ---- selections: every form, on both read endpoints -------------------------------------------

ENDPOINTS = ["list_snapshot", "document_deltas"]
LITERALS = [("included", "excluded"), ("incl", "excl")]
WIDE_DOC = {LONG_73: "a", LONG_70: "b", PUNCTUATION: "c", "": "d", "plain": "e"}


@pytest.fixture
def cursor(store: Store) -> int:
    """A deltas cursor from before the fixture data, so both endpoints see the same rows."""
    return store.now_for_reads()


@pytest.fixture
def wide(store: Store, cursor: int) -> Store:
    store.insert("wide", WIDE_DOC)
    store.insert("other", {"a": 1}, component="comp")
    return store


def _values(api: httpx.Client, endpoint: str, cursor: int, **args: Any) -> list[dict[str, Any]]:
    if endpoint == "list_snapshot":
        return snapshot_values(api, **args)
    return delta_values(api, cursor, **args)


def _ask(
    api: httpx.Client, endpoint: str, cursor: int, *, get: bool = False, **args: Any
) -> httpx.Response:
    if endpoint == "document_deltas":
        args["cursor"] = cursor
    if get:
        return api.get(f"/api/{endpoint}", params=args)
    return api.post(f"/api/{endpoint}", json=args)


def _user_fields(value: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in value.items() if not k.startswith("_")}


def _columns(included: str, excluded: str, **columns: str) -> dict[str, Any]:
    return {"_other": excluded, "": {"_other": excluded, "wide": {"_other": included, **columns}}}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("included", "excluded"), LITERALS)
def test_deselecting_long_and_punctuated_columns(
    api: httpx.Client, wide: Store, cursor: int, endpoint: str, included: str, excluded: str
) -> None:
    dropped = {LONG_73: excluded, PUNCTUATION: excluded, "": excluded}
    selection = _columns(included, excluded, **dropped)
    (value,) = _values(api, endpoint, cursor, selection=selection)
    assert _user_fields(value) == {LONG_70: "b", "plain": "e"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("included", "excluded"), LITERALS)
def test_allow_listing_long_and_punctuated_columns(
    api: httpx.Client, wide: Store, cursor: int, endpoint: str, included: str, excluded: str
) -> None:
    kept = {"_id": included, LONG_73: included, PUNCTUATION: included, "": included}
    (value,) = _values(api, endpoint, cursor, selection=_columns(excluded, excluded, **kept))
    assert _user_fields(value) == {LONG_73: "a", PUNCTUATION: "c", "": "d"}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("column", ["_absent", "_creationTime", "y" * 1024, " "])
def test_any_valid_field_name_may_be_a_column(
    api: httpx.Client, wide: Store, cursor: int, endpoint: str, column: str
) -> None:
    (value,) = _values(
        api, endpoint, cursor, selection=_columns("incl", "excl", **{column: "excl"})
    )
    assert _user_fields(value) == WIDE_DOC


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("column", NOT_FIELD_NAMES)
def test_invalid_column_is_upstreams_500(
    api: httpx.Client, wide: Store, cursor: int, endpoint: str, column: str
) -> None:
    response = _ask(api, endpoint, cursor, selection=_columns("incl", "excl", **{column: "excl"}))
    assert_error(response, 500, "InternalServerError")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("table", ["_storage", "_scheduled_functions", "x" * 64, "never_made"])
def test_any_identifier_may_be_a_selected_table(
    api: httpx.Client, wide: Store, cursor: int, endpoint: str, table: str
) -> None:
    """System tables parse as table names; they are simply never exported."""
    selection = {"_other": "excl", "": {"_other": "excl", table: {"_other": "incl"}}}
    assert _values(api, endpoint, cursor, selection=selection) == []
    assert _values(api, endpoint, cursor, table_name=table) == []


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("table", NOT_IDENTIFIERS)
def test_invalid_table_is_upstreams_500_in_every_form(
    api: httpx.Client, wide: Store, cursor: int, endpoint: str, table: str
) -> None:
    selection = {"_other": "excl", "": {"_other": "excl", table: {"_other": "incl"}}}
    for response in (
        _ask(api, endpoint, cursor, selection=selection),
        _ask(api, endpoint, cursor, table_name=table),
        _ask(api, endpoint, cursor, tableName=table, component=""),
        _ask(api, endpoint, cursor, get=True, tableName=table),
    ):
        assert_error(response, 500, "InternalServerError")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("path", NOT_COMPONENT_PATHS)
def test_invalid_component_is_upstreams_500_in_every_form(
    api: httpx.Client, wide: Store, cursor: int, endpoint: str, path: str
) -> None:
    for response in (
        _ask(api, endpoint, cursor, selection={"_other": "incl", path: "excl"}),
        _ask(api, endpoint, cursor, table_name="wide", component=path),
        _ask(api, endpoint, cursor, component=path),
        _ask(api, endpoint, cursor, get=True, component=path),
    ):
        assert_error(response, 500, "InternalServerError")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_valid_component_paths_select_in_every_form(
    api: httpx.Client, wide: Store, cursor: int, endpoint: str
) -> None:
    for args in (
        {"selection": {"_other": "excl", "comp": {"_other": "incl"}, "_x/y1": "excl"}},
        {"table_name": "other", "component": "comp"},
        {"component": "comp"},
    ):
        (value,) = _values(api, endpoint, cursor, **args)
        assert (value["_component"], value["_table"]) == ("comp", "other")
    assert _values(api, endpoint, cursor, component="_x/y1") == []
