"""Discovery: one stream per (component, table), names, schemas, metadata and fallbacks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Store
from tap_convex.discovery import PERMISSIVE, property_schema, stream_name
from tests.tap.harness import discover, run_tap, run_tap_process


def streams_by_name(catalog: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {entry["tap_stream_id"]: entry for entry in catalog["streams"]}


def root_metadata(entry: dict[str, Any]) -> dict[str, Any]:
    return next(m["metadata"] for m in entry["metadata"] if m["breadcrumb"] == [])


def test_every_table_of_every_component_becomes_a_stream(
    demo: Store, config: dict[str, Any]
) -> None:
    assert set(streams_by_name(discover(config))) == {
        "users",
        "messages",
        "products",
        "drafts",
        "waitlist__users",
    }


def test_component_tables_are_prefixed_and_names_never_contain_dashes() -> None:
    assert stream_name("", "users") == "users"
    assert stream_name("waitlist", "users") == "waitlist__users"
    assert stream_name("a/b", "users") == "a__b__users"


def test_nested_component_table_is_discovered_with_its_raw_identity(
    store: Store, config: dict[str, Any]
) -> None:
    store.add_component("a/b")
    store.insert("users", {"name": "nested"}, component="a/b")
    entry = streams_by_name(discover(config))["a__b__users"]
    metadata = root_metadata(entry)
    assert (metadata["convex-component"], metadata["convex-table"]) == ("a/b", "users")
    assert (entry["database_name"], entry["table_name"]) == ("a/b", "users")


def test_stream_name_collision_is_a_clear_error(store: Store, config: dict[str, Any]) -> None:
    store.insert("waitlist__users", {"x": 1})
    store.insert("users", {"x": 1}, component="waitlist")
    with pytest.raises(Exception, match="both map to stream name 'waitlist__users'"):
        discover(config)


def test_schema_types_user_fields_from_convex_and_keeps_metadata(
    demo: Store, config: dict[str, Any]
) -> None:
    properties = streams_by_name(discover(config))["users"]["schema"]["properties"]
    assert properties["age"]["type"] == ["integer", "null"]
    assert properties["karma"]["type"] == ["integer", "null"]
    assert properties["name"]["type"] == ["string", "null"]
    assert properties["verified"]["type"] == ["boolean", "null"]
    assert properties["avatar"] == {"type": ["string", "null"], "contentEncoding": "base64"}
    assert properties["profile"]["type"] == ["object", "null"]
    assert properties["_id"]["type"] == "string"
    assert properties["_creationTime"] == {"type": ["string", "null"], "format": "date-time"}
    assert properties["_ts"]["type"] == "integer"
    assert properties["_deleted"]["type"] == "boolean"
    assert properties["_sdc_deleted_at"] == {"type": ["string", "null"], "format": "date-time"}


def test_float_field_with_non_finite_values_stays_a_number(
    demo: Store, config: dict[str, Any]
) -> None:
    properties = streams_by_name(discover(config))["messages"]["schema"]["properties"]
    assert properties["score"]["type"] == ["number", "null"]
    assert properties["tags"]["type"] == ["array", "null"]


def test_key_and_replication_key_are_id_and_ts(demo: Store, config: dict[str, Any]) -> None:
    entry = streams_by_name(discover(config))["messages"]
    assert entry["key_properties"] == ["_id"]
    assert entry["replication_key"] == "_ts"


def test_unexportable_table_schema_falls_back_to_permissive_columns(
    demo: Store, config: dict[str, Any]
) -> None:
    demo.set_schema_exportable("products", "", False)
    streams = streams_by_name(discover(config))
    assert streams["products"]["schema"]["properties"]["_id"]["type"] == "string"
    assert set(streams) >= {"users", "products"}
    assert run_tap(config).records("users")


def test_unions_and_unknown_types_are_permissive() -> None:
    assert property_schema({"anyOf": [{"type": "string"}, {"type": "boolean"}]}) == PERMISSIVE
    assert property_schema({}) == PERMISSIVE
    assert property_schema({"anyOf": [{"type": "string"}, {"type": "null"}]}) == {
        "type": ["string", "null"]
    }


def test_empty_deployment_discovers_no_streams(
    emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    assert discover(config)["streams"] == []


def test_discover_command_closes_its_connection(
    demo: Store, config: dict[str, Any], tmp_path: Path
) -> None:
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    result = run_tap_process(
        config_path, None, None, "--discover", env={"PYTHONWARNINGS": "always"}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["streams"]
    assert "ResourceWarning" not in result.stderr
