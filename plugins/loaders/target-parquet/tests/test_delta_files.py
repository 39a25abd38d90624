"""Delta data files written by pyarrow: their statistics are bounds readers can skip by."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as pads
from deltalake import DeltaTable, write_deltalake

from parquet_helpers import add_actions, delta_table, run, schema, upsert
from target_parquet.delta_files import statistics

UTC = dt.timezone.utc
ROWS = pa.table(
    {
        "i": pa.array([2**62 + 1, -5, None], pa.int64()),
        "f": pa.array([0.5, -1.25, None], pa.float64()),
        "b": pa.array([True, False, None], pa.bool_()),
        "s": pa.array(["kiwi", "apple", None], pa.string()),
        "long": pa.array(["x" * 33, "y", None], pa.string()),
        "nan": pa.array([float("nan"), 1.0, 2.0], pa.float64()),
        "bin": pa.array([b"\x00", b"\x01", None], pa.binary()),
        "when": pa.array(
            [
                dt.datetime(2026, 8, 10, 10, 21, 41, 234567, tzinfo=UTC),
                dt.datetime(2026, 8, 10, 10, 21, 40, 999, tzinfo=UTC),
                dt.datetime(2026, 8, 10, 10, 21, 42, tzinfo=UTC),
            ],
            pa.timestamp("us", tz="UTC"),
        ),
        "nothing": pa.nulls(3, pa.int64()),
    }
)


def test_statistics_are_exact_bounds_or_absent() -> None:
    stats = statistics(ROWS)
    assert stats["numRecords"] == 3
    assert stats["minValues"] == {
        "i": -5,
        "f": -1.25,
        "b": False,
        "s": "apple",
        "when": "2026-08-10T10:21:40.000Z",  # floored
    }
    assert stats["maxValues"] == {
        "i": 2**62 + 1,  # exact: JSON integers are not doubles
        "f": 0.5,
        "b": True,
        "s": "kiwi",
        "when": "2026-08-10T10:21:42.000Z",  # 42.000000 needs no rounding up
    }
    assert stats["nullCount"] == {
        "i": 1, "f": 1, "b": 1, "s": 1, "long": 1, "nan": 0, "bin": 1, "when": 0, "nothing": 3,
    }  # fmt: skip
    late = statistics(ROWS.slice(0, 1))
    assert late["maxValues"]["when"] == "2026-08-10T10:21:41.235Z"  # rounded up: still a bound


def test_they_agree_with_the_statistics_delta_rs_writes(tmp_path: Path) -> None:
    rows = ROWS.drop_columns(["long", "nan", "bin", "when"])
    write_deltalake(str(tmp_path / "t"), rows)
    (theirs,) = [json.loads(a["stats"]) for a in _raw_adds(tmp_path / "t")]
    ours = statistics(rows)
    assert {k: ours[k] for k in ("numRecords", "nullCount")} == {
        k: theirs[k] for k in ("numRecords", "nullCount")
    }
    assert ours["minValues"] == theirs["minValues"]
    assert ours["maxValues"] == theirs["maxValues"]


def test_readers_skip_files_by_them_and_still_find_every_row(lake: Path) -> None:
    config = {"destination_path": str(lake), "format": "delta"}
    name = {"type": ["string", "null"]}
    for n in range(4):
        run(config, [schema("users", name=name), upsert("users", f"k{n}", 100 * n, name="x")])
    ranges = sorted((a["min._ts"], a["max._ts"]) for a in add_actions(delta_table(lake, "users")))
    assert ranges == [(0, 0), (100, 100), (200, 200), (300, 300)]
    table = DeltaTable(str(lake / "users"))
    found = table.to_pyarrow_dataset().to_table(filter=pads.field("_ts") >= 150)
    assert sorted(found["_id"].to_pylist()) == ["k2", "k3"]
    assert table.to_pyarrow_table(filters=[("_id", "=", "k1")])["_ts"].to_pylist() == [100]


def _raw_adds(path: Path) -> list[dict]:
    return [
        json.loads(line)["add"]
        for log in sorted((path / "_delta_log").glob("*.json"))
        for line in log.read_text().splitlines()
        if '"add"' in line
    ]
