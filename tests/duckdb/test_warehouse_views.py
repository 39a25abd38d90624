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
from tests.source_truth import expected_history, landed, user_fields


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
    for stream, (component, table) in STREAMS.items():
        where = (stage.name, stream)
        current = {row["_id"]: row for row in rows(warehouse, f"SELECT * FROM {stream}")}
        source = store.documents().get((component, table), {})
        assert set(current) == set(source), where
        for doc_id, doc in source.items():
            for name, value in user_fields(doc).items():
                assert landed(value, current[doc_id][name]), (*where, doc_id, name)

        history = rows(warehouse, f"SELECT * FROM {stream}__history")
        got = sorted(history, key=lambda row: (row["_id"], row["_valid_from_ts"]))
        want = expected_history(
            store, component, table, stage.first_snapshot[stream], stage.retired.get(stream)
        )
        assert [(r["_id"], r["_valid_from_ts"], r["_valid_to_ts"]) for r in got] == [
            (v.doc_id, v.valid_from_ts, v.valid_to_ts) for v in want
        ], where
        for row, version in zip(got, want, strict=True):
            assert row["_is_current"] == (version.valid_to_ts is None), where
            ended_by_delete = version.valid_to_ts is not None and not any(
                later.doc_id == version.doc_id and later.valid_from_ts == version.valid_to_ts
                for later in want
            )
            assert row["_deleted"] == ended_by_delete, (*where, version.doc_id)
            for name, value in version.fields.items():
                assert landed(value, row[name]), (*where, version.doc_id, name)

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
        for stream, (component, table) in STREAMS.items():
            got = rows(pipeline.lake / "warehouse.duckdb", f"SELECT * FROM {stream}")
            source = store.documents().get((component, table), {})
            assert sorted(row["_id"] for row in got) == sorted(source), (stage.name, stream)
