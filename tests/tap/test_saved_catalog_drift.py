"""A saved catalog meets a field that changed type: the pipeline goes on, into every mode.

Tried as a new user would: discover and save the catalog, sync into target-parquet, a field
changes type (integer, then the string "thirty") and a field is added, sync again with the
saved catalog. The catalog chooses streams and columns; the deployment decides the types.
"""

from __future__ import annotations

import copy
import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from convex_emulator import EmulatorServer, Store
from tests.e2e.pipeline import cdc_current_state, current_table
from tests.tap.harness import (
    TAP_COMMAND,
    discover,
    parse_lines,
    records_fit_their_schemas,
    source_documents,
)

TARGET_COMMAND = str(Path(TAP_COMMAND).with_name("target-parquet"))


def saved_catalog(config: dict[str, Any]) -> dict[str, Any]:
    """The discovered catalog with `products` selected and its `price` column deselected."""
    catalog = copy.deepcopy(discover(config))
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] == "products"
            elif item["breadcrumb"] == ["properties", "price"]:
                item["metadata"]["selected"] = False
    return catalog


def sync(
    workdir: Path, config: dict[str, Any], catalog: dict[str, Any], mode: str, state: Any
) -> Any:
    """tap-convex | target-parquet, as an orchestrator pipes them; the last STATE."""
    paths = {name: workdir / f"{name}.json" for name in ("tap", "catalog", "target", "state")}
    paths["tap"].write_text(json.dumps(config))
    paths["catalog"].write_text(json.dumps(catalog))
    target = {"destination_path": str(workdir / "lake"), "mode": mode}
    paths["target"].write_text(json.dumps(target))
    args = [TAP_COMMAND, "--config", str(paths["tap"]), "--catalog", str(paths["catalog"])]
    if state is not None:
        paths["state"].write_text(json.dumps(state))
        args += ["--state", str(paths["state"])]
    tap = subprocess.run(args, capture_output=True, check=True)
    assert records_fit_their_schemas(parse_lines(tap.stdout.decode()))
    landed = subprocess.run(
        [TARGET_COMMAND, "--config", str(paths["target"])],
        input=tap.stdout,
        capture_output=True,
        check=False,
    )
    assert landed.returncode == 0, landed.stderr.decode()[-3000:]
    return json.loads(landed.stdout.decode().splitlines()[-1])


def plain(value: Any) -> Any:
    """A landed value as JSON: drifted columns hold JSON text, others their own type."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


@pytest.mark.parametrize("mode", ["cdc", "current"])
def test_a_field_changing_type_under_a_saved_catalog_lands_in_every_mode(
    demo: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path, mode: str
) -> None:
    catalog = saved_catalog(config)
    state = sync(tmp_path, config, catalog, mode, None)
    some_product = next(iter(source_documents(emulator, "", "products")))
    demo.patch(some_product, {"stock": "thirty"})
    demo.insert("products", {"sku": "NEW-1", "stock": "out of stock", "color": "red"})
    sync(tmp_path, config, catalog, mode, state)

    lake = tmp_path / "lake"
    if mode == "cdc":
        rows = cdc_current_state(lake, "products")
    else:
        rows = {row["_id"]: row for row in current_table(lake, "products")}
    source = source_documents(emulator, "", "products")
    assert set(rows) == set(source)
    for doc_id, document in source.items():
        assert plain(rows[doc_id]["stock"]) == document.get("stock"), doc_id
        assert "price" not in rows[doc_id]
    new = next(row for row in rows.values() if row["sku"] == "NEW-1")
    assert new["color"] == "red"
