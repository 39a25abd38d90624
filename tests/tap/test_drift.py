"""Schema and table drift between and during syncs: each has a defined outcome."""

from __future__ import annotations

from typing import Any

from convex_emulator import EmulatorServer, Store
from tests.tap.harness import (
    Replica,
    discover,
    records_fit_their_schemas,
    run_tap,
    source_documents,
)


def schema_of(output: Any, stream: str) -> dict[str, Any]:
    return [m for m in output.of_type("SCHEMA") if m["stream"] == stream][-1]["schema"]


def test_added_field_becomes_a_new_column_on_the_next_run(
    demo: Store, config: dict[str, Any]
) -> None:
    first = run_tap(config)
    demo.insert("products", {"sku": "X", "color": "red"})
    second = run_tap(config, state=first.last_state)
    assert schema_of(second, "products")["properties"]["color"]["type"] == ["string", "null"]
    assert second.records("products")[0]["color"] == "red"


def test_field_changing_type_becomes_permissive_and_keeps_every_value(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    first = run_tap(config)
    demo.insert("products", {"sku": "Y", "stock": "plenty"})
    second = run_tap(config, state=first.last_state)
    stock = schema_of(second, "products")["properties"]["stock"]
    assert "string" in stock["type"]
    assert "integer" in stock["type"]
    replica = Replica().apply(first).apply(second)
    assert replica.documents("products") == source_documents(emulator, "", "products")


def test_added_table_is_snapshotted_alone_while_others_continue_from_the_log(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    first = run_tap(config)
    demo.insert("invoices", {"total": 10})
    demo.add_component("billing")
    demo.insert("plans", {"name": "pro"}, component="billing")
    emulator.requests.clear()
    second = run_tap(config, state=first.last_state)
    assert {m["stream"] for m in second.of_type("ACTIVATE_VERSION")} == {
        "invoices",
        "billing__plans",
    }
    selection = emulator.requests.entries("list_snapshot")[0]["args"]["selection"]
    assert set(selection) == {"_other", "", "billing"}
    assert set(selection[""]) == {"_other", "invoices"}
    assert len(emulator.requests.entries("document_deltas")) == 1


def test_table_replaced_wholesale_needs_a_resync_which_converges(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    """The legacy API sends no signal when a table is replaced (import --replace): old rows stay
    downstream until the table is re-synced by removing its bookmark (README recipe)."""
    first = run_tap(config)
    demo.delete_table("products")
    demo.insert("products", {"sku": "fresh"})
    state = first.last_state
    second = run_tap(config, state=state)
    stale = Replica().apply(first).apply(second)
    assert len(stale.documents("products")) == 26  # 25 old rows never tombstoned + 1 new
    del state["bookmarks"]["products"]
    resync = run_tap(config, state=state)  # at once: a later snapshot is a newer version
    converged = Replica().apply(first).apply(second).apply(resync)
    assert converged.documents("products") == source_documents(emulator, "", "products")


def test_a_saved_catalog_chooses_streams_and_columns_but_the_deployment_decides_types(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any]
) -> None:
    """Tried as a new user would: discover, save the catalog, a field changes type, sync with
    the saved catalog. The SCHEMA follows the deployment, so every record fits it."""
    catalog = discover(config)
    saved_stock = next(e for e in catalog["streams"] if e["tap_stream_id"] == "products")
    assert saved_stock["schema"]["properties"]["stock"]["type"] == ["integer", "null"]
    demo.insert("products", {"sku": "Z", "stock": "thirty"})
    output = run_tap(config, catalog=catalog)
    stock = schema_of(output, "products")["properties"]["stock"]
    assert {"integer", "string"} <= set(stock["type"])
    assert records_fit_their_schemas(output)
