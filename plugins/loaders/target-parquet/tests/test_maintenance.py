"""Maintenance: OPTIMIZE at the end of a run, and `target-parquet-maintain` (OPTIMIZE, VACUUM)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from test_compaction import land_runs, log_rows

from parquet_helpers import (
    cdc_files,
    delete,
    delta_table,
    read_delta,
    run,
    schema,
    upsert,
)
from target_parquet.delta_table import APP_ID

NAME = {"type": ["string", "null"]}
MAINTAIN = str(Path(sys.executable).parent / "target-parquet-maintain")


def delta(lake: Path, **settings: object) -> dict:
    return {"destination_path": str(lake), "format": "delta", **settings}


def land_small_commits(lake: Path, runs: int, **settings: object) -> None:
    for n in range(runs):
        run(
            delta(lake, **settings),
            [schema("users", name=NAME), upsert("users", f"k{n}", 100 + n, name=f"v{n}")],
        )


def maintain(workdir: Path, config: dict, *args: str) -> list[dict]:
    config_file = workdir / "config.json"
    config_file.write_text(json.dumps(config))
    result = subprocess.run(
        [MAINTAIN, "--config", str(config_file), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return [json.loads(line) for line in result.stdout.splitlines()]


def keys(lake: Path) -> list[tuple]:
    return sorted((r["_id"], r["_ts"]) for r in read_delta(lake, "users").to_pylist())


def test_compact_min_files_optimizes_a_delta_table_at_the_end_of_a_run(lake: Path) -> None:
    land_small_commits(lake, 4)
    before = keys(lake)
    assert len(delta_table(lake, "users").file_uris()) == 4
    run(delta(lake, compact_min_files=5), [schema("users", name=NAME)])
    assert len(delta_table(lake, "users").file_uris()) == 4  # 4 small files: below 5
    run(
        delta(lake, compact_min_files=5),
        [schema("users", name=NAME), upsert("users", "k9", 200, name="v9")],
    )
    table = delta_table(lake, "users")
    assert len(table.file_uris()) == 1
    assert table.history()[0]["operation"] == "OPTIMIZE"
    assert keys(lake) == sorted([*before, ("k9", 200)])
    assert table.transaction_version(APP_ID) == 5  # OPTIMIZE does not move it
    land_small_commits(lake, 6)  # the next runs go on, and replays are still recognised
    assert len(keys(lake)) == len(set(keys(lake))) == 7


def test_the_maintain_command_optimizes_and_vacuums_delta_tables(
    lake: Path, tmp_path: Path
) -> None:
    land_small_commits(lake, 3)
    current = {"destination_path": str(lake), "format": "delta", "mode": "current"}
    run(
        {**current, "hard_delete": True},
        [schema("people", name=NAME), upsert("people", "a", 1, name="a")],
    )
    run({**current, "hard_delete": True}, [schema("people", name=NAME), delete("people", "a", 2)])
    before = keys(lake)
    reports = maintain(tmp_path, delta(lake), "--optimize", "--vacuum-hours", "0")
    by_stream = {report["stream"]: report for report in reports}
    assert by_stream["users"]["files"] == {"before": 3, "after": 1}
    assert by_stream["users"]["vacuumed_files"] == 3
    assert keys(lake) == before
    on_disk = sorted(str(p) for p in (lake / "users").glob("*.parquet"))
    assert on_disk == sorted(delta_table(lake, "users").file_uris())
    # VACUUM keeps what is not the table's: the tombstones of `current` with hard_delete
    assert list((lake / "people" / "_target_parquet").glob("tombstones-*.arrow"))
    run({**current, "hard_delete": True}, [schema("people", name=NAME), upsert("people", "a", 1)])
    assert read_delta(lake, "people").num_rows == 0  # the late event stays buried


def test_the_maintain_command_compacts_a_parquet_log(lake: Path, tmp_path: Path) -> None:
    land_runs(lake, 4)
    before = log_rows(lake)
    (report,) = maintain(tmp_path, {"destination_path": str(lake)}, "--optimize")
    assert report["files"] == {"before": 4, "after": 1}
    assert len(cdc_files(lake, "users")) == 1
    assert log_rows(lake) == before


def test_the_module_runs_as_a_command_too(lake: Path, tmp_path: Path) -> None:
    land_small_commits(lake, 2)
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(delta(lake)))
    result = subprocess.run(
        [sys.executable, "-m", "target_parquet.maintain", "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert json.loads(result.stdout) == {
        "stream": "users",
        "format": "delta",
        "files": {"before": 2, "after": 2},
    }
