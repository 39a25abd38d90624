"""A table replaced wholesale converges in the lake with `transport: data_sync`, in both modes.

The streaming-export API sends no signal for `npx convex import --replace`; the Data Sync API
sends a truncate, the tap starts a new table version, and its ACTIVATE_VERSION retires the
replaced rows in target-parquet (retirement rows in `cdc`, removal in `current`) only after
the replacement has landed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Store
from tests.e2e.pipeline import cdc_current_state, current_table
from tests.tap.harness import source_documents
from tests.tap.test_saved_catalog_drift import plain, saved_catalog, sync


@pytest.mark.parametrize("mode", ["cdc", "current"])
def test_a_replaced_table_converges_in_every_mode(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path, mode: str
) -> None:
    config = {**config, "transport": "data_sync"}
    catalog = saved_catalog(config)  # products selected, its price column deselected
    state = sync(tmp_path, config, catalog, mode, None)
    kept = next(iter(source_documents(emulator, "", "products")))
    demo.replace_table("products", [{"_id": kept, "sku": "KEPT", "stock": 1}, {"sku": "NEW"}])
    state = sync(tmp_path, config, catalog, mode, state)
    demo.clear_table("products")
    demo.insert("products", {"sku": "AFTER-CLEAR", "stock": 3})
    sync(tmp_path, config, catalog, mode, state)

    lake = tmp_path / "lake"
    if mode == "cdc":
        rows = cdc_current_state(lake, "products")
    else:
        rows = {row["_id"]: row for row in current_table(lake, "products")}
        rows = {doc_id: row for doc_id, row in rows.items() if not row["_deleted"]}
    source = source_documents(emulator, "", "products")
    assert set(rows) == set(source)
    for doc_id, document in source.items():
        assert rows[doc_id]["sku"] == document["sku"]
        assert plain(rows[doc_id]["stock"]) == document.get("stock")
