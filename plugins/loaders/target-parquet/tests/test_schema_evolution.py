"""Schema changes: new columns are added; a changed type makes the column JSON text everywhere.

After any change, every file of a table holds the column in one Arrow type (what Spark's
`mergeSchema` needs), and every value is exact.
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_compaction import fail_on

from parquet_helpers import (
    by_id,
    cdc_files,
    data_files,
    delta_table,
    manifests,
    pointer,
    read_cdc,
    run,
    schema,
    state,
    upsert,
)
from target_parquet import sinks
from target_parquet.cdc import ChangeLog

INTEGER = {"type": ["integer", "null"]}
NUMBER = {"type": ["number", "null"]}
STRING = {"type": ["string", "null"]}
OBJECT = {"type": ["object", "null"]}
BIG = 2**62 + 1
#: (mode, format): every landing the target has.
LANDINGS = [("cdc", "parquet"), ("cdc", "delta"), ("current", "parquet"), ("current", "delta")]


def config(lake: Path, mode: str = "cdc", fmt: str = "parquet", **settings: object) -> dict:
    return {"destination_path": str(lake), "mode": mode, "format": fmt, **settings}


def table_files(lake: Path, mode: str, fmt: str, stream: str = "s") -> list[str]:
    """Every file a reader of the table reads (Parquet `cdc`: every file in the directory)."""
    if fmt == "delta":
        return delta_table(lake, stream).file_uris()
    if mode == "current":
        return [str(lake / stream / entry["path"]) for entry in pointer(lake, stream)["files"]]
    return data_files(lake, stream)


def read_table(lake: Path, mode: str, fmt: str) -> pa.Table:
    """The table as its readers read it: its files as one (which needs one type per column),
    or a Delta table through deltalake."""
    if fmt == "delta":
        return delta_table(lake, "s").to_pyarrow_table()
    return pa.concat_tables(
        [pq.read_table(path) for path in table_files(lake, mode, fmt)], promote_options="default"
    )


def column_types(lake: Path, mode: str, fmt: str, column: str) -> set[tuple[pa.DataType, str, str]]:
    """The column's types in the table's files: Arrow's, and the Parquet type readers see.

    Files that delta-rs's MERGE writes annotate strings as Arrow `string_view`: the same
    Parquet UTF8 column (what Spark reads), so it counts as `string` here.
    """
    types = set()
    for path in table_files(lake, mode, fmt):
        file = pq.ParquetFile(path)
        if column in file.schema_arrow.names:
            field_type = file.schema_arrow.field(column).type
            described = file.schema.column(file.schema_arrow.names.index(column))
            types.add(
                (
                    pa.string() if field_type == pa.string_view() else field_type,
                    described.physical_type,
                    str(described.logical_type),
                )
            )
    return types


def arrow_types(lake: Path, mode: str, fmt: str, column: str) -> set[pa.DataType]:
    """The column's Arrow types in the table's files: one, after any change."""
    types = column_types(lake, mode, fmt, column)
    assert len(types) == 1, types
    return {arrow for arrow, _, _ in types}


def drift(lake: Path, mode: str, fmt: str, first: dict, second: dict, a: object, b: object) -> None:
    """`a` lands under the first type, `b` under the second, in two runs."""
    run(config(lake, mode, fmt), [schema("s", x=first), upsert("s", "a", 1, x=a), state(1)])
    run(config(lake, mode, fmt), [schema("s", x=second), upsert("s", "b", 2, x=b), state(2)])


@pytest.mark.parametrize(("mode", "fmt"), LANDINGS)
def test_a_new_field_becomes_a_new_column(lake: Path, mode: str, fmt: str) -> None:
    drift(lake, mode, fmt, STRING, STRING, "x", "y")
    run(
        config(lake, mode, fmt),
        [schema("s", x=STRING, b=INTEGER), upsert("s", "new", 3, x="z", b=BIG)],
    )
    rows = by_id(read_table(lake, mode, fmt))
    assert (rows["a"]["b"], rows["new"]["b"]) == (None, BIG)
    assert arrow_types(lake, mode, fmt, "x") == {pa.string()}


@pytest.mark.parametrize(("mode", "fmt"), LANDINGS)
def test_integer_then_string_makes_json_text_in_every_file(lake: Path, mode: str, fmt: str) -> None:
    drift(lake, mode, fmt, INTEGER, STRING, BIG, "thirty")
    assert arrow_types(lake, mode, fmt, "x") == {pa.string()}
    rows = by_id(read_table(lake, mode, fmt))
    assert (rows["a"]["x"], rows["b"]["x"]) == (str(BIG), '"thirty"')
    assert json.loads(rows["a"]["x"]) == BIG


@pytest.mark.parametrize(("mode", "fmt"), LANDINGS)
def test_integer_then_number_keeps_integers_exact(lake: Path, mode: str, fmt: str) -> None:
    """A DOUBLE cannot hold every int64: the column becomes JSON text instead."""
    drift(lake, mode, fmt, INTEGER, NUMBER, 2**53 + 1, 2.5)
    assert arrow_types(lake, mode, fmt, "x") == {pa.string()}
    rows = by_id(read_table(lake, mode, fmt))
    assert (rows["a"]["x"], rows["b"]["x"]) == ("9007199254740993", "2.5")


@pytest.mark.parametrize(("mode", "fmt"), LANDINGS)
def test_later_runs_remember_the_column_and_keep_writing_json(
    lake: Path, mode: str, fmt: str
) -> None:
    drift(lake, mode, fmt, NUMBER, INTEGER, 0.5, BIG)
    run(config(lake, mode, fmt), [schema("s", x=NUMBER), upsert("s", "c", 3, x=1.25)])
    assert arrow_types(lake, mode, fmt, "x") == {pa.string()}
    rows = by_id(read_table(lake, mode, fmt))
    assert [rows[k]["x"] for k in "abc"] == ["0.5", str(BIG), "1.25"]


def test_a_scalar_that_becomes_an_object_is_json_text(lake: Path) -> None:
    drift(lake, "cdc", "parquet", STRING, OBJECT, "plain", {"k": [1, BIG]})
    rows = by_id(read_cdc(lake, "s"))
    assert json.loads(rows["a"]["x"]) == "plain"
    assert json.loads(rows["b"]["x"]) == {"k": [1, BIG]}


def test_a_schema_change_within_a_run_rewrites_before_the_next_commit(lake: Path) -> None:
    run(
        config(lake, "cdc", "delta"),
        [
            schema("s", x=INTEGER),
            upsert("s", "a", 1, x=BIG),
            schema("s", x=STRING),
            upsert("s", "b", 2, x="thirty"),
        ],
    )
    table = delta_table(lake, "s")
    operations = [commit["operation"] for commit in reversed(table.history())]
    assert operations == ["CREATE TABLE", "WRITE", "WRITE"]  # create, overwrite, append
    assert table.schema().fields[0].metadata == {"target_parquet.kind": "json"}
    assert by_id(table.to_pyarrow_table())["a"]["x"] == str(BIG)


def test_the_delta_table_keeps_its_kinds_across_runs(lake: Path) -> None:
    drift(lake, "cdc", "delta", STRING, OBJECT, "plain", {"k": 1})
    run(config(lake, "cdc", "delta"), [schema("s", x=STRING), upsert("s", "c", 3, x="again")])
    rows = by_id(delta_table(lake, "s").to_pyarrow_table())
    assert [rows[k]["x"] for k in "abc"] == ['"plain"', '{"k":1}', '"again"']


def test_a_crash_during_the_rewrite_leaves_the_old_log_and_the_rerun_converts_it(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run(config(lake), [schema("s", x=INTEGER), upsert("s", "a", 1, x=BIG)])
    second = [schema("s", x=STRING), upsert("s", "b", 2, x="thirty")]
    with monkeypatch.context() as patch:
        fail_on(patch, "write_json", "_manifests/20")  # before the rewrite's manifest
        with pytest.raises(KeyboardInterrupt):
            run(config(lake), second)
    assert [m["columns"]["x"] for m in manifests(lake, "s")] == ["integer"]
    run(config(lake), second)
    assert data_files(lake, "s") == sorted(cdc_files(lake, "s"))
    assert arrow_types(lake, "cdc", "parquet", "x") == {pa.string()}
    assert {r["_id"]: r["x"] for r in read_cdc(lake, "s").to_pylist()} == {
        "a": str(BIG),
        "b": '"thirty"',
    }


def test_a_log_an_earlier_release_left_with_two_types_is_rewritten_once(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Earlier releases widened integer to DOUBLE and left the old files as they were."""
    run(config(lake), [schema("s", x=INTEGER), upsert("s", "a", 1, x=BIG)])
    with monkeypatch.context() as patch:
        patch.setattr(sinks, "widen", lambda old, new: "number" if old != new else old)
        patch.setattr(ChangeLog, "_follow_drift", lambda *_: None)
        run(config(lake), [schema("s", x=NUMBER), upsert("s", "b", 2, x=2.5)])
    assert {arrow for arrow, _, _ in column_types(lake, "cdc", "parquet", "x")} == {
        pa.int64(),
        pa.float64(),
    }
    run(config(lake), [schema("s", x=NUMBER)])
    assert arrow_types(lake, "cdc", "parquet", "x") == {pa.string()}
    assert manifests(lake, "s")[-1]["columns"]["x"] == "json"
    rows = by_id(read_cdc(lake, "s"))
    assert (rows["a"]["x"], rows["b"]["x"]) == (str(BIG), "2.5")


def test_current_table_converts_stored_values_when_a_column_changes(lake: Path) -> None:
    config_ = config(lake, "current")
    run(config_, [schema("s", x=INTEGER, y=INTEGER), upsert("s", "a", 1, x=5, y=1)])
    run(config_, [schema("s", x=STRING, y=NUMBER, z=STRING), upsert("s", "b", 2, x="hi", y=0.5)])
    rows = by_id(read_table(lake, "current", "parquet"))
    assert (rows["a"]["x"], rows["a"]["y"], rows["a"]["z"]) == ("5", "1", None)
    assert (rows["b"]["x"], rows["b"]["y"]) == ('"hi"', "0.5")
