"""Mode `cdc`: an immutable, hive-partitioned change log that tolerates replays."""

from __future__ import annotations

import datetime
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from parquet_helpers import (
    activate,
    cdc_files,
    data_files,
    delete,
    manifests,
    read_cdc,
    resolve_cdc,
    run,
    schema,
    state,
    upsert,
)
from target_parquet import sinks

NAME = {"type": ["string", "null"]}
TODAY = datetime.datetime.now(datetime.timezone.utc).date()


def history() -> list[dict]:
    """A snapshot of three documents, then an update, a delete and an insert."""
    return [
        schema("users", name=NAME),
        upsert("users", "a", 10, name="Ann"),
        upsert("users", "b", 11, name="Bob"),
        upsert("users", "c", 12, name="Cy"),
        activate("users", 1),
        state(1),
        upsert("users", "a", 20, name="Ann B."),
        delete("users", "b", 21),
        upsert("users", "d", 22, name="Dee"),
        state(2),
    ]


def test_layout_is_hive_partitioned_by_landing_date_with_a_manifest(lake: Path) -> None:
    run({"destination_path": str(lake)}, history())
    (path,) = data_files(lake, "users")
    assert Path(path).parent.name == f"date={TODAY.isoformat()}"
    (manifest,) = manifests(lake, "users")
    (entry,) = manifest["files"]
    assert str(lake / "users" / entry["path"]) == path
    assert (entry["rows"], entry["min_ts"], entry["max_ts"]) == (6, 10, 22)
    assert manifest["activate_versions"] == [1]
    assert manifest["table_versions"] == [1]
    assert not list((lake / "_tmp").iterdir())


def test_landing_columns_are_kept_without_add_record_metadata(lake: Path) -> None:
    run({"destination_path": str(lake)}, history())
    rows = {(r["_id"], r["_ts"]): r for r in read_cdc(lake, "users").to_pylist()}
    tombstone = rows[("b", 21)]
    assert tombstone["_deleted"] is True
    assert tombstone["_sdc_deleted_at"] is not None
    assert tombstone["_sdc_table_version"] == 1
    assert tombstone["_sdc_extracted_at"].isoformat() == "2026-08-10T10:21:41.234567+00:00"
    assert tombstone["_sdc_batched_at"].date() == TODAY
    assert tombstone["_load_id"] == manifests(lake, "users")[0]["load_id"]
    assert "_sdc_received_at" not in rows[("a", 10)]


def test_add_record_metadata_adds_the_sdk_columns(lake: Path) -> None:
    run({"destination_path": str(lake), "add_record_metadata": True}, history())
    names = pq.read_schema(cdc_files(lake, "users")[0]).names
    assert {"_sdc_received_at", "_sdc_sequence", "_sdc_sync_started_at"} <= set(names)


def test_resolution_recipe_gives_latest_live_row_per_id(lake: Path) -> None:
    run({"destination_path": str(lake)}, history())
    assert [(r["_id"], r["name"]) for r in resolve_cdc(lake, "users")] == [
        ("a", "Ann B."),
        ("c", "Cy"),
        ("d", "Dee"),
    ]


def test_replaying_the_same_messages_lands_nothing_new(lake: Path) -> None:
    config = {"destination_path": str(lake)}
    run(config, history())
    first = resolve_cdc(lake, "users")
    files = data_files(lake, "users")
    run(config, history())
    assert data_files(lake, "users") == files
    assert resolve_cdc(lake, "users") == first
    assert manifests(lake, "users")[-1]["rows"] == 0  # only the ACTIVATE_VERSION again


def test_a_partial_replay_lands_only_the_unseen_rows(lake: Path) -> None:
    config = {"destination_path": str(lake), "batch_size_rows": 2}
    messages = history()
    run(config, messages[:4])
    run(config, messages)
    log = read_cdc(lake, "users")
    keys = [(r["_id"], r["_ts"]) for r in log.to_pylist()]
    assert len(keys) == len(set(keys)) == 6
    assert sum(m["rows"] for m in manifests(lake, "users")) == 6


def test_duplicates_within_one_commit_are_dropped(lake: Path) -> None:
    run(
        {"destination_path": str(lake)},
        [
            schema("users", name=NAME),
            upsert("users", "a", 10, name="Ann"),
            upsert("users", "a", 10, name="Ann"),
            upsert("users", "a", 11, name="Ann 2"),
        ],
    )
    assert [(r["_id"], r["_ts"]) for r in read_cdc(lake, "users").to_pylist()] == [
        ("a", 10),
        ("a", 11),
    ]


def test_a_resnapshot_under_a_new_version_is_landed_again(lake: Path) -> None:
    config = {"destination_path": str(lake)}
    run(config, history())
    run(config, [schema("users", name=NAME), upsert("users", "a", 20, version=2, name="Ann B.")])
    versions = sorted(
        r["_sdc_table_version"]
        for r in read_cdc(lake, "users").to_pylist()
        if (r["_id"], r["_ts"]) == ("a", 20)
    )
    assert versions == [1, 2]


def test_streams_without_convex_fields_are_appended_as_is(lake: Path) -> None:
    generic = {
        "type": "SCHEMA",
        "stream": "plain",
        "schema": {"properties": {"id": {"type": "integer"}, "v": {"type": "string"}}},
        "key_properties": ["id"],
    }
    record = {"type": "RECORD", "stream": "plain", "record": {"id": 1, "v": "x"}}
    run({"destination_path": str(lake)}, [generic, record, record])
    rows = read_cdc(lake, "plain").to_pylist()
    assert [(r["id"], r["v"]) for r in rows] == [(1, "x"), (1, "x")]
    assert manifests(lake, "plain")[0]["min_ts"] is None


def test_the_recipe_drops_rows_a_later_activated_snapshot_no_longer_holds(lake: Path) -> None:
    config = {"destination_path": str(lake)}
    first = [
        schema("users", name=NAME),
        upsert("users", "a", 10, version=1, name="Ann"),
        upsert("users", "b", 11, version=1, name="Bob"),  # gone by the next snapshot
    ]
    run(config, first)  # that snapshot never finished: no ACTIVATE_VERSION
    second = [
        schema("users", name=NAME),
        upsert("users", "a", 10, version=2, name="Ann"),
        activate("users", 2),
        upsert("users", "c", 30, version=2, name="Cy"),
    ]
    run(config, second)
    assert [(r["_id"], r["name"]) for r in resolve_cdc(lake, "users")] == [
        ("a", "Ann"),
        ("c", "Cy"),
    ]


def test_each_full_batch_is_committed_as_it_fills(
    lake: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sinks, "DECODE_CHUNK_ROWS", 3)  # batches span several decode chunks
    records = [upsert("users", f"d{n:02d}", n, name="x") for n in range(20)]
    run(
        {"destination_path": str(lake), "batch_size_rows": 7},
        [schema("users", name=NAME), *records],
    )
    assert [m["rows"] for m in manifests(lake, "users")] == [7, 7, 6]
