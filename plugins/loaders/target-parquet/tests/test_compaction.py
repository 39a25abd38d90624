"""Mode `cdc` compaction: a day's small files become one, nothing is lost or seen twice
by manifest readers, and a crash at any step leaves a log that the next run completes."""

from __future__ import annotations

from pathlib import Path

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
    upsert,
)
from target_parquet.storage import Storage

NAME = {"type": ["string", "null"]}
AGE_INT = {"type": ["integer", "null"]}
AGE_NUMBER = {"type": ["number", "null"]}


def cdc(lake: Path, **settings: object) -> dict:
    return {"destination_path": str(lake), **settings}


def land_runs(lake: Path, runs: int, **settings: object) -> None:
    """One small file per run: two upserts and, every third run, a delete."""
    for n in range(runs):
        messages = [
            schema("users", name=NAME),
            upsert("users", f"k{n}", 100 + 2 * n, name=f"v{n}"),
            upsert("users", "shared", 101 + 2 * n, name=f"shared{n}"),
        ]
        if n % 3 == 2:
            messages.append(delete("users", f"k{n - 1}", 1_000 + n))
        run(cdc(lake, **settings), messages)


def log_rows(lake: Path) -> list[tuple]:
    rows = read_cdc(lake, "users").to_pylist()
    return sorted((r["_id"], r["_ts"], r["name"], r["_deleted"], r["_load_id"]) for r in rows)


def test_a_days_small_files_become_one_with_the_same_rows(lake: Path) -> None:
    land_runs(lake, 6)
    before_rows, before_state = log_rows(lake), resolve_cdc(lake, "users")
    assert len(cdc_files(lake, "users")) == 6
    run(cdc(lake, compact_min_files=4), [schema("users", name=NAME)])
    (manifest,) = manifests(lake, "users")
    assert len(manifest["compacts"]) == 6
    assert manifest["rows"] == len(before_rows)
    assert log_rows(lake) == before_rows  # rows and their lineage, once each
    assert resolve_cdc(lake, "users") == before_state
    # the replaced files stay for readers that listed them, until the next run
    assert len(data_files(lake, "users")) == 7
    run(cdc(lake), [schema("users", name=NAME)])
    assert data_files(lake, "users") == cdc_files(lake, "users")


def test_compaction_is_off_by_default_and_waits_for_enough_files(lake: Path) -> None:
    land_runs(lake, 5)
    assert len(cdc_files(lake, "users")) == 5
    land_runs(lake, 1, compact_min_files=7)
    assert len(cdc_files(lake, "users")) == 5  # the same day's 5 files again: below 7
    land_runs(lake, 1, compact_min_files=5)
    assert len(cdc_files(lake, "users")) == 1


def test_compaction_after_a_type_change_keeps_the_converted_values(lake: Path) -> None:
    run(cdc(lake), [schema("users", age=AGE_INT), upsert("users", "a", 1, age=40)])
    run(cdc(lake), [schema("users", age=AGE_NUMBER), upsert("users", "b", 2, age=41.5)])
    run(cdc(lake), [schema("users", age=AGE_INT), upsert("users", "c", 3, age=2**63 - 1)])
    run(cdc(lake, compact_min_files=2), [schema("users", age=AGE_NUMBER)])
    (manifest,) = manifests(lake, "users")
    assert manifest["columns"]["age"] == "json"
    ages = {r["_id"]: r["age"] for r in read_cdc(lake, "users").to_pylist()}
    assert ages == {"a": "40", "b": "41.5", "c": str(2**63 - 1)}


def test_activate_versions_and_replay_detection_survive_compaction(lake: Path) -> None:
    messages = [
        schema("users", name=NAME),
        upsert("users", "a", 10, name="Ann"),
        activate("users", 1),
    ]
    run(cdc(lake, batch_size_rows=1), messages)
    run(cdc(lake), [schema("users", name=NAME), upsert("users", "b", 11, name="Bob")])
    run(cdc(lake, compact_min_files=2), [schema("users", name=NAME)])
    data = [m for m in manifests(lake, "users") if m["files"]]
    assert len(data) == 1
    assert 1 in [v for m in manifests(lake, "users") for v in m["activate_versions"]]
    run(cdc(lake), messages)  # a replay after compaction lands nothing new
    assert sorted((r["_id"], r["_ts"]) for r in read_cdc(lake, "users").to_pylist()) == [
        ("a", 10),
        ("b", 11),
    ]


def fail_on(monkeypatch: pytest.MonkeyPatch, method: str, fragment: str) -> None:
    """Make one storage call on paths containing `fragment` crash, as a kill would."""
    original = getattr(Storage, method)

    def crashing(self: Storage, relative: str, *args: object) -> object:
        if fragment in relative and "_pending" not in relative:
            raise KeyboardInterrupt(f"killed before {method} {relative}")
        return original(self, relative, *args)

    monkeypatch.setattr(Storage, method, crashing)


@pytest.mark.parametrize(
    ("method", "fragment"),
    [
        ("write_table", "part-"),  # before the new data file
        ("write_json", "_compacted"),  # after it, before the list of what it replaces
        ("write_json", "_manifests/20"),  # before the new manifest (load ids start 20..)
        ("delete_file", "_manifests/"),  # committed, before the replaced manifests go
    ],
    ids=[
        "before-data-file",
        "before-replaced-list",
        "before-manifest",
        "before-dropping-old-manifests",
    ],
)
def test_a_crash_at_any_step_leaves_a_log_the_next_run_completes(
    lake: Path, monkeypatch: pytest.MonkeyPatch, method: str, fragment: str
) -> None:
    land_runs(lake, 4)
    before_rows = log_rows(lake)
    with monkeypatch.context() as patch:
        fail_on(patch, method, fragment)
        with pytest.raises(KeyboardInterrupt):
            run(cdc(lake, compact_min_files=4), [schema("users", name=NAME)])
    run(cdc(lake), [schema("users", name=NAME)])  # the next run, without compaction
    assert log_rows(lake) == before_rows
    assert data_files(lake, "users") == cdc_files(lake, "users")
    assert not list((lake / "users" / "_manifests" / "_pending").glob("*"))
    assert not list((lake / "users" / "_manifests" / "_compacted").glob("*"))
