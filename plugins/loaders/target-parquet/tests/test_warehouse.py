"""The DuckDB warehouse: a file of views over the lake, kept up to date by every run."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from parquet_helpers import activate, delete, run, schema, state, upsert

NESTED = {"type": ["object", "null"]}
BIG = 2**63 - 1


def views(path: Path) -> dict[str, str]:
    """The warehouse's views and their comments."""
    with duckdb.connect(str(path), read_only=True) as connection:
        rows = connection.execute(
            "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
    return dict(rows)


def query(path: Path, sql: str) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as connection:
        return connection.execute(sql).fetchall()


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_cdc_streams_get_current_history_and_changes_views(lake: Path, fmt: str) -> None:
    run(
        {"destination_path": str(lake), "format": fmt},
        [
            schema("users", name={"type": ["string", "null"]}),
            upsert("users", "a", 10, name="ann"),
            upsert("users", "b", 11, name="bob"),
            state(1),
            upsert("users", "a", 20, name="anne"),
            delete("users", "b", 21),
            state(2),
        ],
    )
    warehouse = lake / "warehouse.duckdb"
    assert views(warehouse) == {
        "users": "target-parquet: current of stream users",
        "users__history": "target-parquet: history of stream users",
        "users__changes": "target-parquet: changes of stream users",
    }
    assert query(warehouse, "SELECT _id, name FROM users") == [("a", "anne")]
    history = query(
        warehouse,
        "SELECT _id, name, _valid_from_ts, _valid_to_ts, _is_current, _deleted "
        "FROM users__history ORDER BY _id, _valid_from_ts",
    )
    assert history == [
        ("a", "ann", 10, 20, False, False),
        ("a", "anne", 20, None, True, False),
        ("b", "bob", 11, 21, False, True),
    ]
    changes = query(warehouse, "SELECT _id, _ts, _deleted FROM users__changes ORDER BY _ts")
    assert changes == [("a", 10, False), ("b", 11, False), ("a", 20, False), ("b", 21, True)]


def test_history_gives_commit_times_in_utc_at_microsecond_precision(lake: Path) -> None:
    first, second = 1_750_000_000_123_456_789, 1_750_000_060_000_000_001
    run(
        {"destination_path": str(lake)},
        [schema("t"), upsert("t", "a", first), upsert("t", "a", second), state(1)],
    )
    rows = query(
        lake / "warehouse.duckdb",
        "SELECT epoch_us(_valid_from), epoch_us(_valid_to), typeof(_valid_from) "
        "FROM t__history ORDER BY _valid_from_ts",
    )
    assert rows == [
        (first // 1000, second // 1000, "TIMESTAMP WITH TIME ZONE"),
        (second // 1000, None, "TIMESTAMP WITH TIME ZONE"),
    ]


def test_a_retirement_closes_the_last_version_at_the_resync(lake: Path) -> None:
    run(
        {"destination_path": str(lake)},
        [
            schema("t"),
            upsert("t", "kept", 5, version=100),
            upsert("t", "gone", 6, version=100),
            activate("t", 100),
            state(1),
            upsert("t", "kept", 5, version=200),  # a re-snapshot reads it again, unchanged
            activate("t", 200),
            state(2),
        ],
    )
    history = query(
        lake / "warehouse.duckdb",
        "SELECT _id, _valid_from_ts, _valid_to_ts, _is_current, _deleted "
        "FROM t__history ORDER BY _id",
    )
    assert history == [("gone", 6, 200, False, True), ("kept", 5, None, True, False)]
    assert query(lake / "warehouse.duckdb", "SELECT _id FROM t") == [("kept",)]


def test_int64_stays_exact_and_nested_values_are_json(lake: Path) -> None:
    odd = "it's nested"  # DuckDB needs it quoted; pyarrow refuses '"' in names
    run(
        {"destination_path": str(lake)},
        [
            schema("t", big={"type": ["integer", "null"]}, **{odd: NESTED}),
            upsert("t", "a", 1, big=BIG, **{odd: {"deep": {"n": -(2**63)}, "list": [1, "x"]}}),
            state(1),
        ],
    )
    warehouse = lake / "warehouse.duckdb"
    rows = query(
        warehouse,
        """SELECT big, typeof("it's nested"), "it's nested"->>'$.list[1]',
                  CAST("it's nested"->'$.deep.n' AS BIGINT) FROM t""",
    )
    assert rows == [(BIG, "JSON", "x", -(2**63))]
    history = query(warehouse, """SELECT typeof("it's nested") FROM t__history""")
    assert history == [("JSON",)]


def test_a_column_that_drifts_to_json_is_json_in_the_views(lake: Path) -> None:
    config = {"destination_path": str(lake)}
    run(config, [schema("t", age={"type": ["integer", "null"]}), upsert("t", "a", 1, age=30)])
    warehouse = lake / "warehouse.duckdb"
    assert query(warehouse, "SELECT typeof(age) FROM t") == [("BIGINT",)]
    run(config, [schema("t", age={"type": ["string", "null"]}), upsert("t", "b", 2, age="thirty")])
    rows = query(warehouse, "SELECT _id, typeof(age), age->>'$' FROM t ORDER BY _id")
    assert rows == [("a", "JSON", "30"), ("b", "JSON", "thirty")]


@pytest.mark.parametrize("fmt", ["parquet", "delta"])
def test_mode_current_has_one_view_of_the_live_rows(lake: Path, fmt: str) -> None:
    run(
        {"destination_path": str(lake), "mode": "current", "format": fmt},
        [
            schema("t", name={"type": ["string", "null"]}),
            upsert("t", "a", 1, name="ann"),
            upsert("t", "b", 2, name="bob"),
            state(1),
            delete("t", "b", 3),
            upsert("t", "a", 4, name="anne"),
            state(2),
        ],
    )
    warehouse = lake / "warehouse.duckdb"
    assert views(warehouse) == {"t": "target-parquet: current of stream t"}
    assert query(warehouse, "SELECT _id, name FROM t") == [("a", "anne")]


def test_delta_views_follow_each_new_table_version(lake: Path) -> None:
    config = {"destination_path": str(lake), "format": "delta"}
    run(config, [schema("t"), upsert("t", "a", 1), state(1)])
    run(config, [schema("t"), upsert("t", "b", 2), state(2)])
    rows = query(lake / "warehouse.duckdb", "SELECT _id FROM t__changes ORDER BY _id")
    assert rows == [("a",), ("b",)]


def test_a_reader_holding_the_file_open_does_not_block_a_run(lake: Path) -> None:
    config = {"destination_path": str(lake), "format": "delta"}
    run(config, [schema("t"), upsert("t", "a", 1), state(1)])
    warehouse = lake / "warehouse.duckdb"
    reader = subprocess.Popen(  # a read-write session in another process, as the CLI opens it
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('open', flush=True);"
            " sys.stdin.read(); print(c.execute('SELECT count(*) FROM t').fetchone()[0])",
            str(warehouse),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline() == "open\n"
        run(config, [schema("t"), upsert("t", "b", 2), state(2)])
        out, _ = reader.communicate("", timeout=60)
    finally:
        reader.kill()
    assert out.strip() == "1"  # the open session keeps the views it opened
    assert query(warehouse, "SELECT count(*) FROM t") == [(2,)]  # a new one sees the run's


def test_names_that_differ_only_in_case_keep_the_first_stream(
    lake: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING):
        run(
            {"destination_path": str(lake)},
            [schema("Users"), upsert("Users", "a", 1), schema("users"), upsert("users", "b", 2)],
        )
    owners = views(lake / "warehouse.duckdb")
    assert owners["Users"] == "target-parquet: current of stream Users"
    assert "users" not in owners
    assert 'DuckDB view "users" of stream users is left out' in caplog.text


def test_a_current_state_outranks_another_streams_derived_view(lake: Path) -> None:
    run({"destination_path": str(lake)}, [schema("a"), upsert("a", "x", 1), state(1)])
    run(
        {"destination_path": str(lake)},
        [schema("a__changes"), upsert("a__changes", "y", 2), state(2)],
    )
    owners = views(lake / "warehouse.duckdb")
    assert owners["a__changes"] == "target-parquet: current of stream a__changes"
    assert owners["a"] == "target-parquet: current of stream a"


def test_the_warehouse_can_be_turned_off_or_put_elsewhere(lake: Path, tmp_path: Path) -> None:
    config = {"destination_path": str(lake), "duckdb_warehouse": False}
    run(config, [schema("t"), upsert("t", "a", 1)])
    assert not (lake / "warehouse.duckdb").exists()
    elsewhere = tmp_path / "bi" / "convex.duckdb"
    elsewhere.parent.mkdir()
    config = {"destination_path": str(lake), "duckdb_path": str(elsewhere)}
    run(config, [schema("t"), upsert("t", "b", 2)])
    assert query(elsewhere, "SELECT count(*) FROM t") == [(2,)]
    assert not (lake / "warehouse.duckdb").exists()


def test_a_file_that_is_not_a_database_is_replaced_with_a_warning(
    lake: Path, caplog: pytest.LogCaptureFixture
) -> None:
    lake.mkdir()
    (lake / "warehouse.duckdb").write_text(json.dumps({"not": "a database"}))
    with caplog.at_level(logging.WARNING):
        run({"destination_path": str(lake)}, [schema("t"), upsert("t", "a", 1)])
    assert query(lake / "warehouse.duckdb", "SELECT _id FROM t") == [("a",)]
    assert "is not a DuckDB database the target can read" in caplog.text


def test_a_current_table_with_no_rows_left_has_an_empty_view(lake: Path) -> None:
    config = {"destination_path": str(lake), "mode": "current", "format": "delta"}
    run({**config, "hard_delete": True}, [schema("t"), upsert("t", "a", 1), state(1)])
    run({**config, "hard_delete": True}, [schema("t"), delete("t", "a", 2), state(2)])
    assert query(lake / "warehouse.duckdb", "SELECT count(*), typeof(any_value(_ts)) FROM t") == [
        (0, "BIGINT")
    ]


def test_the_maintain_command_rewrites_the_views_of_the_tables_it_vacuums(
    lake: Path, tmp_path: Path
) -> None:
    config = {"destination_path": str(lake), "format": "delta"}
    for number in range(3):
        run(config, [schema("t"), upsert("t", f"d{number}", number + 1), state(number)])
    config_file = tmp_path / "target.json"
    config_file.write_text(json.dumps(config))
    maintain = Path(sys.executable).parent / "target-parquet-maintain"
    subprocess.run(
        [str(maintain), "--config", str(config_file), "--optimize", "--vacuum-hours", "0"],
        check=True,
        capture_output=True,
    )
    assert len(list((lake / "t").glob("*.parquet"))) == 1  # the three old files are gone
    assert query(lake / "warehouse.duckdb", "SELECT count(*) FROM t__changes") == [(3,)]


def test_a_run_that_changes_no_view_leaves_the_file_alone(lake: Path) -> None:
    config = {"destination_path": str(lake)}  # Parquet cdc: views read by glob
    run(config, [schema("t"), upsert("t", "a", 1), state(1)])
    warehouse = lake / "warehouse.duckdb"
    before = warehouse.stat()
    run(config, [schema("t"), upsert("t", "b", 2), state(2)])
    after = warehouse.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert query(warehouse, "SELECT _id FROM t ORDER BY _id") == [("a",), ("b",)]


def test_a_deleted_file_is_written_again_by_the_next_run(lake: Path) -> None:
    config = {"destination_path": str(lake)}
    run(config, [schema("t"), upsert("t", "a", 1), state(1)])
    (lake / "warehouse.duckdb").unlink()
    run(config, [schema("t"), upsert("t", "b", 2), state(2)])
    assert query(lake / "warehouse.duckdb", "SELECT count(*) FROM t__history") == [(2,)]


def test_stream_names_that_need_quoting_get_their_views(lake: Path) -> None:
    stream = "orders-2026 eu"
    run({"destination_path": str(lake)}, [schema(stream), upsert(stream, "a", 1), state(1)])
    warehouse = lake / "warehouse.duckdb"
    assert set(views(warehouse)) == {stream, f"{stream}__history", f"{stream}__changes"}
    assert query(warehouse, f'SELECT _id FROM "{stream}__history"') == [("a",)]
