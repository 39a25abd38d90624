"""Schema endpoints (§1.7-1.8): ``get_table_column_names`` and ``json_schemas``."""

from __future__ import annotations

import math
from typing import Any

import httpx
import pytest

from convex_emulator import Store

from .helpers import assert_error

DRAFT_07 = "http://json-schema.org/draft-07/schema#"


def _column_names(api: httpx.Client) -> dict[str, list[dict[str, Any]]]:
    response = api.get("/api/get_table_column_names")
    assert response.status_code == 200, response.text
    by_component: dict[str, list[dict[str, Any]]] = response.json()["byComponent"]
    return by_component


def _schemas(api: httpx.Client, **params: str) -> dict[str, Any]:
    response = api.get("/api/json_schemas", params=params)
    assert response.status_code == 200, response.text
    schemas: dict[str, Any] = response.json()
    return schemas


# ---- get_table_column_names --------------------------------------------------------------------


def test_column_names_are_sorted_top_level_fields_including_optional_ones(
    api: httpx.Client, store: Store
) -> None:
    store.insert("messages", {"body": "hi", "author": "ada"})
    store.insert("messages", {"body": "yo", "edited": True, "meta": {"nested": 1}})
    columns = ["_creationTime", "_id", "author", "body", "edited", "meta"]
    assert _column_names(api) == {"": [{"name": "messages", "columns": columns}]}


def test_empty_table_has_only_system_columns(api: httpx.Client, store: Store) -> None:
    store.create_table("emptyTable")
    assert _column_names(api)[""] == [{"name": "emptyTable", "columns": ["_creationTime", "_id"]}]


def test_table_with_a_non_object_shape_has_only_system_columns(
    api: httpx.Client, store: Store
) -> None:
    store.insert("mixed", {"a": 1})
    store.set_schema_exportable("mixed", "", False)
    assert _column_names(api)[""] == [{"name": "mixed", "columns": ["_creationTime", "_id"]}]


def test_column_names_are_grouped_by_component_path(api: httpx.Client, store: Store) -> None:
    store.insert("users", {"name": "root"})
    store.insert("users", {"email": "x"}, component="waitlist")
    by_component = _column_names(api)
    assert by_component["waitlist"] == [
        {"name": "users", "columns": ["_creationTime", "_id", "email"]}
    ]
    assert by_component[""] == [{"name": "users", "columns": ["_creationTime", "_id", "name"]}]


def test_column_names_follow_the_current_data(api: httpx.Client, store: Store) -> None:
    doc = store.insert("t", {"old": 1})
    store.replace(doc, {"new": 2})
    assert _column_names(api)[""][0]["columns"] == ["_creationTime", "_id", "new"]


def test_column_names_skip_unmounted_components_and_deleted_tables(
    api: httpx.Client, store: Store
) -> None:
    store.insert("keep", {"a": 1})
    store.insert("drop", {"a": 1})
    store.insert("users", {"a": 1}, component="gone")
    store.delete_table("drop")
    store.unmount_component("gone")
    assert _column_names(api) == {"": [{"name": "keep", "columns": ["_creationTime", "_id", "a"]}]}


# ---- json_schemas ------------------------------------------------------------------------------


def test_json_schema_of_an_object_table(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"s": "x", "flag": True, "opt": None})
    store.insert("t", {"s": "y", "flag": False})
    schema = _schemas(api)["t"]
    assert schema["$schema"] == DRAFT_07
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False
    assert schema["properties"]["s"] == {"type": "string"}
    assert schema["properties"]["flag"] == {"type": "boolean"}
    assert schema["properties"]["opt"] == {"type": "null"}
    assert schema["properties"]["_id"] == {"$description": "Id(t)", "type": "string"}
    assert schema["properties"]["_creationTime"] == {"type": "number"}
    assert schema["required"] == ["_creationTime", "_id", "flag", "s"]


def test_json_schema_of_an_empty_table_has_id_and_creation_time_only(
    api: httpx.Client, store: Store
) -> None:
    store.create_table("empty")
    schema = _schemas(api)["empty"]
    assert schema["properties"] == {
        "_id": {"$description": "Id(empty)", "type": "string"},
        "_creationTime": {"type": "number"},
    }
    assert schema["required"] == ["_creationTime", "_id"]


def test_json_schema_of_a_reference_is_an_id_of_the_target_table(
    api: httpx.Client, store: Store
) -> None:
    user = store.insert("users", {"name": "ada"})
    store.insert("messages", {"author": user})
    author = _schemas(api)["messages"]["properties"]["author"]
    assert author == {"$description": "Id(users)", "type": "string"}


def test_json_schema_of_arrays_objects_and_unions(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"tags": ["a"], "meta": {"k": "v"}, "either": "x"})
    store.insert("t", {"tags": [], "meta": {"k": "w"}, "either": True})
    properties = _schemas(api)["t"]["properties"]
    assert properties["tags"] == {"type": "array", "items": {"type": "string"}}
    assert properties["meta"] == {
        "type": "object",
        "properties": {"k": {"type": "string"}},
        "additionalProperties": False,
        "required": ["k"],
    }
    assert properties["either"] == {"anyOf": [{"type": "string"}, {"type": "boolean"}]}


