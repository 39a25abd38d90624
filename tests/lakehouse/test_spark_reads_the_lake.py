"""Spark reads the bronze change log we land, Parquet and Delta, through every kind of change.

After each stage of `lake_pipeline.every_kind_of_change` (snapshot, updates, deletes, a
table replaced then re-synced, an unchanged re-snapshot, a replayed delivery, a field
changing type) Spark reads the lake with `mergeSchema`, applies the documented current-state
and history (SCD2) recipes, and both equal the emulator's documents and revisions.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from convex_emulator import EmulatorServer, Store
from target_parquet.resolution import spark_current_sql, spark_history_sql
from tests.lake_pipeline import STREAMS, Pipeline, Stage, every_kind_of_change
from tests.source_truth import expected_history, landed, user_fields


def bronze(spark: SparkSession, lake: Path, stream: str, fmt: str) -> DataFrame:
    """The stream's change log as Spark sees it, with mergeSchema across every file."""
    reader = spark.read.option("mergeSchema", "true")
    if fmt == "delta":
        # delta-spark's jars come from Maven at session start, which this environment cannot
        # reach: Spark reads the files of the table's current version, as its log lists them.
        return reader.parquet(*DeltaTable(str(lake / stream)).file_uris())
    return reader.parquet(str(lake / stream))


def check(spark: SparkSession, store: Store, lake: Path, fmt: str, stage: Stage) -> None:
    for stream, (component, table) in STREAMS.items():
        bronze(spark, lake, stream, fmt).createOrReplaceTempView("bronze")
        current = {
            row["_id"]: row.asDict() for row in spark.sql(spark_current_sql("bronze")).collect()
        }
        source = {
            doc_id: user_fields(doc)
            for doc_id, doc in store.documents().get((component, table), {}).items()
        }
        assert set(current) == set(source), (stage.name, stream)
        for doc_id, fields in source.items():
            for name, value in fields.items():
                assert landed(value, current[doc_id][name]), (stage.name, stream, doc_id, name)

        history = spark.sql(spark_history_sql("bronze")).collect()
        got = sorted(
            ((r["_id"], r["_valid_from_ts"], r["_valid_to_ts"]), r.asDict()) for r in history
        )
        want = expected_history(
            store, component, table, stage.first_snapshot[stream], stage.retired.get(stream)
        )
        assert [g[0] for g in got] == [(v.doc_id, v.valid_from_ts, v.valid_to_ts) for v in want], (
            stage.name,
            stream,
        )
        for (_, row), version in zip(got, want, strict=True):
            assert row["_is_current"] == (version.valid_to_ts is None)
            for name, value in version.fields.items():
                assert landed(value, row[name]), (stage.name, stream, version.doc_id, name)


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_spark_resolves_the_bronze_log_after_every_kind_of_change(
    spark: SparkSession, store: Store, emulator: EmulatorServer, tmp_path: Path, fmt: str
) -> None:
    pipeline = Pipeline(emulator, tmp_path, format=fmt, mode="cdc")
    for stage in every_kind_of_change(store, pipeline):
        check(spark, store, pipeline.lake, fmt, stage)
