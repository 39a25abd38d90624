"""What stops target-postgres for good, and the documented remedy that gets it going again.

Each test shows the break first (so a target release that fixes it is noticed), then applies
the one-line remedy from docs/warehouses.md and checks Postgres against the emulator.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convex_emulator import EmulatorServer, Store
from tests.warehouses.conftest import PostgresServer
from tests.warehouses.pipeline import (
    SCHEMA,
    assert_matches_source,
    current_rows,
    fetch,
    landed_state,
    meltano,
    pipeline_env,
    run_pipeline,
)

pytestmark = pytest.mark.slow

#: docs/warehouses.md's remedy for a field that changed type: widen the column to jsonb, the
#: type target-postgres gives a mixed-type field in a new table (the view goes first: Postgres
#: will not change the type of a column a view uses; the next view refresh recreates it).
WIDEN_STOCK_SQL = (
    "DROP VIEW IF EXISTS convex_current.products; "
    "ALTER TABLE convex.products ALTER COLUMN stock TYPE jsonb USING to_jsonb(stock);"
)

#: 64 bytes: one more than Postgres keeps of an identifier.
LONG_NAME = "inventory_reorder_threshold_for_the_warehouse_nearest_the_client"
SHORT_NAME = "reorder_threshold"
#: docs/warehouses.md's stream-map alias. The cast gives the new column its type (the SDK
#: types an expression by its outer call); ``.get`` because a document may lack the field,
#: and every delete does, and then a bare name would not evaluate.
ALIAS = f"int(record['{LONG_NAME}']) if record.get('{LONG_NAME}') is not None else None"


def test_a_field_that_changes_type_stops_the_load_until_its_column_is_widened_to_jsonb(
    installed_plugins: None,
    postgres: PostgresServer,
    database: str,
    store: Store,
    emulator: EmulatorServer,
    tmp_path: Path,
) -> None:
    ids = [store.insert("products", {"sku": f"P{n}", "stock": 2**62 + n}) for n in range(4)]
    env = pipeline_env(emulator, postgres, database, tmp_path)
    run_pipeline(env)
    state_before = landed_state(env)

    store.patch(ids[0], {"stock": "out of stock"})  # integer -> string
    store.patch(ids[1], {"stock": 5})
    store.delete(ids[3])
    failed = meltano("run", "tap-convex", "target-postgres", env=env, expect_success=False)
    assert failed.returncode != 0
    assert "DatatypeMismatch" in failed.stdout + failed.stderr
    assert landed_state(env) == state_before, "a failed load does not move the state"

    with postgres.connect(database) as connection:
        current_rows(connection, "products")  # the views exist, as they would for a user
        connection.execute(WIDEN_STOCK_SQL)
        connection.commit()
        run_pipeline(env)
        rows = current_rows(connection, "products")
        assert_matches_source(rows, store, "", "products")
        assert rows[ids[0]]["stock"] == "out of stock"
        assert rows[ids[2]]["stock"] == 2**62 + 2, "int64 stays exact inside jsonb"


def test_a_field_name_over_63_bytes_lands_under_the_stream_map_alias(
    installed_plugins: None,
    postgres: PostgresServer,
    database: str,
    store: Store,
    emulator: EmulatorServer,
    tmp_path: Path,
) -> None:
    assert len(LONG_NAME.encode()) == 64
    first = store.insert("products", {"sku": "A", LONG_NAME: 2**62 + 1})
    second = store.insert("products", {"sku": "B"})  # documents may lack the field
    env = pipeline_env(emulator, postgres, database, tmp_path)
    failed = meltano("run", "tap-convex", "target-postgres", env=env, expect_success=False)
    assert failed.returncode != 0, "without the alias the load fails"
    assert "DuplicateColumn" in failed.stdout + failed.stderr

    # docs/warehouses.md's remedy, a one-line stream map on target-postgres.
    stream_maps = {"products": {SHORT_NAME: ALIAS, LONG_NAME: "__NULL__"}}
    remedied = {**env, "TARGET_POSTGRES_STREAM_MAPS": json.dumps(stream_maps)}
    with postgres.connect(database) as connection:
        run_pipeline(remedied)
        store.patch(first, {LONG_NAME: -(2**63)})
        store.insert("products", {"sku": "C", LONG_NAME: 7})
        store.insert("products", {"sku": "D"})
        store.delete(second)
        run_pipeline(remedied)
        rows = current_rows(connection, "products")
        columns = {
            row["column_name"]: row["data_type"]
            for row in fetch(
                connection,
                "SELECT column_name, data_type FROM information_schema.columns "
                f"WHERE table_schema = '{SCHEMA}' AND table_name = 'products'",
            )
        }
    assert columns[SHORT_NAME] == "bigint"
    # The failed run left the name cut to 63 bytes (why the next ADD COLUMN collided); it
    # stays, unused, until dropped by hand.
    assert [name for name in columns if name.startswith(LONG_NAME[:40])] == [LONG_NAME[:63]]
    documents = store.documents()[("", "products")]
    assert set(rows) == set(documents)
    for doc_id, document in documents.items():
        assert rows[doc_id][SHORT_NAME] == document.get(LONG_NAME), doc_id
        assert rows[doc_id]["sku"] == document["sku"]
