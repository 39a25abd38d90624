"""Column types come from the SCHEMA message; values keep their exact meaning."""

from __future__ import annotations

import base64
import datetime
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from parquet_helpers import EVERY_KIND, cdc_files, run, schema, upsert
from target_parquet.types import widen

UTC = datetime.timezone.utc
TS = pa.timestamp("us", tz="UTC")
INT64_MAX = 2**63 - 1


def land(lake: Path, *records: dict) -> pa.Table:
    run({"destination_path": str(lake)}, [schema("t", **EVERY_KIND), *records])
    (path,) = cdc_files(lake, "t")
    return pq.read_table(path)


def test_every_json_schema_type_maps_to_its_parquet_type(lake: Path) -> None:
    table = land(lake, upsert("t", "a", 1, plain="x"))
    expected = {
        "i": pa.int64(),
        "n": pa.float64(),
        "b": pa.bool_(),
        "s": pa.string(),
        "when": TS,
        "blob": pa.binary(),
        "obj": pa.string(),
        "arr": pa.string(),
        "perm": pa.string(),
        "anything": pa.string(),
        "union": pa.string(),
        "int_or_num": pa.float64(),
        "plain": pa.string(),
        "_id": pa.string(),
        "_creationTime": TS,
        "_ts": pa.int64(),
        "_deleted": pa.bool_(),
        "_component": pa.string(),
        "_table": pa.string(),
        "_sdc_deleted_at": TS,
        "_sdc_extracted_at": TS,
        "_sdc_batched_at": TS,
        "_sdc_table_version": pa.int64(),
        "_sdc_retired": pa.bool_(),
        "_load_id": pa.string(),
    }
    assert {f.name: f.type for f in table.schema} == expected


def test_nullability_follows_the_schema(lake: Path) -> None:
    fields = land(lake, upsert("t", "a", 1, plain="x")).schema
    not_null = {f.name for f in fields if not f.nullable}
    assert not_null == {
        "_id",
        "_ts",
        "_deleted",
        "_component",
        "_table",
        "plain",
        "_sdc_retired",
        "_sdc_batched_at",
        "_load_id",
    }


def test_int64_extremes_stay_exact_in_columns_and_json(lake: Path) -> None:
    values = [INT64_MAX, -INT64_MAX, -(2**63), 2**53 + 1]
    table = land(
        lake,
        *(
            upsert("t", f"k{n}", n, plain="x", i=v, obj={"v": v}, perm=v)
            for n, v in enumerate(values)
        ),
    )
    rows = sorted(table.to_pylist(), key=lambda r: r["_ts"])
    assert [r["i"] for r in rows] == values
    assert [json.loads(r["obj"])["v"] for r in rows] == values
    assert [r["perm"] for r in rows] == [str(v) for v in values]


def test_ts_is_a_plain_int64_and_readers_see_bigint(lake: Path) -> None:
    ts = 1_786_357_200_123_456_789
    land(lake, upsert("t", "a", ts, plain="x"))
    files = cdc_files(lake, "t")
    row = duckdb.sql(f"SELECT _ts, typeof(_ts) FROM read_parquet({files})").fetchall()[0]
    assert row == (ts, "BIGINT")


def test_reader_decimals_become_doubles_and_integral_ones_integers(lake: Path) -> None:
    # The SDK reader parses 1.5 and 1.0 as decimal.Decimal.
    table = land(lake, upsert("t", "a", 1, plain="x", n=1.5, i=7.0, int_or_num=2.25))
    (row,) = table.to_pylist()
    assert (row["n"], row["i"], row["int_or_num"]) == (1.5, 7, 2.25)
    assert isinstance(row["i"], int)


def test_base64_strings_land_as_decoded_binary(lake: Path) -> None:
    payload = bytes(range(256))
    table = land(lake, upsert("t", "a", 1, plain="x", blob=base64.b64encode(payload).decode()))
    assert table["blob"].to_pylist() == [payload]


def test_date_times_land_as_utc_microsecond_timestamps(lake: Path) -> None:
    inputs = [
        "2026-01-02T03:04:05.123456789Z",
        "2026-01-02T05:04:05.123456+02:00",
        "2026-01-02T03:04:05.123456",
    ]
    table = land(lake, *(upsert("t", f"k{n}", n, plain="x", when=w) for n, w in enumerate(inputs)))
    expected = datetime.datetime(2026, 1, 2, 3, 4, 5, 123456, tzinfo=UTC)
    assert [r["when"] for r in sorted(table.to_pylist(), key=lambda r: r["_ts"])] == [expected] * 3


def test_nested_and_permissive_values_are_json_text(lake: Path) -> None:
    values = [{"a": [1, 2.5, None], "b": {"c": "é"}}, "bob", True, [1, "x"]]
    table = land(
        lake,
        *(
            upsert("t", f"k{n}", n, plain="x", obj={"v": v}, arr=[n], perm=v, anything=v, union=v)
            for n, v in enumerate(values)
        ),
    )
    rows = sorted(table.to_pylist(), key=lambda r: r["_ts"])
    for column in ("perm", "anything", "union"):
        assert [json.loads(r[column]) for r in rows] == values
    assert [json.loads(r["obj"]) for r in rows] == [{"v": v} for v in values]
    assert rows[1]["perm"] == '"bob"'


def test_missing_and_null_values_are_nulls_of_the_declared_type(lake: Path) -> None:
    table = land(lake, upsert("t", "a", 1, plain="x"), upsert("t", "b", 2, plain="y", i=None))
    assert table.schema.field("i").type == pa.int64()
    assert table["i"].null_count == 2


def test_widening_rules() -> None:
    """One rule: any change of kind makes JSON text; no change keeps the kind."""
    for old, new in [
        ("integer", "number"),
        ("number", "integer"),
        ("number", "string"),
        ("boolean", "timestamp"),
        ("string", "json"),
        ("string", "binary"),
        ("text", "integer"),
        ("json", "integer"),
    ]:
        assert widen(old, new) == "json", (old, new)
    assert widen("integer", "integer") == "integer"
    assert widen("json", "json") == "json"
