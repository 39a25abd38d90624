"""Spark reads the bronze change log we land, Parquet and Delta, through every kind of change.

After each stage (snapshot, updates, deletes, a table replaced then re-synced, a field
changing type) Spark reads the lake with `mergeSchema`, applies the documented current-state
and history (SCD2) recipes, and both equal the emulator's documents and revisions.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from deltalake import DeltaTable
from pyspark.sql import DataFrame, SparkSession

from convex_emulator import EmulatorServer, Store
from target_parquet.resolution import spark_current_sql, spark_history_sql
from tests.lakehouse.conftest import Pipeline
from tests.lakehouse.recipes import expected_history, landed, user_fields

STREAMS = {"items": ("", "items"), "shop__orders": ("shop", "orders")}


def seed(store: Store) -> None:
    rng = random.Random(13)
    store.add_component("shop")
    with store.transaction() as tx:
        for number in range(20):
            tx.insert(
                "items",
                {
                    "n": rng.choice([number, 2**62 + number, -(2**63) + number]),
                    "x": rng.choice([0.5 * number, -0.0, float("nan")]),
                    "s": f"item {number}",
                    "b": number % 2 == 0,
                    "o": {"deep": {"big": 2**60 + number}, "list": [number, "x"]},
                    "by": bytes([number, 255]),
                },
            )
        for number in range(5):
            tx.insert("orders", {"total": number * 100, "note": f"order {number}"}, "shop")


def bronze(spark: SparkSession, lake: Path, stream: str, fmt: str) -> DataFrame:
    """The stream's change log as Spark sees it, with mergeSchema across every file."""
    reader = spark.read.option("mergeSchema", "true")
    if fmt == "delta":
        # delta-spark's jars come from Maven at session start, which this environment cannot
        # reach: Spark reads the files of the table's current version, as its log lists them.
        return reader.parquet(*DeltaTable(str(lake / stream)).file_uris())
    return reader.parquet(str(lake / stream))


def check(
    spark: SparkSession,
    emulator: EmulatorServer,
    pipeline: Pipeline,
    fmt: str,
    first_snapshot: dict[str, int],
    retired: dict[str, int],
) -> None:
    store = emulator.store
    for stream, (component, table) in STREAMS.items():
        bronze(spark, pipeline.lake, stream, fmt).createOrReplaceTempView("bronze")
        current = {
            row["_id"]: row.asDict() for row in spark.sql(spark_current_sql("bronze")).collect()
        }
        source = {
            doc_id: user_fields(doc)
            for doc_id, doc in store.documents().get((component, table), {}).items()
        }
        assert set(current) == set(source), stream
        for doc_id, fields in source.items():
            for name, value in fields.items():
                assert landed(value, current[doc_id][name]), (
                    stream,
                    doc_id,
                    name,
                    value,
                    current[doc_id][name],
                )

        history = spark.sql(spark_history_sql("bronze")).collect()
        got = sorted(
            ((r["_id"], r["_valid_from_ts"], r["_valid_to_ts"]), r.asDict()) for r in history
        )
        want = expected_history(
            store, component, table, first_snapshot[stream], retired.get(stream)
        )
        assert [g[0] for g in got] == [(v.doc_id, v.valid_from_ts, v.valid_to_ts) for v in want], (
            stream
        )
        for (_, row), version in zip(got, want, strict=True):
            assert row["_is_current"] == (version.valid_to_ts is None)
            for name, value in version.fields.items():
                assert landed(value, row[name]), (stream, version.doc_id, name)


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_spark_resolves_the_bronze_log_after_every_kind_of_change(
    spark: SparkSession, store: Store, emulator: EmulatorServer, tmp_path: Path, fmt: str
) -> None:
    seed(store)
    pipeline = Pipeline(emulator, tmp_path, format=fmt, mode="cdc")
    pipeline.run()  # the snapshot
    assert pipeline.state is not None
    first = {s: pipeline.state["bookmarks"][s]["table_version"] for s in STREAMS}
    check(spark, emulator, pipeline, fmt, first, {})

    items = sorted(store.documents()[("", "items")])
    for doc_id in items[:5]:  # updates
        store.patch(doc_id, {"s": f"renamed {doc_id}", "n": 7})
    pipeline.run()
    check(spark, emulator, pipeline, fmt, first, {})

    for doc_id in items[5:8]:  # deletes
        store.delete(doc_id)
    store.delete(min(store.documents()[("shop", "orders")]))
    pipeline.run()
    check(spark, emulator, pipeline, fmt, first, {})

    store.delete_table("orders", "shop")  # replaced wholesale: no signal reaches the change log
    for number in range(3):
        store.insert("orders", {"total": 1000 + number, "note": f"fresh {number}"}, "shop")
    pipeline.run()
    del pipeline.state["bookmarks"]["shop__orders"]  # the README's re-sync of one table
    pipeline.run()
    resync = pipeline.state["bookmarks"]["shop__orders"]["table_version"]
    fresh = {"items": first["items"], "shop__orders": first["shop__orders"]}
    check(spark, emulator, pipeline, fmt, fresh, {"shop__orders": resync})

    store.patch(items[10], {"n": "thirty"})  # a field changes type
    pipeline.run()
    check(spark, emulator, pipeline, fmt, fresh, {"shop__orders": resync})
