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
from tests.source_truth import assert_current_state, assert_history


def bronze(spark: SparkSession, lake: Path, stream: str, fmt: str) -> DataFrame:
    """The stream's change log as Spark sees it, with mergeSchema across every file."""
    reader = spark.read.option("mergeSchema", "true")
    if fmt == "delta":
        # delta-spark's jars come from Maven at session start, which this environment cannot
        # reach: Spark reads the files of the table's current version, as its log lists them.
        return reader.parquet(*DeltaTable(str(lake / stream)).file_uris())
    return reader.parquet(str(lake / stream))


def check(spark: SparkSession, store: Store, lake: Path, fmt: str, stage: Stage) -> None:
    for stream, table in STREAMS.items():
        where = (stage.name, stream)
        bronze(spark, lake, stream, fmt).createOrReplaceTempView("bronze")
        current = spark.sql(spark_current_sql("bronze")).collect()
        assert_current_state((row.asDict() for row in current), store, table, where)
        history = spark.sql(spark_history_sql("bronze")).collect()
        first, retired = stage.first_snapshot[stream], stage.retired.get(stream)
        assert_history((row.asDict() for row in history), store, table, first, retired, where)


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_spark_resolves_the_bronze_log_after_every_kind_of_change(
    spark: SparkSession, store: Store, emulator: EmulatorServer, tmp_path: Path, fmt: str
) -> None:
    pipeline = Pipeline(emulator, tmp_path, format=fmt, mode="cdc")
    for stage in every_kind_of_change(store, pipeline):
        check(spark, store, pipeline.lake, fmt, stage)
