"""A re-sync (ACTIVATE_VERSION) in the rows of the `cdc` log, in both formats.

Versions here are snapshot times, as tap-convex's are: the first snapshot is taken at
100, the second at 200; every change after a snapshot has a `_ts` above it.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from parquet_helpers import (
    activate,
    delete,
    delta_table,
    manifests,
    read_cdc,
    read_delta,
    resolve_cdc,
    run,
    schema,
    upsert,
)
from target_parquet.resolution import delta_current_query

NAME = {"type": ["string", "null"]}
FORMATS = ["parquet", "delta"]


def config(lake: Path, fmt: str, **settings: object) -> dict:
    return {"destination_path": str(lake), "format": fmt, **settings}


def first_sync() -> list[dict]:
    """Snapshot 100 of a, b, c, d, then changes: d deleted, e inserted."""
    return [
        schema("users", name=NAME),
        upsert("users", "a", 10, version=100, name="Ann"),
        upsert("users", "b", 11, version=100, name="Bob"),
        upsert("users", "c", 12, version=100, name="Cy"),
        upsert("users", "d", 13, version=100, name="Dee"),
        activate("users", 100),
        delete("users", "d", 120, version=100),
        upsert("users", "e", 130, version=100, name="Eve"),
    ]


def resync() -> list[dict]:
    """Snapshot 200 holds a (unchanged), c (changed) and e: b is gone; then f arrives."""
    return [
        schema("users", name=NAME),
        upsert("users", "a", 10, version=200, name="Ann"),
        upsert("users", "c", 150, version=200, name="Cyd"),
        upsert("users", "e", 130, version=200, name="Eve"),
        activate("users", 200),
        upsert("users", "f", 210, version=200, name="Fay"),
    ]


def log(lake: Path, fmt: str) -> pa.Table:
    return read_delta(lake, "users") if fmt == "delta" else read_cdc(lake, "users")


def current_state(lake: Path, fmt: str) -> dict[str, str]:
    """The documented query, over the Parquet glob or the Delta table's files."""
    if fmt == "delta":
        query = delta_current_query(delta_table(lake, "users").file_uris())
        rows = duckdb.sql(query).to_arrow_table().to_pylist()
    else:
        rows = resolve_cdc(lake, "users")
    return {r["_id"]: r["name"] for r in rows}


def retirements(lake: Path, fmt: str) -> list[dict]:
    return sorted(
        (r for r in log(lake, fmt).to_pylist() if r["_sdc_retired"]), key=lambda r: r["_id"]
    )


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_resync_retires_what_the_new_snapshot_no_longer_holds(lake: Path, fmt: str) -> None:
    run(config(lake, fmt), first_sync())
    assert retirements(lake, fmt) == []  # snapshot 100 was the first: nothing to retire
    run(config(lake, fmt), resync())
    (row,) = retirements(lake, fmt)
    assert (row["_id"], row["_ts"], row["_deleted"], row["_sdc_table_version"]) == (
        "b",
        200,
        True,
        200,
    )
    assert row["_sdc_deleted_at"].isoformat() == "1970-01-01T00:00:00+00:00"  # 200 ns
    assert (row["_component"], row["_table"]) == ("", "users")
    assert (row["name"], row["_creationTime"], row["_sdc_extracted_at"]) == (None, None, None)
    assert {r["_sdc_retired"] for r in log(lake, fmt).to_pylist() if r["_id"] != "b"} == {False}
    assert current_state(lake, fmt) == {"a": "Ann", "c": "Cyd", "e": "Eve", "f": "Fay"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_replaying_a_resync_adds_no_retirement_row(lake: Path, fmt: str) -> None:
    run(config(lake, fmt), first_sync())
    run(config(lake, fmt), resync())
    before = log(lake, fmt).num_rows
    run(config(lake, fmt), resync())  # the tap resends: its STATE had not gone out
    run(config(lake, fmt, batch_size_rows=1), [*first_sync(), *resync()])
    assert log(lake, fmt).num_rows == before
    assert [r["_id"] for r in retirements(lake, fmt)] == ["b"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_only_rows_before_the_activate_version_count(lake: Path, fmt: str) -> None:
    run(config(lake, fmt), first_sync())
    late = resync()
    late.insert(5, late.pop(2))  # c's snapshot row arrives after the ACTIVATE_VERSION
    run(config(lake, fmt), late)
    assert [r["_id"] for r in retirements(lake, fmt)] == ["b", "c"]
    # `c` at 150 is older than its retirement at 200: gone, as the message order said
    assert current_state(lake, fmt) == {"a": "Ann", "e": "Eve", "f": "Fay"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_one_batch_with_two_resyncs_retires_in_message_order(lake: Path, fmt: str) -> None:
    messages = [
        *first_sync(),
        *resync()[1:],
        upsert("users", "a", 10, version=300, name="Ann"),
        activate("users", 300),
    ]
    run(config(lake, fmt, batch_size_rows=1000), messages)
    assert [(r["_id"], r["_sdc_table_version"]) for r in retirements(lake, fmt)] == [
        ("b", 200),
        ("c", 300),
        ("e", 300),
        ("f", 300),
    ]
    assert current_state(lake, fmt) == {"a": "Ann"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_versions_that_are_not_times_still_order_the_retirement_last(lake: Path, fmt: str) -> None:
    """Versions 1 and 2 under `_ts` 10..: the row takes the latest `_ts`, its version wins."""
    run(
        config(lake, fmt),
        [
            schema("users", name=NAME),
            upsert("users", "a", 10, version=1, name="Ann"),
            upsert("users", "b", 11, version=1, name="Bob"),
            activate("users", 1),
            upsert("users", "a", 10, version=2, name="Ann"),
            activate("users", 2),
        ],
    )
    (row,) = retirements(lake, fmt)
    assert (row["_id"], row["_ts"], row["_sdc_table_version"]) == ("b", 11, 2)
    assert current_state(lake, fmt) == {"a": "Ann"}


def test_a_log_landed_before_retirement_rows_gets_those_of_its_last_resync(lake: Path) -> None:
    """Such a log has the re-sync only in its manifests; the next run writes it in rows."""
    run(config(lake, "parquet"), first_sync()[:-3])  # snapshot 100, not yet activated
    run(config(lake, "parquet"), resync()[:4])  # snapshot 200, not yet activated
    old_style = max((lake / "users" / "_manifests").glob("*.json"))
    manifest = json.loads(old_style.read_text())
    manifest["activate_versions"] = [200]
    del manifest["columns"]["_sdc_retired"]
    old_style.write_text(json.dumps(manifest))
    run(config(lake, "parquet"), [schema("users", name=NAME)])
    assert [r["_id"] for r in retirements(lake, "parquet")] == ["b", "d"]
    assert manifests(lake, "users")[-1]["columns"]["_sdc_retired"] == "boolean"
    assert current_state(lake, "parquet") == {"a": "Ann", "c": "Cyd", "e": "Eve"}