@pytest.mark.parametrize(
    ("fmt", "int64", "blob"),
    [
        (
            "json",
            {"type": "string", "$description": "int64 represented as base10 string"},
            {"type": "string", "$description": "base64 bytes"},
        ),
        (
            "convex_encoded_json",
            {"type": "object", "properties": {"$integer": {"type": "string"}}},
            {"type": "object", "properties": {"$bytes": {"type": "string"}}},
        ),
        (
            "export_json",
            {"type": "number"},
            {"type": "object", "properties": {"$bytes": {"type": "string"}}},
        ),
    ],
)
def test_json_schema_of_int64_and_bytes_depends_on_format(
    api: httpx.Client, store: Store, fmt: str, int64: dict[str, Any], blob: dict[str, Any]
) -> None:
    store.insert("t", {"n": 2**60, "blob": b"\x01"})
    properties = _schemas(api, format=fmt)["t"]["properties"]
    assert (properties["n"], properties["blob"]) == (int64, blob)


def test_json_schema_default_format_is_json(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"n": 1})
    assert _schemas(api)["t"]["properties"]["n"]["type"] == "string"


@pytest.mark.parametrize(
    ("fmt", "special"),
    [
        ("json", {"type": "string"}),
        ("convex_encoded_json", {"type": "object", "properties": {"$float": {"type": "string"}}}),
    ],
)
def test_float_column_with_special_values_allows_their_encoding(
    api: httpx.Client, store: Store, fmt: str, special: dict[str, Any]
) -> None:
    store.insert("t", {"x": 1.5})
    store.insert("t", {"x": math.nan})
    assert _schemas(api, format=fmt)["t"]["properties"]["x"] == {
        "anyOf": [{"type": "number"}, special]
    }


def test_float_column_without_special_values_is_a_number(api: httpx.Client, store: Store) -> None:
    store.insert("t", {"x": 1.5})
    assert _schemas(api, format="convex_encoded_json")["t"]["properties"]["x"] == {"type": "number"}


def test_negative_zero_counts_as_a_special_float_value(api: httpx.Client, store: Store) -> None:
    """In ``convex_encoded_json`` -0.0 travels as ``{"$float"}``, so the schema must allow it."""
    store.insert("t", {"x": -0.0})
    schema = _schemas(api, format="convex_encoded_json")["t"]["properties"]["x"]
    assert {"type": "object", "properties": {"$float": {"type": "string"}}} in schema["anyOf"]


def test_delta_schema_adds_metadata_properties_but_not_to_required(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"a": "x"})
    schema = _schemas(api, deltaSchema="true")["t"]
    metadata = ("_table", "_component", "_ts", "_deleted")
    assert {name: schema["properties"][name] for name in metadata} == {
        "_table": {"type": "string"},
        "_component": {"type": "string"},
        "_ts": {"type": "integer"},
        "_deleted": {"type": "boolean"},
    }
    assert schema["required"] == ["_creationTime", "_id", "a"]


def test_without_delta_schema_there_are_no_metadata_properties(
    api: httpx.Client, store: Store
) -> None:
    store.insert("t", {"a": "x"})
    assert not {"_table", "_ts", "_deleted"} & set(_schemas(api)["t"]["properties"])


def test_by_component_false_merges_all_components_into_one_map(
    api: httpx.Client, store: Store
) -> None:
    store.insert("messages", {"a": "x"})
    store.insert("users", {"b": "y"}, component="waitlist")
    assert set(_schemas(api)) == {"messages", "users"}


def test_by_component_true_nests_tables_under_every_component_path(
    api: httpx.Client, store: Store
) -> None:
    store.insert("users", {"a": "x"})
    store.insert("users", {"b": "y"}, component="waitlist")
    store.add_component("idle")
    schemas = _schemas(api, byComponent="true")
    assert set(schemas) == {"", "waitlist", "idle"}
    assert schemas["idle"] == {}
    assert "a" in schemas[""]["users"]["properties"]
    assert "b" in schemas["waitlist"]["users"]["properties"]


def test_non_object_shape_without_schema_is_400_no_schema_for_export(
    api: httpx.Client, store: Store
) -> None:
    store.insert("ok", {"a": 1})
    store.insert("mixed", {"a": 1})
    store.set_schema_exportable("mixed", "", False)
    assert_error(api.get("/api/json_schemas"), 400, "NoSchemaForExport")


def test_json_schemas_with_unknown_format_is_400_bad_format(api: httpx.Client) -> None:
    assert_error(api.get("/api/json_schemas", params={"format": "xml"}), 400, "BadFormat")


def test_json_schemas_with_a_non_boolean_flag_is_400_bad_query_args(api: httpx.Client) -> None:
    assert_error(api.get("/api/json_schemas", params={"byComponent": "yes"}), 400, "BadQueryArgs")
