"""Bad input stops the CLI with one clear line and exit status 1; committed data survives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from parquet_helpers import cdc_files, data_files, run, run_cli, schema, singer_lines, state, upsert

PROPS = {
    "age": {"type": ["integer", "null"]},
    "avatar": {"type": ["string", "null"], "contentEncoding": "base64"},
    "seen": {"type": ["string", "null"], "format": "date-time"},
}
GOOD = [schema("users", **PROPS), upsert("users", "ok", 1, age=3)]


def error_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    (line,) = [line for line in stderr.splitlines() if "| ERROR" in line]
    return line


@pytest.mark.parametrize(
    ("text", "fragments"),
    [
        (singer_lines(GOOD) + "{not json\n", ["line 3", "not valid JSON"]),
        ('{"type": "BOGUS"}\n', ["line 1", "unknown message type 'BOGUS'"]),
        ('{"type": "RECORD", "stream": "users"}\n', ["line 1", "stream 'users'", "lacks record"]),
        (singer_lines([upsert("users", "a", 1)]), ["'users'", "before a corresponding schema"]),
        (
            '{"type": "ACTIVATE_VERSION", "stream": "users", "version": 1}\n',
            ["line 1", "stream 'users' before its SCHEMA"],
        ),
    ],
    ids=[
        "malformed-json",
        "unknown-type",
        "record-without-body",
        "record-before-schema",
        "activate-before-schema",
    ],
)
def test_malformed_messages_are_reported_with_their_line(
    lake: Path, tmp_path: Path, text: str, fragments: list[str]
) -> None:
    result = run_cli({"destination_path": str(lake)}, text, tmp_path)
    assert result.returncode == 1
    line = error_line(result.stderr)
    for fragment in fragments:
        assert fragment in line


@pytest.mark.parametrize(
    ("record", "field", "detail"),
    [
        (upsert("users", "a", 1, age="abc"), "age", "expected integer, got 'abc'"),
        (upsert("users", "a", 1, age=2**63), "age", "expected integer"),
        (upsert("users", "a", 1, age=1.5), "age", "expected integer, got Decimal('1.5')"),
        (upsert("users", "a", 1, avatar="%%%"), "avatar", "expected binary"),
        (upsert("users", "a", 1, seen="yesterday"), "seen", "expected timestamp"),
        (upsert("users", None, 1), "_id", "missing or null but required"),
        (
            {"type": "RECORD", "stream": "users", "record": {"_ts": 1}},
            "_id",
            "key property missing",
        ),
    ],
    ids=[
        "string-for-int",
        "int64-overflow",
        "fraction-for-int",
        "bad-base64",
        "bad-date-time",
        "null-id",
        "missing-key",
    ],
)
def test_records_that_do_not_fit_name_stream_and_field(
    lake: Path, tmp_path: Path, record: dict, field: str, detail: str
) -> None:
    result = run_cli({"destination_path": str(lake)}, singer_lines([*GOOD, record]), tmp_path)
    assert result.returncode == 1
    line = error_line(result.stderr)
    assert f"stream 'users', field '{field}'" in line
    assert detail in line


def test_validate_records_names_the_field_too(lake: Path, tmp_path: Path) -> None:
    config = {"destination_path": str(lake), "validate_records": True}
    result = run_cli(config, singer_lines([*GOOD, upsert("users", "a", 2, age="x")]), tmp_path)
    assert result.returncode == 1
    assert "stream 'users', field 'age'" in error_line(result.stderr)


def test_a_bad_batch_leaves_committed_data_untouched(lake: Path, tmp_path: Path) -> None:
    config = {"destination_path": str(lake)}
    run(config, [*GOOD, state(1)])
    before = {path: Path(path).read_bytes() for path in data_files(lake, "users")}
    manifests_before = sorted((lake / "users" / "_manifests").glob("*.json"))

    bad = [*GOOD, upsert("users", "b", 2, age=4), upsert("users", "c", 3, age="x"), state(2)]
    result = run_cli(config, singer_lines(bad), tmp_path)
    assert result.returncode == 1
    assert result.stdout == ""  # no STATE for data that never landed
    assert {path: Path(path).read_bytes() for path in data_files(lake, "users")} == before
    assert sorted((lake / "users" / "_manifests").glob("*.json")) == manifests_before
    assert sorted(cdc_files(lake, "users")) == sorted(before)
    assert json.loads(manifests_before[0].read_text())["rows"] == 1


def test_an_out_of_range_bucket_count_is_a_config_error(lake: Path, tmp_path: Path) -> None:
    config = {"destination_path": str(lake), "mode": "current", "current_buckets": 0}
    result = run_cli(config, singer_lines(GOOD), tmp_path)
    assert result.returncode != 0
    assert "current_buckets" in result.stderr
    assert not lake.exists() or not list(lake.rglob("*.parquet"))


@pytest.mark.parametrize(("first", "second"), [("parquet", "delta"), ("delta", "parquet")])
def test_a_stream_written_in_one_format_refuses_the_other(
    lake: Path, tmp_path: Path, first: str, second: str
) -> None:
    messages = [schema("users", name={"type": "string"}), upsert("users", "a", 1, name="x")]
    run({"destination_path": str(lake), "format": first}, messages)
    result = run_cli(
        {"destination_path": str(lake), "format": second}, singer_lines(messages), tmp_path
    )
    assert result.returncode == 1
    assert f"holds a {first} table; format '{second}' needs a destination_path" in result.stderr
