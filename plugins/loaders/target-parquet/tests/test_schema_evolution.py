"""Schema changes add columns or widen types; old and new files stay readable together."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from parquet_helpers import by_id, cdc_files, read_cdc, read_current, run, schema, upsert

INTEGER = {"type": ["integer", "null"]}
NUMBER = {"type": ["number", "null"]}
STRING = {"type": ["string", "null"]}
OBJECT = {"type": ["object", "null"]}


def union_types(lake: Path, stream: str) -> dict[str, str]:
    files = cdc_files(lake, stream)
    described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet({files}, union_by_name=true)")
    return {name: kind for name, kind, *_ in described.fetchall()}


def test_a_new_field_becomes_a_new_column(lake: Path) -> None:
    run(
        {"destination_path": str(lake)},
        [
            schema("s", a=STRING),
            upsert("s", "old", 1, a="x"),
            schema("s", a=STRING, b=INTEGER),
            upsert("s", "new", 2, a="y", b=5),
        ],
    )
    rows = by_id(read_cdc(lake, "s"))
    assert (rows["old"]["b"], rows["new"]["b"]) == (None, 5)
    assert len(cdc_files(lake, "s")) == 2


def test_integer_then_number_widens_to_double(lake: Path) -> None:
    run(
        {"destination_path": str(lake)},
        [
            schema("s", x=INTEGER),
            upsert("s", "a", 1, x=3),
            schema("s", x=NUMBER),
            upsert("s", "b", 2, x=2.5),
        ],
    )
    assert [pq.read_schema(f).field("x").type for f in cdc_files(lake, "s")] == ["int64", "double"]
    assert union_types(lake, "s")["x"] == "DOUBLE"
    rows = by_id(read_cdc(lake, "s"))
    assert (rows["a"]["x"], rows["b"]["x"]) == (3.0, 2.5)


def test_number_then_string_falls_back_to_text(lake: Path) -> None:
    run(
        {"destination_path": str(lake)},
        [
            schema("s", x=NUMBER),
            upsert("s", "a", 1, x=1.5),
            schema("s", x=STRING),
            upsert("s", "b", 2, x="abc"),
            schema("s", x=NUMBER),
            upsert("s", "c", 3, x=7.25),
        ],
    )
    assert union_types(lake, "s")["x"] == "VARCHAR"
    rows = by_id(read_cdc(lake, "s"))
    assert [rows[k]["x"] for k in "abc"] == ["1.5", "abc", "7.25"]


def test_a_scalar_that_becomes_an_object_falls_back_to_json(lake: Path) -> None:
    run(
        {"destination_path": str(lake)},
        [
            schema("s", x=STRING),
            upsert("s", "a", 1, x="plain"),
            schema("s", x=OBJECT),
            upsert("s", "b", 2, x={"k": [1, 2]}),
        ],
    )
    rows = by_id(read_cdc(lake, "s"))
    assert rows["a"]["x"] == "plain"
    assert json.loads(rows["b"]["x"]) == {"k": [1, 2]}


def test_widening_is_remembered_by_later_runs(lake: Path) -> None:
    config = {"destination_path": str(lake)}
    run(config, [schema("s", x=NUMBER), upsert("s", "a", 1, x=0.5)])
    run(config, [schema("s", x=INTEGER), upsert("s", "b", 2, x=2**53 + 1)])
    assert pq.read_schema(cdc_files(lake, "s")[-1]).field("x").type == "double"


def test_current_table_rewrites_stored_values_when_a_column_widens(lake: Path) -> None:
    config = {"destination_path": str(lake), "mode": "current"}
    run(config, [schema("s", x=INTEGER, y=INTEGER), upsert("s", "a", 1, x=5, y=1)])
    run(config, [schema("s", x=STRING, y=NUMBER, z=STRING), upsert("s", "b", 2, x="hi", y=0.5)])
    table = read_current(lake, "s")
    assert (table.schema.field("x").type, table.schema.field("y").type) == ("string", "double")
    rows = by_id(table)
    assert (rows["a"]["x"], rows["a"]["y"], rows["a"]["z"]) == ("5", 1.0, None)
    assert (rows["b"]["x"], rows["b"]["y"]) == ("hi", 0.5)
