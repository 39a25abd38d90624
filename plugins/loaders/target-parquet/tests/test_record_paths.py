"""Records of plain streams are decoded a batch at a time; the result is the SDK path's."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from parquet_helpers import (
    EVERY_KIND,
    LINEAGE,
    activate,
    cdc_files,
    delete,
    run,
    schema,
    state,
    upsert,
)
from target_parquet import sinks
from target_parquet.errors import RecordError

RECORDS = [
    upsert("t", "a", 1, i=2**63 - 1, n=0.1, b=True, s="é✓", when="2026-01-02T03:04:05Z"),
    upsert("t", "b", 2, i=-(2**63), n=12, b=False, s="", when="2026-01-02T03:04:05.123456+02:00"),
    upsert("t", "c", 3, n=1e300, blob="aGVsbG8=", obj={"x": 1.25, "y": [1, "2", None]}),
    upsert("t", "d", 4, n=-0.0, arr=[2**62, -1], anything="text"),
    upsert("t", "e", 5, anything={"k": 1.5e-7}, obj={}, arr=[]),
    delete("t", "a", 6),
    upsert("t", "f", 7, version=2, i=None, n=None, s=None, when=None, blob=None, obj=None),
]


def landed(lake: Path, config: dict) -> pa.Table:
    messages = [schema("t", **EVERY_KIND), *RECORDS[:4], activate("t", 1), *RECORDS[4:]]
    run({"destination_path": str(lake), **config}, [*messages, state(1)])
    tables = [pq.read_table(path) for path in sorted(cdc_files(lake, "t"))]
    table = pa.concat_tables(tables)
    return table.drop_columns([name for name in LINEAGE if name != "_sdc_extracted_at"])


def test_batch_decoding_lands_what_record_by_record_decoding_lands(tmp_path: Path) -> None:
    fast = landed(tmp_path / "fast", {})
    # Validation routes every record through the SDK's per-record path.
    slow = landed(tmp_path / "slow", {"validate_records": True})
    assert fast.schema == slow.schema
    assert fast.to_pylist() == slow.to_pylist()
    assert fast.num_rows == len(RECORDS)
    rows = {row["_id"]: row for row in fast.to_pylist() if not row["_deleted"]}
    assert rows["a"]["i"] == 2**63 - 1
    assert rows["b"]["i"] == -(2**63)
    assert rows["c"]["obj"] == '{"x":1.25,"y":[1,"2",null]}'
    assert rows["d"]["arr"] == f"[{2**62},-1]"


def test_a_value_the_typed_decode_refuses_is_still_coerced_per_column(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    records = [upsert("t", "a", 1, i=3, n=1), upsert("t", "b", 2, i=4.0)]
    run({"destination_path": str(lake)}, [schema("t", **EVERY_KIND), *records, state(1)])
    (path,) = cdc_files(lake, "t")
    values = {row["_id"]: (row["i"], row["n"]) for row in pq.read_table(path).to_pylist()}
    assert values == {"a": (3, 1.0), "b": (4, None)}


def test_chunked_decoding_keeps_order_and_names_the_bad_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sinks, "DECODE_CHUNK_ROWS", 3)
    good = [upsert("t", f"k{n}", n, i=n) for n in range(8)]
    run({"destination_path": str(tmp_path / "ok")}, [schema("t", **EVERY_KIND), *good, state(1)])
    (path,) = cdc_files(tmp_path / "ok", "t")
    assert pq.read_table(path).column("i").to_pylist() == list(range(8))

    bad = [*good[:6], upsert("t", "odd", 6, i="six"), good[7]]
    with pytest.raises(RecordError, match="field 'i': expected integer, got 'six' \\(_id='odd'\\)"):
        run({"destination_path": str(tmp_path / "bad")}, [schema("t", **EVERY_KIND), *bad])
