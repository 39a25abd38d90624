"""Discovery: one stream per table of every component, named and typed as the tap does."""

from __future__ import annotations

from airbyte_cdk.models import SyncMode
from airbyte_cdk.test.entrypoint_wrapper import discover

from convex_emulator import EmulatorServer, Store, datasets
from tests.airbyte.harness import POSITION, build_source, config_for, discovered


def test_every_table_of_every_component_is_a_stream_named_as_the_tap_names_it(
    store: Store, emulator: EmulatorServer
) -> None:
    datasets.load_demo(store)
    store.insert("users", {"handle": "nested"}, "a/b")

    streams = {stream.name: stream for stream in discovered(config_for(emulator))}

    assert sorted(streams) == [
        "a__b__users",
        "drafts",
        "messages",
        "products",
        "users",
        "waitlist__users",
    ]
    for stream in streams.values():
        assert stream.source_defined_primary_key == [["_id"]]
        assert stream.default_cursor_field == [POSITION]
        assert SyncMode.incremental in stream.supported_sync_modes


def test_schemas_type_int64_as_integer_bytes_as_base64_and_add_the_landing_fields(
    store: Store, emulator: EmulatorServer
) -> None:
    datasets.load_demo(store)

    streams = {stream.name: stream for stream in discovered(config_for(emulator))}

    users = streams["users"].json_schema["properties"]
    assert users["karma"] == {"type": ["integer", "null"]}
    assert users["avatar"] == {"type": ["string", "null"], "contentEncoding": "base64"}
    assert users["profile"] == {"type": ["object", "null"]}
    assert users["_creationTime"]["format"] == "date-time"
    assert users["_ts"] == {"type": "integer"}
    assert users["_ab_cdc_deleted_at"]["format"] == "date-time"
    messages = streams["messages"].json_schema["properties"]
    assert messages["score"] == {"type": ["number", "null"]}  # NaN arrives as null here
    assert streams["waitlist__users"].json_schema["properties"]["referrals"]["type"] == [
        "array",
        "null",
    ]


def test_two_tables_that_map_to_one_stream_name_stop_discovery_naming_both(
    store: Store, emulator: EmulatorServer
) -> None:
    store.insert("b__users", {"n": 1}, "a")
    store.insert("users", {"n": 2}, "a/b")
    config = config_for(emulator)

    output = discover(build_source(config), config, expecting_exception=True)

    messages = [error.trace.error.message for error in output.errors]
    assert any("'a'/'b__users'" in m and "'a/b'/'users'" in m for m in messages), messages
    assert any("a__b__users" in m for m in messages)


def test_a_table_whose_schema_convex_cannot_export_fails_discovery_saying_what_to_do(
    store: Store, emulator: EmulatorServer
) -> None:
    store.insert("things", {"a": 1})
    store.set_schema_exportable("things", "", exportable=False)
    config = config_for(emulator)

    output = discover(build_source(config), config, expecting_exception=True)

    messages = [error.trace.error.message for error in output.errors]
    assert any("NoSchemaForExport" in m and "tap-convex" in m for m in messages), messages
