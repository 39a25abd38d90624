"""The DuckDB warehouse's views equal the source through every kind of change.

`target-parquet` keeps `<lake>/warehouse.duckdb`; after each stage of
`lake_pipeline.every_kind_of_change` its `<stream>` view is the emulator's documents, its
`<stream>__history` view is every revision the change log saw, document by document, and its
`<stream>__changes` view is the change log as landed, for Parquet and Delta alike.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as pads
import pytest
from deltalake import DeltaTable

from convex_emulator import EmulatorServer, Store
from tests.lake_pipeline import STREAMS, Pipeline, Stage, every_kind_of_change
from tests.source_truth import assert_current_state, assert_history


def rows(warehouse: Path, sql: str) -> list[dict[str, Any]]:
    with duckdb.connect(str(warehouse), read_only=True) as connection:
        table: pa.Table = connection.sql(sql).to_arrow_table()
    return table.to_pylist()


def landed_log(lake: Path, stream: str, fmt: str) -> list[tuple[str, int, bool]]:
    """The change log's rows read with pyarrow (not DuckDB), as (_id, _ts, _deleted)."""
    columns = ["_id", "_ts", "_deleted"]
    if fmt == "delta":
        table = DeltaTable(str(lake / stream)).to_pyarrow_table(columns=columns)
    else:
        dataset = pads.dataset(lake / stream, format="parquet", partitioning="hive")
        files = [path for path in dataset.files if "/date=" in path]
        table = pads.dataset(files, format="parquet").to_table(columns=columns)
    return sorted(zip(*(table[name].to_pylist() for name in columns), strict=True))


def check(warehouse: Path, store: Store, lake: Path, fmt: str, stage: Stage) -> None:
    for stream, table in STREAMS.items():
        where = (stage.name, stream)
        assert_current_state(rows(warehouse, f"SELECT * FROM {stream}"), store, table, where)
        history = rows(warehouse, f"SELECT * FROM {stream}__history")
        first, retired = stage.first_snapshot[stream], stage.retired.get(stream)
        assert_history(history, store, table, first, retired, where)
        changes = rows(warehouse, f"SELECT _id, _ts, _deleted FROM {stream}__changes")
        log = sorted((row["_id"], row["_ts"], row["_deleted"]) for row in changes)
        assert log == landed_log(lake, stream, fmt), where


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_the_views_equal_the_source_after_every_kind_of_change(
    store: Store, emulator: EmulatorServer, tmp_path: Path, fmt: str
) -> None:
    pipeline = Pipeline(emulator, tmp_path, format=fmt, mode="cdc")
    for stage in every_kind_of_change(store, pipeline):
        check(pipeline.lake / "warehouse.duckdb", store, pipeline.lake, fmt, stage)


def test_a_current_mode_lake_has_the_current_state_view(
    store: Store, emulator: EmulatorServer, tmp_path: Path
) -> None:
    pipeline = Pipeline(emulator, tmp_path, mode="current")
    for stage in every_kind_of_change(store, pipeline):
        for stream, table in STREAMS.items():
            got = rows(pipeline.lake / "warehouse.duckdb", f"SELECT * FROM {stream}")
            assert_current_state(got, store, table, (stage.name, stream))
