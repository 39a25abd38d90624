"""Value fidelity: every Convex type arrives exactly, int64 never through a float."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from convex_emulator import EmulatorServer, Store
from tap_convex.convert import RecordConverter
from tap_convex.timestamps import creation_time_to_datetime, ts_to_datetime
from tests.tap.harness import run_tap, run_tap_process


def convert(value: dict[str, Any], number_only: frozenset[str] = frozenset()) -> dict[str, Any]:
    base = {
        "_component": "",
        "_table": "t",
        "_ts": 5,
        "_id": "id1",
        "_creationTime": 1686799242010.5,
    }
    return RecordConverter(number_only, []).document({**base, **value}, deleted=False)


def test_int64_is_exact_at_the_top_level_and_nested() -> None:
    record = convert(
        {
            "big": {"$integer": "FYHpffQQIhE="},
            "nested": {"list": [{"$integer": "KgAAAAAAAAA="}], "min": {"$integer": "AAAAAAAAAIA="}},
        }
    )
    assert record["big"] == 1234567890123456789
    assert record["nested"] == {"list": [42], "min": -(2**63)}


def test_bytes_become_base64_text() -> None:
    assert convert({"b": {"$bytes": "aGVsbG8="}, "n": [{"$bytes": ""}]})["b"] == "aGVsbG8="


def test_non_finite_floats_are_null_at_top_level_and_strings_when_nested() -> None:
    record = convert(
        {
            "nan": {"$float": "AAAAAAAA+H8="},
            "inner": {"inf": {"$float": "AAAAAAAA8H8="}, "ninf": [{"$float": "AAAAAAAA8P8="}]},
        },
        number_only=frozenset({"nan"}),
    )
    assert record["nan"] is None
    assert record["inner"] == {"inf": "Infinity", "ninf": ["-Infinity"]}


def test_negative_zero_survives() -> None:
    value = convert({"z": {"$float": "AAAAAAAAAIA="}})["z"]
    assert value == 0.0
    assert math.copysign(1.0, value) < 0


def test_creation_time_becomes_utc_datetime_with_microseconds() -> None:
    assert creation_time_to_datetime(1686799242010.5) == "2023-06-15T03:20:42.010500+00:00"
    assert convert({})["_creationTime"] == "2023-06-15T03:20:42.010500+00:00"


def test_deletes_carry_key_metadata_and_null_fields() -> None:
    converter = RecordConverter(frozenset(), ["a", "b", "_id", "_creationTime"])
    record = converter.document(
        {
            "_component": "c",
            "_table": "t",
            "_ts": 1_700_000_000_123_456_789,
            "_deleted": True,
            "_id": "x",
        },
        deleted=True,
    )
    assert record == {
        "a": None,
        "b": None,
        "_id": "x",
        "_creationTime": None,
        "_ts": 1_700_000_000_123_456_789,
        "_deleted": True,
        "_component": "c",
        "_table": "t",
        "_sdc_deleted_at": ts_to_datetime(1_700_000_000_123_456_789),
    }
    assert record["_sdc_deleted_at"] == "2023-11-14T22:13:20.123456+00:00"


def test_unknown_underscore_fields_are_dropped() -> None:
    record = convert({"_future": 1, "keep": "x"})
    assert "_future" not in record
    assert record["keep"] == "x"


def test_extreme_int64_values_survive_the_whole_pipe_as_json_integers(
    store: Store, emulator: EmulatorServer, config: dict[str, Any], tmp_path: Path
) -> None:
    store.insert(
        "numbers",
        {"max": 2**63 - 1, "min": -(2**63), "beyond53": 2**53 + 1, "nested": {"deep": [2**63 - 1]}},
    )
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    result = run_tap_process(config_path)
    assert result.returncode == 0, result.stderr[-2000:]
    line = next(text for text in result.stdout.splitlines() if '"RECORD"' in text)
    assert '"max":9223372036854775807' in line
    assert '"min":-9223372036854775808' in line
    assert '"beyond53":9007199254740993' in line
    assert '"deep":[9223372036854775807]' in line


def test_demo_users_arrive_with_exact_types(demo: Store, config: dict[str, Any]) -> None:
    records = {r["_id"]: r for r in run_tap(config).records("users")}
    for doc_id, source in demo.documents()[("", "users")].items():
        record = records[doc_id]
        assert record["karma"] == source["karma"]
        assert type(record["karma"]) is int
        assert record["profile"]["stats"]["followers"] == source["profile"]["stats"]["followers"]
        assert record["avatar"] is not None
        assert record["verified"] is source["verified"]
